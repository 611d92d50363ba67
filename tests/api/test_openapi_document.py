"""The API documents itself (item 22): every operation says what it does, and every operation
that reads a body declares it, so nothing is discoverable only through 422s."""

from __future__ import annotations

from typing import Any

from zongji.api.app import create_app
from zongji.services import Services

WRITES = ("post", "put", "patch")
NO_BODY = {
    ("post", "/api/v1/auth/logout"),
    ("post", "/api/v1/auth/deregister"),
    ("post", "/api/v1/directory/users/{user_id}/invite"),
    ("post", "/api/v1/me/voicemail/{message_id}/heard"),
}
"""Writes whose whole request is the path and the token: deliberately without a body."""


def _operations(services: Services) -> list[tuple[str, str, dict[str, Any]]]:
    document = create_app(services).openapi()
    return [
        (method, path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def test_every_operation_has_a_description(services: Services) -> None:
    operations = _operations(services)
    assert len(operations) > 90
    missing = [f"{m.upper()} {p}" for m, p, op in operations if not op.get("description")]
    assert missing == []


def test_every_write_declares_its_body(services: Services) -> None:
    undeclared = [
        f"{m.upper()} {p}"
        for m, p, op in _operations(services)
        if m in WRITES and (m, p) not in NO_BODY and "requestBody" not in op
    ]
    assert undeclared == []


def test_uploads_declare_their_media_types(services: Services) -> None:
    found = {(m, p): op for m, p, op in _operations(services)}
    for key, media in [
        (("put", "/api/v1/directory/me/avatar"), "image/png"),
        (("put", "/api/v1/directory/users/{user_id}/avatar"), "image/jpeg"),
        (("put", "/api/v1/me/voicemail/greeting"), "audio/wav"),
        (("post", "/api/v1/directory/import"), "multipart/form-data"),
        (("post", "/api/v1/me/contacts/import"), "multipart/form-data"),
    ]:
        body = found[key]["requestBody"]
        assert body["required"] is True, key
        assert media in body["content"], key
