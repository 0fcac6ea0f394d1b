"""Operations, shared by the gateway's and the indexer's apps: readiness, metrics, request ids.

- :func:`run_checks` runs a service's readiness checks side by side, each bounded by a deadline,
  so a stopped or hung node or database makes ``/readyz`` answer 503 quickly, never hang.
- :class:`RequestMiddleware` (pure ASGI) gives every request an id (``X-Request-ID`` if the
  client sent a sane one, else a new one), returns it in the response header, sets it in
  :data:`servicekit.logs.request_id` for every log record of the request, times the request into a
  histogram labelled by route template (never the raw path: bounded label values) and logs one
  ``provenance.http`` line per request.
- :func:`metrics_response` renders a registry in the Prometheus text format. Each app has its
  own :class:`~prometheus_client.CollectorRegistry` (tests build many apps in one process).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from sqlalchemy import Engine, text
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from web3 import Web3

from chain.client import Chain
from chain.deployment import Deployment
from servicekit.logs import accepted_request_id, new_request_id, request_id

#: Each readiness check (and the probe's JSON-RPC requests) gives up after this long.
PROBE_TIMEOUT_SECONDS = 2.0
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

http_log = logging.getLogger("provenance.http")

#: name -> a function that returns a short detail when the check passes and raises otherwise.
Checks = Mapping[str, Callable[[], str]]


@dataclass(frozen=True)
class CheckResult:
    """One readiness check. A failing ``degrading`` check leaves the service ready (200) but
    ``degraded``: it can serve, some of what it holds it cannot (see :func:`readiness_response`).
    ``evidence``: what the check found, as JSON (the integrity alarm's events)."""

    name: str
    ok: bool
    detail: str
    degrading: bool = False
    evidence: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "status": "ok" if self.ok else "failing",
            "detail": self.detail,
        }
        if self.evidence is not None:
            body["evidence"] = dict(self.evidence)
        return body


def run_checks(checks: Checks, timeout: float = PROBE_TIMEOUT_SECONDS + 0.5) -> list[CheckResult]:
    """Run every check in its own (daemon) thread; a check not done by ``timeout`` fails.

    A hung check's thread is left to finish on its own (its I/O has timeouts too).
    """
    results: dict[str, CheckResult] = {}
    lock = threading.Lock()

    def run(name: str, check: Callable[[], str]) -> None:
        try:
            result = CheckResult(name, True, check())
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            result = CheckResult(name, False, f"{type(exc).__name__}: {exc}"[:500])
        with lock:
            results[name] = result

    threads = [
        threading.Thread(target=run, args=(name, check), name=f"readyz-{name}", daemon=True)
        for name, check in checks.items()
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    with lock:
        return [
            results.get(name) or CheckResult(name, False, f"no answer within {timeout:g} s")
            for name in checks
        ]


def readiness_response(results: list[CheckResult]) -> JSONResponse:
    """200 with every check when all pass; 200 ``degraded`` naming the failing checks when only
    degrading ones fail; otherwise 503 problem+json naming the failing ones."""
    checks = [r.to_json() for r in results]
    failing = [r.name for r in results if not r.ok]
    if not failing:
        return JSONResponse({"status": "ready", "checks": checks})
    if all(r.ok or r.degrading for r in results):
        return JSONResponse(
            {"status": "degraded", "degraded": failing, "checks": checks},
            headers={"Cache-Control": "no-store"},
        )
    return JSONResponse(
        {
            "type": "urn:provenance:problem:not-ready",
            "title": "Not ready",
            "status": 503,
            "detail": "failing checks: " + ", ".join(failing),
            "failing": failing,
            "checks": checks,
        },
        status_code=503,
        media_type="application/problem+json",
        headers={"Retry-After": "5", "Cache-Control": "no-store"},
    )


def probe_chain(chain: Chain, timeout: float = PROBE_TIMEOUT_SECONDS) -> Chain:
    """A connection to the same node as ``chain`` for probes: short timeout, no retries.

    The service's own connection waits up to 30 s and retries, which is right for sending
    transactions and wrong for a probe. The in-process chain is returned as it is.
    """
    uri = getattr(chain.w3.provider, "endpoint_uri", None)
    if chain.kind != "json-rpc" or not uri:
        return chain
    provider = Web3.HTTPProvider(
        uri, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
    )
    return Chain(Web3(provider), kind=chain.kind, poll_interval=chain.poll_interval)


def contracts_check(chain: Chain, addresses: Mapping[str, str]) -> str:
    """Code at every address (eth_getCode non-empty), else ValueError naming the empty ones."""
    empty = [
        name
        for name, address in addresses.items()
        if not chain.w3.eth.get_code(Web3.to_checksum_address(address))
    ]
    if empty:
        raise ValueError("no contract code at " + ", ".join(f"{n} {addresses[n]}" for n in empty))
    return f"{len(addresses)} contracts deployed"


def metrics_response(registry: CollectorRegistry) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def http_histogram(prefix: str, registry: CollectorRegistry) -> Histogram:
    return Histogram(
        f"{prefix}_http_request_duration_seconds",
        "HTTP request latency by route template, method and status",
        ["method", "route", "status"],
        registry=registry,
        buckets=HTTP_BUCKETS,
    )


class RequestMiddleware:
    """Request ids, latency by route and one log line per request (see the module doc)."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for key, value in scope.get("headers", []):
            if key == b"x-request-id":
                incoming = accepted_request_id(value.decode("latin-1"))
                break
        rid = incoming or new_request_id()
        token = request_id.set(rid)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = str(scope.get("method", ""))
            self.histogram.labels(method=method, route=template, status=str(status)).observe(
                elapsed
            )
            http_log.info(
                "%s %s %d %.1f ms",
                method,
                template,
                status,
                elapsed * 1000,
                extra={
                    "method": method,
                    "route": template,
                    "path": scope.get("path", ""),
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                },
            )
            request_id.reset(token)


def database_check(engine: Engine) -> str:
    """``SELECT 1`` on a connection of the service's pool."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return f"{engine.dialect.name} answers"


def chain_check(chain: Chain) -> str:
    return f"chain {chain.chain_id}, block {chain.block_number}"


def deployment_addresses(deployment: Deployment) -> dict[str, str]:
    return {
        "participant_registry": deployment.participant_registry,
        "anchor_registry": deployment.anchor_registry,
        "recall_registry": deployment.recall_registry,
    }


def standard_checks(
    engine: Engine, chain: Chain, deployment: Deployment
) -> dict[str, Callable[[], str]]:
    """Database reachable, node reachable, the deployment's three contracts on it."""
    addresses = deployment_addresses(deployment)
    return {
        "database": lambda: database_check(engine),
        "chain": lambda: chain_check(chain),
        "contracts": lambda: contracts_check(chain, addresses),
    }
