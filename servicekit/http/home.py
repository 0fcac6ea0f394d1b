"""``GET /``: what this service is and where to go, for a person who opens its address (an HTML
page with links when a browser asks for HTML) or a script (JSON). Both services mount it."""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from servicekit.http.bodies import StrictJSONRoute

#: Where each link points, on every service; the dashboard is null where no pages are mounted
#: (the gateway; an indexer app without ``dashboard.app.mount``).
LINKS: dict[str, str | None] = {
    "docs": "/docs",
    "openapi": "/openapi.json",
    "health": "/healthz",
    "ready": "/readyz",
    "metrics": "/metrics",
    "dashboard": None,
}


def home_router(service: str, summary: str) -> APIRouter:
    """``GET /`` naming ``service`` (``gateway``, ``indexer``) with :data:`LINKS`."""
    router = APIRouter(tags=["operations"], route_class=StrictJSONRoute)

    @router.get("/", summary="What this service is, and links (no key needed)")
    def home(request: Request) -> Response:
        links = getattr(request.app.state, "home_links", LINKS)  # the pages, where mounted
        body: dict[str, Any] = {"service": service, "summary": summary, "links": links}
        if prefers_html(request.headers.get("accept", "")):
            return HTMLResponse(_page(body))
        return JSONResponse(body)

    return router


def prefers_html(accept: str) -> bool:
    """A browser's Accept names text/html before any JSON type."""
    kinds = [part.split(";")[0].strip() for part in accept.split(",")]
    if "text/html" not in kinds:
        return False
    json_at = [i for i, k in enumerate(kinds) if k in ("application/json", "*/*")]
    return not json_at or kinds.index("text/html") < json_at[0]


def _page(body: dict[str, Any]) -> str:
    items = "".join(
        f'<li><a href="{escape(href)}">{escape(name)}</a> <code>{escape(href)}</code></li>'
        if href
        else f"<li>{escape(name)}: not built yet</li>"
        for name, href in body["links"].items()
    )
    title = f"Medicine provenance {escape(body['service'])}"
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>"
        f"<h1>{title}</h1><p>{escape(body['summary'])}</p><ul>{items}</ul></html>"
    )
