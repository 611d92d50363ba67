"""OpenAPI for bodies a route reads itself, as raw bytes (avatars, greetings).

Those routes stream the body to stop reading at their size limit, so FastAPI has no parameter to
describe it; without this the body would be discoverable only through errors.
"""

from __future__ import annotations

from typing import Any


def binary_body(*media_types: str, description: str) -> dict[str, Any]:
    """`openapi_extra` declaring a required raw body of one of `media_types`."""
    schema = {"type": "string", "format": "binary"}
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {media_type: {"schema": schema} for media_type in media_types},
        }
    }
