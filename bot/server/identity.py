"""Who a request comes from (for the rate limit), and which language to answer its errors in.

A client is its API key when it sends the right one, else its address. The address is the
connection's peer, unless that peer is a proxy the operator trusts (`forwarded_allow_ips`):
then it is the last address in `X-Forwarded-For` that no trusted proxy added. A header sent by
anyone else is ignored, so a client cannot take a fresh budget by inventing addresses. IPv6
clients count per /64, the block one subscriber usually holds.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Mapping

from pydantic import SecretStr

from bot.answering.conversation import language_of
from bot.core.errors import UserError
from bot.core.text import has_cjk

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientIdentity:
    def __init__(self, trusted_proxies: str, api_key: SecretStr | None = None) -> None:
        self.trust_all = trusted_proxies.strip() == "*"
        self.networks: list[Network] = []
        self.literals: set[str] = set()  # non-IP peers, e.g. a unix socket's name
        for raw in trusted_proxies.split(","):
            item = raw.strip()
            if not item or item == "*":
                continue
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                if "/" in item or item.replace(".", "").isdigit():
                    raise UserError(f"forwarded_allow_ips: {item!r} is not an IP address or network") from None
                self.literals.add(item)
        self._key = api_key.get_secret_value().encode() if api_key else None

    def trusted(self, host: str) -> bool:
        if self.trust_all or host in self.literals:
            return True
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def address(self, peer: str | None, forwarded_for: str | None) -> str:
        """The client's address: the peer, or what trusted proxies say the client was."""
        host = peer or "unknown"
        if not forwarded_for or not self.trusted(host):
            return host
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        # Each proxy appends the address it saw: read from the right, past the trusted ones.
        for hop in reversed(hops):
            if not self.trusted(hop):
                return hop
        return hops[0] if hops else host

    def of(self, peer: str | None, headers: Mapping[str, str]) -> str:
        """The rate limit's key for a request: `key:<digest>` or `ip:<address or /64>`."""
        token = _bearer(headers.get("authorization", ""))
        if token and self._key is not None and hmac.compare_digest(token.encode(), self._key):
            return "key:" + hashlib.sha256(token.encode()).hexdigest()[:16]
        return "ip:" + _block(self.address(peer, headers.get("x-forwarded-for")))


def _bearer(auth: str) -> str:
    return auth[7:].strip() if auth.lower().startswith("bearer ") else ""


def _block(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def request_language(question: str | None, accept_language: str | None) -> str:
    """`zh` or `en`: the question's language when there is one, else the browser's first choice."""
    if question and has_cjk(question):
        return language_of(question)
    if question and re.search(r"[A-Za-z]", question):
        return "en"
    best, weight = "en", -1.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and q > weight:
            best, weight = ("zh" if tag.lower().startswith("zh") else "en"), q
    return best
