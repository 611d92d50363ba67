"""The browser front ends, served by the node itself (DESIGN §9): no separate web server for one
node.

Vite builds each front end into `<web_dist>/<name>/` with the base `/<name>/`: an `index.html`
and content-hashed files under `assets/`. One mechanism serves every such site (the console at
`/console/` now, the staff app at `/app/` later: one more entry in `SITES`):

- `assets/…` files are named by their content hash, so they never change under one name:
  browsers may keep them forever (`immutable`). A missing one is a 404, never `index.html`: a
  stale page asking for last build's chunk must fail loudly, not parse HTML as JavaScript.
- `index.html` names the current build's assets, so it is revalidated on every load
  (`no-cache`), and a new build reaches people on their next visit.
- Any other path that is not a file is the front end's own route (history mode: `/console/users`)
  and gets `index.html`, whose router then shows the page.
- `/<name>` redirects to `/<name>/`, so the page's relative URLs resolve under its base.

Only files inside the site's directory are reachable: a path with `..`, a hidden part
(`.vite/manifest.json`), a NUL or a backslash is refused before the file system is asked, and
the file found (symlinks resolved) must still lie inside the directory.

A node whose front end was not built still starts: it logs one clear line, and the site's
pages answer 503 with a short page saying how to build it. The check is made per request (one
`stat`), so building while the node runs needs no restart.
"""

from __future__ import annotations

import logging
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

log = logging.getLogger(__name__)

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
ASSETS_DIR = "assets"
COMMON_HEADERS = {"X-Content-Type-Options": "nosniff"}
PAGE_HEADERS = {
    **COMMON_HEADERS,
    "Cache-Control": REVALIDATE,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
BUILD_HINT = "make web"

#: Types a built front end holds, fixed here rather than left to the host's mime.types (a
#: module script served as text/plain is refused by the browser).
MEDIA_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".wasm": "application/wasm",
    ".txt": "text/plain",
}


@dataclass(frozen=True)
class StaticSite:
    """One built front end: `<dist>/<name>/` served at `/<name>/`."""

    name: str  # "console"
    title: str  # for the page shown while it is not built
    dist: Path  # the whole build's directory (`Settings.effective_web_dist`)

    @property
    def prefix(self) -> str:
        return f"/{self.name}"

    @property
    def root(self) -> Path:
        return self.dist / self.name

    @property
    def index(self) -> Path:
        return self.root / "index.html"

    def built(self) -> bool:
        return self.index.is_file()

    def find(self, path: str) -> Path | None:
        """The file `path` (relative to the site, as decoded from the URL) names inside the
        site's directory, or None: not there, not a regular file, or not allowed."""
        if "\x00" in path or "\\" in path:
            return None
        parts = [part for part in path.split("/") if part]
        if not parts or any(part.startswith(".") for part in parts):
            return None  # dot parts (this directory, its parent) and hidden files alike
        root = self.root.resolve()
        try:
            found = root.joinpath(*parts).resolve(strict=True)
        except (OSError, RuntimeError):  # missing, unreadable, a symlink loop
            return None
        if not found.is_relative_to(root) or not found.is_file():
            return None
        return found


def media_type(path: Path) -> str:
    known = MEDIA_TYPES.get(path.suffix.lower())
    if known is not None:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def _not_built(site: StaticSite) -> HTMLResponse:
    body = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{site.title}</title></head>
<body>
<h1>{site.title}</h1>
<p>网页前端尚未构建：请在源码目录运行 <code>{BUILD_HINT}</code>，然后刷新本页。</p>
<p>The web front end was not built: run <code>{BUILD_HINT}</code> in the source checkout, then
reload this page.</p>
<p>The API is available meanwhile: <a href="/api/docs">/api/docs</a>.</p>
</body></html>
"""
    return HTMLResponse(
        body, status_code=503, headers={**COMMON_HEADERS, "Cache-Control": "no-store"}
    )


def _file(request: Request, path: Path, headers: dict[str, str]) -> Response:
    """The file, or 304 when the browser's copy is current (`If-None-Match` names its ETag):
    how a `no-cache` page is revalidated without sending it again."""
    try:
        stat = path.stat()  # given, so the ETag is made now (FileResponse would stat later)
    except OSError as error:  # removed since it was found: a build replaced meanwhile
        raise HTTPException(404) from error
    response = FileResponse(path, media_type=media_type(path), headers=headers, stat_result=stat)
    etag = response.headers.get("etag")
    asked = request.headers.get("if-none-match")
    if etag and asked and etag in {tag.strip().removeprefix("W/") for tag in asked.split(",")}:
        kept = {k: v for k, v in response.headers.items() if k in ("etag", "cache-control")}
        return Response(status_code=304, headers={**kept, **COMMON_HEADERS})
    return response


def site_router(site: StaticSite) -> APIRouter:
    """The routes of one site; kept out of the OpenAPI document (they are not API operations)."""
    router = APIRouter(include_in_schema=False)

    @router.api_route(site.prefix, methods=["GET", "HEAD"])
    async def to_base(request: Request) -> Response:
        query = request.url.query
        return RedirectResponse(site.prefix + "/" + (f"?{query}" if query else ""), 308)

    @router.api_route(site.prefix + "/{path:path}", methods=["GET", "HEAD"])
    async def serve(path: str, request: Request) -> Response:
        if not site.built():
            return _not_built(site)
        found = site.find(path)
        if path.split("/", 1)[0] == ASSETS_DIR:
            if found is None:
                raise HTTPException(404)
            return _file(request, found, {**COMMON_HEADERS, "Cache-Control": IMMUTABLE})
        if found is None:
            found = site.index  # one of the front end's own routes: its router shows the page
        return _file(request, found, PAGE_HEADERS)

    return router


def sites(dist: Path) -> tuple[StaticSite, ...]:
    """The front ends a node serves from the build in `dist`."""
    return (StaticSite("console", "云总机管理后台 · Zongji console", dist),)


def install_sites(app: FastAPI, dist: Path) -> tuple[StaticSite, ...]:
    """Serve every front end of `dist` from `app` (after the API's routes)."""
    served = sites(dist)
    for site in served:
        app.include_router(site_router(site))
    app.state.sites = served
    return served


def announce(served: tuple[StaticSite, ...], base_url: str) -> None:
    """One line per front end when the node starts: where it is, or that it was not built."""
    for site in served:
        if site.built():
            log.info("web %s at %s%s/", site.name, base_url, site.prefix)
        else:
            log.warning(
                "the web %s was not built: run `%s` (looked for %s); %s%s/ explains this",
                site.name,
                BUILD_HINT,
                site.index,
                base_url,
                site.prefix,
            )
