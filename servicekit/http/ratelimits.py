"""Rate limits per client address, shared by the gateway and the indexer (the `limits` library).

Two budgets, each a `limits` string such as ``10/second;300/minute`` (an empty string: no limit):

- ``check``: requests to the indexer's public pack check (``/check``), every answer counted
  (the public medicine finder ``/find`` and a complaint's status page count here too);
- ``reports``: what the public sends in (price complaints, adverse-reaction reports), each
  counted whether it is taken or refused;
- ``auth_failures``: failed authentications (a key sent, and refused). Once an address has used
  its budget, any request of it that carries a key is answered 429 before the key is looked at,
  until the window moves on; a request without a key is not counted (it guesses nothing).

Counts are kept by the sliding-window-counter strategy (two counters per address and limit, so
memory stays small whatever the budget) in the storage ``storage_url`` names: ``memory://`` by
default (per process), or a shared one (``redis://...``) when several processes serve one
address space. A client is its IP address, IPv6 clients by their /64 (one subscriber's whole
network, which costs an attacker nothing to rotate through). Behind a reverse proxy the address
is the proxy's unless the server is told to trust its ``X-Forwarded-For`` (uvicorn's
``--forwarded-allow-ips``). No HTTP here: the API dependencies raise :class:`RateLimitedError`,
which the problem table answers 429 with ``Retry-After``.
"""

from __future__ import annotations

import ipaddress
import math
import time
from typing import Final

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from medledger.errors import RateLimitedError

MEMORY: Final = "memory://"
#: The OpenAPI answers the budgets add: to every route that takes a key, and to the pack check.
LOCKED_OUT: Final[dict[int | str, dict[str, str]]] = {
    429: {"description": "Too many failed authentications from this address (Retry-After)"}
}
CHECKS_EXHAUSTED: Final[dict[int | str, dict[str, str]]] = {
    429: {"description": "Too many checks from this address without a key (Retry-After)"}
}
#: The key of a request whose client address is unknown (a test client, a Unix socket).
UNKNOWN_CLIENT: Final = "unknown"


def parse_limits(text: str) -> tuple[RateLimitItem, ...]:
    """``"10/second;300/minute"`` as `limits` items; ``""`` is no limit. ValueError if malformed."""
    text = text.strip()
    if not text:
        return ()
    return tuple(parse_many(text))


def client_key(host: str | None) -> str:
    """The address a budget is kept for: the IP, an IPv6 address's /64, else the host as given."""
    if not host:
        return UNKNOWN_CLIENT
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:100]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class RateLimits:
    """The budgets of one service, kept per client address."""

    def __init__(
        self,
        *,
        check: str = "",
        auth_failures: str = "",
        reports: str = "",
        storage_url: str = MEMORY,
    ) -> None:
        self.check = parse_limits(check)
        self.reports = parse_limits(reports)
        self.auth_failures = parse_limits(auth_failures)
        self._limiter = SlidingWindowCounterRateLimiter(storage_from_string(storage_url))

    def take_check(self, client: str) -> None:
        """Count one pack check of ``client``; RateLimitedError if its budget is used up."""
        refused = [item for item in self.check if not self._limiter.hit(item, "check", client)]
        if refused:
            raise self._refusal(refused, "check", client, "pack checks")

    def take_report(self, client: str) -> None:
        """Count one report (complaint, adverse reaction) of ``client``; RateLimitedError past
        its budget."""
        refused = [item for item in self.reports if not self._limiter.hit(item, "report", client)]
        if refused:
            raise self._refusal(refused, "report", client, "reports")

    def refuse_if_locked_out(self, client: str) -> None:
        """RateLimitedError if ``client`` has used up its failed-authentication budget."""
        self._refuse_if_exhausted(self.auth_failures, "auth", client, "failed authentications")

    def count_failure(self, client: str) -> None:
        """Count one failed authentication of ``client``."""
        for item in self.auth_failures:
            self._limiter.hit(item, "auth", client)

    def _refuse_if_exhausted(
        self, items: tuple[RateLimitItem, ...], scope: str, client: str, what: str
    ) -> None:
        exhausted = [item for item in items if not self._limiter.test(item, scope, client)]
        if exhausted:
            raise self._refusal(exhausted, scope, client, what)

    def _refusal(
        self, exhausted: list[RateLimitItem], scope: str, client: str, what: str
    ) -> RateLimitedError:
        now = time.time()
        wait = max(
            self._limiter.get_window_stats(item, scope, client).reset_time - now
            for item in exhausted
        )
        return RateLimitedError(
            f"too many {what} from this address (limit {exhausted[0]}); try again later",
            retry_after_seconds=max(1, math.ceil(wait)),
        )
