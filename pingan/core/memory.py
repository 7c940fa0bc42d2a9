"""Long-lived objects and the garbage collector.

A process's zone index (tracking) and locate index (geo) are hundreds of thousands to millions of objects that
live as long as the process. CPython's cyclic collector walks every tracked object in a full collection, and
work that allocates a lot (a batch of fixes, a burst of requests) triggers full collections: a province-sized
batch spent a quarter of its time in them. :func:`keep` moves everything alive now out of the collector's sight
(``gc.freeze``): call it once such an index is built, and at start-up once Django is set up. Frozen objects are
still freed when nothing refers to them; only what they leave in reference cycles waits for the collector, so
``keep(replacing=True)``, after an index was replaced, first lets a collection see the frozen objects again.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()


def keep(*, replacing: bool = False) -> None:
    with _lock:
        if replacing:
            gc.unfreeze()
            gc.collect()
        gc.freeze()
