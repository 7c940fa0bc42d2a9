"""The ASGI application ``pingan serve`` runs under uvicorn: Django's WSGI handler on a fixed pool of threads.

Django's own ASGI handler runs each request in a thread of its own, made for it, and crosses between the
event loop and that thread for every middleware written for sync code and again for the view (about fifteen
crossings a request). Pingan's views and middleware are all sync, so that costs CPU and buys nothing; and a
thread per request means a database connection per request (on SQLite also a WAL checkpoint each time the
last one closes). ``a2wsgi.WSGIMiddleware`` hands the whole request to one of ``PINGAN_SERVE_THREADS``
long-lived threads (default 8 per process) in one crossing, so each thread keeps its connection and at most
that many requests per process are inside Django at once; the others wait in the event loop.
"""

from __future__ import annotations

import logging
import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pingan.settings")


def _application() -> Any:
    from django.core.wsgi import get_wsgi_application

    handler = get_wsgi_application()  # sets Django up
    from django.conf import settings

    try:
        from a2wsgi import WSGIMiddleware
    except ImportError:  # an environment installed before a2wsgi became a dependency
        from django.core.asgi import get_asgi_application

        logging.getLogger("pingan.serve").warning(
            "a2wsgi is not installed (pip install -e .): serving with Django's ASGI handler, a thread per request")
        return get_asgi_application()
    return WSGIMiddleware(handler, workers=int(settings.PINGAN_SERVE_THREADS))


application = _application()

from pingan.core import memory  # noqa: E402 (Django is set up above)

memory.keep()  # what start-up built lives as long as the process
