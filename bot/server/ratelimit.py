"""Per-client rate limits that spend on answers: 429 + Retry-After, in the asker's language.

Two token buckets per client (`identity.py` says who a client is):
- **answers**: a question that is answered spends one;
- **rejected**: a request refused by validation or by the injection guard, a wrong API key,
  and feedback spend one of a separate, larger budget. So a page whose widget sends garbage
  does not lock its visitor out of answers, while a flood of garbage is still stopped.

Memory is bounded: the least recently seen clients are forgotten past `max_clients` (a
forgotten client starts again with a full bucket, which errs on the side of answering).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from bot.answering.guard import is_injection
from bot.core.settings import Settings
from bot.server.identity import ClientIdentity, request_language

MESSAGES = {
    ("answers", "zh"): "提问太频繁：每个客户端每分钟最多 {n} 个问题，请 {s} 秒后再试。",
    ("answers", "en"): "too many questions from this client (limit {n} per minute); retry in {s} s",
    ("rejected", "zh"): "无效或被拒绝的请求太多：每个客户端每分钟最多 {n} 个，请 {s} 秒后再试。",
    ("rejected", "en"): "too many invalid or declined requests from this client (limit {n} per minute); retry in {s} s",
}


class RateLimited(Exception):
    def __init__(self, retry_after_s: int, message: str) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimiter:
    """A token bucket per key: `burst` at once, refilled at `per_minute`."""

    def __init__(self, per_minute: int, burst: int, max_clients: int = 10_000) -> None:
        self.per_minute = per_minute
        self.rate = per_minute / 60.0
        self.burst = max(1, burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, stamp)
        self._lock = threading.Lock()

    def take(self, client: str) -> int:
        """Takes one token for `client`: 0, or the seconds until one is there (nothing taken).
        per_minute == 0 turns the limit off."""
        if self.per_minute <= 0:
            return 0
        now = time.monotonic()
        with self._lock:
            tokens, stamp = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                return max(1, math.ceil((1.0 - tokens) / self.rate))
            self._buckets[client] = (tokens - 1.0, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return 0

    def give_back(self, client: str) -> None:
        """Returns a token taken for a request that then got no answer (the server was busy)."""
        with self._lock:
            if client in self._buckets:
                tokens, stamp = self._buckets[client]
                self._buckets[client] = (min(float(self.burst), tokens + 1.0), stamp)


class Admission:
    """Which client a request is from, and the budget it spends."""

    def __init__(self, settings: Settings) -> None:
        self.identity = ClientIdentity(settings.forwarded_allow_ips, settings.api_key)
        self.answers = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
        self.rejected = RateLimiter(settings.rate_limit_rejected_per_minute, settings.rate_limit_rejected_burst)

    def client(self, peer: str | None, headers: Mapping[str, str]) -> str:
        return self.identity.of(peer, headers)

    def question(self, client: str, question: str) -> Callable[[], None]:
        """Spends for a valid question: a declined one (the guard) from the rejected budget, any
        other from the answers budget. Returns what gives the token back if no answer follows."""
        if is_injection(question):
            self.reject(client, request_language(question, None))
            return lambda: None
        self._spend(self.answers, "answers", client, request_language(question, None))
        return lambda: self.answers.give_back(client)

    def reject(self, client: str, language: str) -> None:
        """Spends for a request that gets no answer; raises RateLimited past the budget."""
        self._spend(self.rejected, "rejected", client, language)

    @staticmethod
    def _spend(bucket: RateLimiter, name: str, client: str, language: str) -> None:
        wait = bucket.take(client)
        if wait:
            raise RateLimited(wait, MESSAGES[name, language].format(n=bucket.per_minute, s=wait))
