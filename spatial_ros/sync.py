"""Approximate-time synchronisation of several streams (ROS-free).

The policy of message_filters' ApproximateTimeSynchronizer, simplified: each stream keeps a short
queue of (stamp, item); whenever every stream has an item, the newest set whose stamps all lie
within ``slop`` seconds of each other is emitted, and everything up to it is dropped.
Items that can never be matched (older than an emitted set) are counted as dropped.
"""
from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["ApproximateSync"]


class ApproximateSync:
    """Match items of named streams by stamp.

    Args:
        streams: names of the streams that must all be present in a match.
        slop: largest allowed spread of the stamps in one match, in seconds.
        queue_size: items kept per stream.
        callback: called with ``{stream: item}`` and the match's newest stamp.
        time_jump: an item this much older (s) than the last match means time was reset
            (a bag looped): the queues start afresh instead of dropping everything after.
    """

    def __init__(self, *, streams: list[Hashable], slop: float, queue_size: int,
                 callback: Callable[[dict[Hashable, Any], float], None],
                 time_jump: float = 1.0) -> None:
        if slop < 0 or queue_size < 1 or not streams:
            raise ValueError(f"bad sync settings: streams={streams} slop={slop} "
                             f"queue_size={queue_size}")
        self._queues: dict[Hashable, deque[tuple[float, Any]]] = {
            s: deque(maxlen=queue_size) for s in streams}
        self._slop = slop
        self._callback = callback
        self._last_emitted = float("-inf")
        self.time_jump = time_jump
        self.dropped = 0
        self.out_of_order = 0
        self.time_resets = 0

    def add(self, stream: Hashable, stamp: float, item: Any) -> bool:
        """Add an item; returns True when it completed a match (the callback has run)."""
        queue = self._queues[stream]
        if self._last_emitted - stamp > self.time_jump:
            # time went back far (a bag looped, a simulator restarted): start afresh
            self.time_resets += 1
            for q in self._queues.values():
                q.clear()
            self._last_emitted = float("-inf")
        if stamp <= self._last_emitted:
            self.out_of_order += 1  # older than a set already emitted: can never match
            return False
        if queue and stamp < queue[-1][0]:
            self.out_of_order += 1
            items = sorted([*queue, (stamp, item)], key=lambda x: x[0])
            queue.clear()
            queue.extend(items)
        else:
            if len(queue) == queue.maxlen:
                self.dropped += 1
            queue.append((stamp, item))
        return self._try_match()

    def _try_match(self) -> bool:
        if any(not q for q in self._queues.values()):
            return False
        best = None
        names = list(self._queues)
        for combo in itertools.product(*(self._queues[n] for n in names)):
            stamps = [c[0] for c in combo]
            spread = max(stamps) - min(stamps)
            if spread <= self._slop and (best is None or max(stamps) > best[0]):
                best = (max(stamps), combo)
        if best is None:
            return False
        newest, combo = best
        for name, (stamp, _) in zip(names, combo):
            queue = self._queues[name]
            while queue and queue[0][0] <= stamp:
                if queue[0][0] < stamp:
                    self.dropped += 1
                queue.popleft()
        self._last_emitted = min(c[0] for c in combo)
        self._callback({n: c[1] for n, c in zip(names, combo)}, newest)
        return True
