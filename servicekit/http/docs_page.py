"""``GET /docs``: the OpenAPI page, with Swagger UI served by the service itself.

FastAPI's own page loads Swagger UI from a CDN (and ReDoc from another), so on a regulator's
air-gapped network it is blank. Here the assets are copies of npm's pinned ``swagger-ui-dist``
(scripts/vendor_web_assets.py; a test keeps them equal to npm's), the online validator badge is
off, and a Content-Security-Policy lets the page load nothing from anywhere but the service.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from servicekit.http.bodies import StrictJSONRoute

ASSETS_DIR = Path(__file__).parent / "static" / "swagger-ui"
ASSETS_PATH = "/docs/assets"

#: Swagger UI's start-up script is inline; everything it loads comes from this origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)


def install_docs_page(app: FastAPI) -> None:
    """Serve ``/docs`` and its assets; ``app`` was made with ``docs_url=None, redoc_url=None``."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title}: API"

    router = APIRouter(route_class=StrictJSONRoute)  # every route of ours, even without a body

    @router.get("/docs", include_in_schema=False)
    def docs_page() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
        page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return page

    app.include_router(router)
