"""Running one function in several threads at once, for the tests of concurrent writers."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_together(work: Callable[[], None], count: int) -> None:
    """Start ``count`` threads running ``work``, all before any is joined, and wait for every one."""
    threads = [threading.Thread(target=work) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
