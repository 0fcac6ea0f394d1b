"""The FastAPI application: routes, problem+json handlers, operations (request ids, metrics,
readiness; see servicekit/http/operations.py) and the batcher's lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway.api.epcis_binding import BindingHeadersMiddleware
from gateway.api.metrics import GatewayMetrics
from gateway.api.routes import (
    capture,
    keys,
    lots,
    masterdata,
    operations,
    participants,
    recalls,
    receipts,
    suspensions,
)
from gateway.service import GatewayService
from servicekit.http.bodies import BodyLimitMiddleware
from servicekit.http.docs_page import install_docs_page
from servicekit.http.home import home_router
from servicekit.http.openapi_problems import document_problems
from servicekit.http.operations import RequestMiddleware, probe_chain
from servicekit.http.problems import install_problem_handlers
from servicekit.http.ratelimits import LOCKED_OUT, RateLimits
from servicekit.interpreter import restore_recursion_limit


def create_app(
    service: GatewayService, *, run_batcher: bool = True, run_deliverer: bool = True
) -> FastAPI:
    """``run_deliverer``: deliver webhook notifications from this process (a thread), also when
    the batcher runs in a process of its own."""
    restore_recursion_limit()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if run_batcher:
            service.start()
        if run_deliverer:
            service.start_deliverer()
        try:
            yield
        finally:
            if run_batcher:
                service.batcher.stop()
            if run_deliverer:
                service.stop_deliverer()

    app = FastAPI(
        title="Medicine provenance gateway",
        version="0.1.0",
        description="GS1 EPCIS 2.0 capture, anchored on a permissioned EVM chain. Errors are "
        "RFC 9457 problem+json.",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs_page, without a CDN
        redoc_url=None,
    )
    install_docs_page(app)
    app.state.service = service
    app.state.rate_limits = RateLimits(
        auth_failures=service.settings.auth_failure_rate_limit,
        storage_url=service.settings.rate_limit_storage_url,
    )
    app.state.probe = probe_chain(service.chain)
    app.state.metrics = metrics = GatewayMetrics(service, app.state.probe)
    settings = service.settings
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_bytes,
        larger={
            "/capture": settings.max_capture_body_bytes,
            "/masterdata": settings.max_capture_body_bytes,
        },
    )
    app.add_middleware(  # the REST binding's GS1-* headers on every /capture answer
        BindingHeadersMiddleware, max_capture_bytes=settings.max_capture_body_bytes
    )
    app.add_middleware(RequestMiddleware, histogram=metrics.http)  # outermost: 413s logged too
    install_problem_handlers(app)
    for router in (
        capture.capture,
        receipts.events,
        receipts.declarations,
        masterdata.masterdata,
        receipts.batches,
        receipts.anchors,
        participants.participants,
        keys.keys,
        recalls.recalls,
        recalls.notifications,
        suspensions.suspensions,
        lots.lots,
        lots.codes,
    ):
        app.include_router(router, responses=LOCKED_OUT)
    app.include_router(operations.health)
    app.include_router(home_router("gateway", "EPCIS 2.0 capture, custody rules, anchoring."))
    document_problems(app)  # the OpenAPI document: every refusal is problem+json
    return app
