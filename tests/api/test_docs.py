"""The interactive API page works without internet: everything it loads comes from the node."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx

EXPECTED_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class _LoadedUrls(HTMLParser):
    """The URLs a browser fetches for the page: scripts, style sheets and icons."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


def _same_origin(url: str) -> bool:
    return url.startswith("/") and not url.startswith("//")


async def test_api_page_loads_only_assets_the_node_serves(client: httpx.AsyncClient) -> None:
    page = await client.get("/api/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "SwaggerUIBundle(" in page.text

    parser = _LoadedUrls()
    parser.feed(page.text)
    assert len(parser.urls) == 3, parser.urls  # script, style sheet, icon
    assert all(_same_origin(url) for url in parser.urls), parser.urls
    assert not re.search(r"https?://", page.text), "the page names another origin"

    for url in parser.urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        expected = EXPECTED_TYPES[url[url.rindex(".") :]]
        assert asset.headers["content-type"].startswith(expected), (url, asset.headers)
        assert len(asset.content) > 1000, url
    script = next(url for url in parser.urls if url.endswith(".js"))
    assert "SwaggerUIBundle" in (await client.get(script)).text  # what the page calls

    (described,) = re.findall(r"url: '([^']+)'", page.text)
    assert _same_origin(described)
    document = await client.get(described)
    assert document.status_code == 200
    assert document.json()["info"]["title"].startswith("Zongji")


async def test_only_the_pages_own_assets_are_served(client: httpx.AsyncClient) -> None:
    for name in ("core.py", "..%2F__init__.py", "redoc.standalone.js", "missing.js"):
        r = await client.get(f"/api/docs/assets/{name}")
        assert r.status_code == 404, name
        assert r.headers["content-type"] == "application/problem+json"
