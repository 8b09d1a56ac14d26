"""Per-client rate limit: a token bucket per client address, answered with 429 + Retry-After.

Memory is bounded: the least recently seen clients are forgotten past `max_clients` (a
forgotten client starts again with a full bucket, which errs on the side of answering).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict


class RateLimited(Exception):
    def __init__(self, retry_after_s: int, per_minute: int) -> None:
        super().__init__(
            f"too many questions from this client (limit {per_minute} per minute); retry in {retry_after_s} s"
        )
        self.retry_after_s = retry_after_s


class RateLimiter:
    def __init__(self, per_minute: int, burst: int, max_clients: int = 10_000) -> None:
        self.per_minute = per_minute
        self.rate = per_minute / 60.0
        self.burst = max(1, burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, stamp)
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Takes one token for `client`, or raises RateLimited. per_minute == 0 turns it off."""
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, stamp = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                raise RateLimited(max(1, math.ceil((1.0 - tokens) / self.rate)), self.per_minute)
            self._buckets[client] = (tokens - 1.0, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
