"""A worker thread with a queue of one, for nodes whose work is slower than their input.

``submit`` hands an item over without blocking the executor; an item still waiting when the
next arrives is replaced (stale) and counted by the caller's ``on_stale``. ``handle`` runs on the
worker thread and must not raise (nodes wrap it so that a bad frame is logged and counted).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["LatestOnlyWorker"]


class LatestOnlyWorker:
    def __init__(self, name: str, handle: Callable[[Any], None],
                 on_stale: Callable[[], None]) -> None:
        self._handle, self._on_stale = handle, on_stale
        self._slot: Any = None
        self._cv = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Any) -> None:
        with self._cv:
            if self._slot is not None:
                self._on_stale()
            self._slot = item
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while self._slot is None and not self._stop:
                    self._cv.wait(0.5)
                if self._stop:
                    return
                item, self._slot = self._slot, None
            self._handle(item)

    def stop(self, timeout: float = 5.0) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)
