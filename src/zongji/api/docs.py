"""The interactive API page (`/api/docs`), served entirely by the node.

FastAPI's built-in page loads Swagger UI's script, style sheet and icon from public CDNs, so a
switchboard on a closed enterprise network (or a laptop offline) showed a blank page. Here the
same page points only at same-origin URLs under `/api/docs/assets/`, and those files come from
the `fastapi-offline` package, which ships the Swagger UI distribution. Only the three files
the page needs are served, each by name with its own content type: nothing else of the
package's directory is reachable. The page and its assets are public, like the OpenAPI
document they render (they carry no data); ReDoc is not offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

DOCS_PATH = "/api/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"
#: The assets change only with the installed package, so browsers may keep them a day.
ASSET_CACHE_CONTROL = "public, max-age=86400"


@dataclass(frozen=True, slots=True)
class Asset:
    """One file of the Swagger UI distribution that the page loads."""

    file_name: str
    media_type: str


SWAGGER_JS = Asset("swagger-ui-bundle.js", "text/javascript; charset=utf-8")
SWAGGER_CSS = Asset("swagger-ui.css", "text/css; charset=utf-8")
FAVICON = Asset("favicon.png", "image/png")
ASSETS = {asset.file_name: asset for asset in (SWAGGER_JS, SWAGGER_CSS, FAVICON)}


def asset_directory() -> Path:
    """Where the installed `fastapi-offline` keeps Swagger UI's files (a real directory: the
    package is installed unzipped). Fails at start-up, not on the first visit, if a file is
    missing, so a broken install is noticed when the node starts."""
    directory = Path(str(files("fastapi_offline") / "static"))
    missing = [name for name in ASSETS if not (directory / name).is_file()]
    if missing:
        raise RuntimeError(f"fastapi-offline is installed without {missing} in {directory}")
    return directory


def docs_router(openapi_url: str, title: str) -> APIRouter:
    """The page and its assets; kept out of the OpenAPI document (they are not API
    operations)."""
    directory = asset_directory()
    router = APIRouter(include_in_schema=False)

    @router.get(DOCS_PATH, response_class=HTMLResponse)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} — Swagger UI",
            swagger_js_url=f"{ASSETS_PATH}/{SWAGGER_JS.file_name}",
            swagger_css_url=f"{ASSETS_PATH}/{SWAGGER_CSS.file_name}",
            swagger_favicon_url=f"{ASSETS_PATH}/{FAVICON.file_name}",
            oauth2_redirect_url=None,  # bearer tokens are pasted in; there is no OAuth2 flow
        )

    @router.get(f"{ASSETS_PATH}/{{file_name}}")
    async def swagger_ui_asset(file_name: str) -> FileResponse:
        asset = ASSETS.get(file_name)
        if asset is None:
            raise HTTPException(404)
        return FileResponse(
            directory / asset.file_name,
            media_type=asset.media_type,
            headers={"Cache-Control": ASSET_CACHE_CONTROL},
        )

    return router


def install_docs(app: FastAPI) -> None:
    """Serve the interactive API page for `app`'s OpenAPI document from the node itself."""
    if app.openapi_url is None:
        raise ValueError("the API page needs the app's OpenAPI document")
    app.include_router(docs_router(app.openapi_url, app.title))
