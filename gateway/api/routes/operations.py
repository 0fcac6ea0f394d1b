"""Operations: liveness, readiness (database, chain and contracts; integrity) and metrics."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from chain.signer import Web3SignerClient
from gateway.api.deps import ServiceDep
from gateway.integrity import integrity_check
from servicekit.http.bodies import StrictJSONRoute
from servicekit.http.operations import (
    PROBE_TIMEOUT_SECONDS,
    metrics_response,
    readiness_response,
    run_checks,
    standard_checks,
)

health = APIRouter(tags=["operations"], route_class=StrictJSONRoute)


@health.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    """The process answers HTTP; nothing else is checked (see /readyz)."""
    return {"status": "ok"}


@health.get(
    "/readyz",
    summary="Readiness: database, chain and contracts; integrity",
    responses={503: {"description": "Not ready: the failing checks (problem+json)"}},
)
def readyz(request: Request, service: ServiceDep) -> JSONResponse:
    """200 when the database answers `SELECT 1`, the node gives its block number and the
    deployment's three contracts have code; otherwise 503 naming the failing checks. Each check
    gives up after about 2 s. The `integrity` check fails while served events (or batches)
    failed their last verification (409 `integrity`), naming them: the answer is then 200 with
    status `degraded` (docs/operations.md#integrity-alarm). With a remote signer, the `signer`
    check asks its `GET /upcheck`; failing, it too makes the answer `degraded` (capture goes
    on, anchoring waits for the signer)."""
    checks = standard_checks(service.engine, request.app.state.probe, service.ledger.deployment)
    remote = service.keys.remote
    if remote is not None:
        checks["signer"] = lambda: remote_signer_check(remote)
    results = [replace(r, degrading=True) if r.name == "signer" else r for r in run_checks(checks)]
    return readiness_response([*results, integrity_check(service.integrity_alarm.state())])


def remote_signer_check(remote: Web3SignerClient) -> str:
    if not remote.upcheck(timeout=PROBE_TIMEOUT_SECONDS):
        raise ConnectionError(f"the remote signer at {remote.url} does not answer /upcheck")
    return f"{remote.url} answers /upcheck"


@health.get(
    "/metrics", summary="Prometheus metrics (text format)", response_class=PlainTextResponse
)
def metrics(request: Request) -> Response:
    return metrics_response(request.app.state.metrics.registry)
