"""The FastAPI application of the indexer's query API (read-only; OpenAPI at /docs)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from indexer.api import (
    adverse_routes,
    alert_stream_routes,
    epcis_routes,
    keys,
    query_routes,
    report_routes,
    routes,
    stream_routes,
    subscription_routes,
)
from indexer.api.metrics import IndexerMetrics
from indexer.service import IndexerService
from servicekit.http.bodies import BodyLimitMiddleware
from servicekit.http.docs_page import install_docs_page
from servicekit.http.home import home_router
from servicekit.http.openapi_problems import document_problems
from servicekit.http.operations import RequestMiddleware, probe_chain
from servicekit.http.problems import install_problem_handlers
from servicekit.http.ratelimits import CHECKS_EXHAUSTED, LOCKED_OUT, RateLimits
from servicekit.interpreter import restore_recursion_limit


def create_app(service: IndexerService, *, follow: bool = True) -> FastAPI:
    """The app over ``service``; ``follow`` runs the follower while the app runs (not tests)."""
    restore_recursion_limit()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if follow:
            service.start()
        yield

    app = FastAPI(
        title="Medicine provenance indexer",
        version="0.1.0",
        description="Read-only queries over the verified mirror of the chain: traces from "
        "pack to API lot, state, stock, recall scope, alerts, origin bundles and receipts, and "
        "the public pack check. Every endpoint but /check, /healthz, /readyz and /metrics "
        "needs a reader key (`Authorization: Bearer ik_...`, role regulator or auditor). "
        "/check answers anyone, within a budget per client address (429 past it), and gives "
        "the holder's identity and location to a reader key only. "
        "Errors are RFC 9457 problem+json.",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs_page, without a CDN
        redoc_url=None,
    )
    install_docs_page(app)
    app.state.service = service
    app.state.rate_limits = RateLimits(
        check=service.settings.check_rate_limit,
        auth_failures=service.settings.auth_failure_rate_limit,
        reports=service.settings.report_rate_limit,
        storage_url=service.settings.rate_limit_storage_url,
    )
    app.state.probe = probe_chain(service.chain)
    app.state.metrics = metrics = IndexerMetrics(service, app.state.probe)
    # paths with larger bodies (the web pages' complaint form, mounted later) add theirs here
    larger_bodies: dict[str, int] = {}
    app.state.larger_bodies = larger_bodies
    app.add_middleware(
        BodyLimitMiddleware, limit=service.settings.max_body_bytes, larger=larger_bodies
    )
    app.add_middleware(RequestMiddleware, histogram=metrics.http)  # outermost: 413s logged too
    install_problem_handlers(app)
    for router in (
        routes.trace,
        routes.epc,
        routes.stock,
        routes.recall,
        routes.suspension,
        routes.registry,
        routes.origin,
        routes.receipts,
        routes.exports,
        routes.masterdata,
        epcis_routes.epcis,
        query_routes.queries,
        subscription_routes.subscribed,
        stream_routes.streams,
        alert_stream_routes.alert_streams,
        keys.keys,
        adverse_routes.adverse,
        report_routes.reports,
    ):
        app.include_router(router, responses=LOCKED_OUT)
    app.include_router(routes.check, responses=CHECKS_EXHAUSTED)
    app.include_router(routes.health)
    app.include_router(home_router("indexer", "Queries over the verified chain; pack check."))
    document_problems(app)  # the OpenAPI document: every refusal is problem+json
    return app
