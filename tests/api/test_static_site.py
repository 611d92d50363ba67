"""The node serves the built web console at /console/ over real HTTP: caching by kind of file,
history fallback, no way out of the build directory, and a clear page when nothing was built."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from zongji.node import Node
from zongji.services import build_services

INDEX = "<!doctype html><html><head><script type=module src=/console/assets/index-3f9a.js>"
SCRIPT = "console.log('zongji console')\n"
STYLE = "body{margin:0}\n"
UP = b"." * 2  # the parent directory, sent as is


def fake_build(dist: Path) -> Path:
    """What `vite build` leaves for base /console/: index.html, hashed assets, a public file."""
    console = dist / "console"
    (console / "assets").mkdir(parents=True)
    (console / "index.html").write_text(INDEX)
    (console / "assets" / "index-3f9a.js").write_text(SCRIPT)
    (console / "assets" / "index-77c1.css").write_text(STYLE)
    (console / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (console / ".vite").mkdir()
    (console / ".vite" / "manifest.json").write_text("{}")
    (dist / "secret.txt").write_text("outside the console")
    return dist


async def running_node(database_url: str, data: Path, dist: Path) -> Node:
    settings = make_settings(
        database_url,
        data,
        http_port=0,
        sip_enabled=False,
        migrate_on_start=False,
        web_dist=dist,
    )
    node = Node(settings, build_services(settings))
    await node.start()
    return node


@pytest.fixture
async def built(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    dist = fake_build(tmp_path / "dist")
    node = await running_node(database_url, tmp_path / "var", dist)
    try:
        async with httpx.AsyncClient(base_url=node.http_base_url, timeout=10) as http:
            yield http
    finally:
        await node.stop()


async def test_hashed_assets_are_cached_forever_and_the_page_never(
    built: httpx.AsyncClient,
) -> None:
    script = await built.get("/console/assets/index-3f9a.js")
    assert script.status_code == 200
    assert script.text == SCRIPT
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert script.headers["x-content-type-options"] == "nosniff"
    style = await built.get("/console/assets/index-77c1.css")
    assert style.headers["content-type"].startswith("text/css")
    assert style.headers["cache-control"] == "public, max-age=31536000, immutable"

    page = await built.get("/console/")
    assert page.status_code == 200
    assert page.text == INDEX
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    # A file of the build outside assets/ is not hashed: revalidated like the page.
    icon = await built.get("/console/favicon.svg")
    assert icon.headers["content-type"] == "image/svg+xml"
    assert icon.headers["cache-control"] == "no-cache"
    # The page's validators let a browser revalidate cheaply.
    again = await built.get("/console/", headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304
    head = await built.head("/console/assets/index-3f9a.js")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(SCRIPT))


async def test_the_front_ends_routes_get_the_page(built: httpx.AsyncClient) -> None:
    for path in ("/console/login", "/console/directory/users", "/console/calls/019x?tab=2"):
        r = await built.get(path)
        assert r.status_code == 200, path
        assert r.text == INDEX, path
        assert r.headers["cache-control"] == "no-cache", path
    r = await built.get("/console/index.html")
    assert r.text == INDEX
    assert r.headers["cache-control"] == "no-cache"


async def test_a_missing_asset_is_404_never_the_page(built: httpx.AsyncClient) -> None:
    for path in ("/console/assets/index-0000.js", "/console/assets/", "/console/assets"):
        r = await built.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/problem+json", path
        assert r.json()["code"] == "not_found"


async def test_console_without_its_slash_is_redirected(built: httpx.AsyncClient) -> None:
    r = await built.get("/console")
    assert r.status_code == 308
    assert r.headers["location"] == "/console/"
    r = await built.get("/console?lang=en")
    assert r.headers["location"] == "/console/?lang=en"
    r = await built.get("/console", follow_redirects=True)
    assert r.text == INDEX


async def raw_get(base_url: httpx.URL, target: bytes) -> tuple[int, bytes]:
    """GET with the request target sent byte for byte (an HTTP client would tidy `..` away)."""
    reader, writer = await asyncio.open_connection(base_url.host, base_url.port)
    writer.write(b"GET " + target + b" HTTP/1.1\r\nHost: zongji\r\nConnection: close\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def test_nothing_outside_the_build_is_reachable(built: httpx.AsyncClient) -> None:
    for target in (
        b"/console/" + UP + b"/secret.txt",
        b"/console/%2e%2e/secret.txt",
        b"/console/assets/" + UP + b"/" + UP + b"/secret.txt",
        b"/console/assets/%2e%2e/%2e%2e/secret.txt",
        b"/console/assets/..%2f..%2fsecret.txt",
        b"/console/%2e%2e%5csecret.txt",
        b"/console/.vite/manifest.json",
        b"/console/assets/%00.js",
    ):
        status, body = await raw_get(built.base_url, target)
        assert b"outside the console" not in body, target
        assert body != b"{}", target
        if target.startswith(b"/console/assets/"):
            assert status == 404, target
        else:
            assert (status, body) == (200, INDEX.encode()), target  # a route: the page


async def test_only_reading_methods(built: httpx.AsyncClient) -> None:
    r = await built.post("/console/", content=b"x")
    assert r.status_code == 405
    assert r.headers["content-type"] == "application/problem+json"


async def test_a_symlink_out_of_the_build_is_not_followed(
    database_url: str, tmp_path: Path
) -> None:
    dist = fake_build(tmp_path / "dist")
    (dist / "console" / "assets" / "leak.js").symlink_to(dist / "secret.txt")
    node = await running_node(database_url, tmp_path / "var", dist)
    try:
        async with httpx.AsyncClient(base_url=node.http_base_url) as http:
            r = await http.get("/console/assets/leak.js")
            assert r.status_code == 404
    finally:
        await node.stop()


async def test_a_node_without_a_build_starts_and_says_how_to_make_one(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="zongji.api.static_site")
    dist = tmp_path / "never-built"
    node = await running_node(database_url, tmp_path / "var", dist)
    try:
        async with httpx.AsyncClient(base_url=node.http_base_url) as http:
            assert (await http.get("/healthz")).status_code == 200
            for path in ("/console/", "/console/login", "/console/assets/index-3f9a.js"):
                r = await http.get(path)
                assert r.status_code == 503, path
                assert r.headers["content-type"].startswith("text/html"), path
                assert "make web" in r.text, path
                assert r.headers["cache-control"] == "no-store"
            # Built while the node runs: served at once, no restart.
            fake_build(dist)
            r = await http.get("/console/")
            assert r.status_code == 200
            assert r.text == INDEX
    finally:
        await node.stop()
    [line] = [r for r in caplog.records if r.name == "zongji.api.static_site"]
    assert line.levelno == logging.WARNING
    assert "was not built: run `make web`" in line.getMessage()
    assert str(dist / "console" / "index.html") in line.getMessage()
