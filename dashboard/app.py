"""``mount``: the web pages on the indexer's app. A browser's ``GET /check`` (Accept prefers
text/html) is answered by the page; every other client keeps the JSON API at the same URL."""

from __future__ import annotations

import mimetypes

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from dashboard import (
    adverse_page,
    adverse_reports_page,
    alerts_page,
    complaint_page,
    complaints_page,
    finder_page,
    lot_page,
    public_check,
    registry_pages,
    report_page,
    signin,
    stock_page,
    trace_page,
    triage_api,
)
from dashboard.overview import OverviewCache
from dashboard.recall_gateway import RecallGateway
from dashboard.region_map import RegionMap
from dashboard.render import STATIC_DIR, STATIC_PATH
from servicekit.http.home import LINKS, prefers_html

#: Public URL -> the page's own route, for a browser.
PAGES = {"/check": public_check.PAGE_PATH}


def mount(
    app: FastAPI,
    *,
    node_url: str | None = None,
    recalls: RecallGateway | None = None,
    region_map: RegionMap | None = None,
    refresh_seconds: float = 10.0,
) -> None:
    """Add the pages to the indexer's ``app`` (before it serves). ``node_url``: the chain node's
    JSON-RPC URL as a browser reaches it, for the trace's in-browser receipt check (none: the
    page says it cannot check there). ``recalls``: the gateway with the regulator's key, for the
    lot page's Recall and Release buttons (none: the page says recalls are not configured).
    ``region_map``: the regions' shapes the stock page draws (none: bar charts only).
    ``refresh_seconds``: how often an open overview fetches its numbers again."""
    app.state.dashboard_node_url = node_url
    app.state.overview_cache = OverviewCache()
    app.state.overview_refresh_seconds = refresh_seconds
    app.state.dashboard_recalls = recalls
    app.state.dashboard_region_map = region_map
    app.include_router(public_check.router)
    app.include_router(finder_page.router)
    app.include_router(complaint_page.router)
    app.include_router(complaints_page.router)
    app.include_router(adverse_page.router)
    app.include_router(adverse_reports_page.router)
    # the complaint form carries a photo: its own body cap (the indexer's is for JSON)
    receipt_cap: int = app.state.service.settings.receipt_max_bytes
    app.state.larger_bodies[complaint_page.PATH] = complaint_page.body_limit(receipt_cap)
    app.include_router(signin.router)
    app.include_router(trace_page.router)
    app.include_router(registry_pages.router)
    app.include_router(alerts_page.router)
    app.include_router(lot_page.router)
    app.include_router(stock_page.router)
    app.include_router(report_page.router)
    app.include_router(triage_api.router)
    app.add_exception_handler(signin.NotSignedIn, _to_login)
    app.state.home_links = {**LINKS, "dashboard": signin.HOME}
    # the scanner's WebAssembly must be application/wasm (streaming compile, nosniff) even on a
    # host whose mime.types lacks it
    mimetypes.add_type("application/wasm", ".wasm")
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="pages-static")
    app.add_middleware(PagesForBrowsers)


def _to_login(_request: Request, _exc: Exception) -> Response:
    return RedirectResponse(signin.LOGIN, status_code=303)


class PagesForBrowsers:
    """Routes a browser's GET of a public URL in :data:`PAGES` to its page; anything else
    passes through unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] not in PAGES:
            await self.app(scope, receive, send)
            return
        accept = dict(scope["headers"]).get(b"accept", b"").decode("latin-1")
        if not prefers_html(accept):
            await self.app(scope, receive, send)
            return
        page = PAGES[scope["path"]]
        await self.app({**scope, "path": page, "raw_path": page.encode()}, receive, send)
