"""HTTP plumbing every context's routes share, and nothing else: where a request came from, how a
raw body is described in OpenAPI, and how a context's routes receive what they depend on.

It sits in `zongji.platform` (below the contexts) rather than in `zongji.api`, which is the
composition root: a context may import this, never the root (pyproject.toml, [tool.importlinter]).
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, FastAPI, Request

T = TypeVar("T")


class Provided(Generic[T]):
    """A FastAPI dependency whose value the composition root provides when it builds the app.

    A context declares what its routes need (`directory_api = Provided[DirectoryApi]("…")`) and
    its routes depend on it (`Depends(directory_api)`); `zongji.api.app` calls `provide` with an
    object built from the node's services. The context so never sees the composition root, and its
    routes can reach only what it declared.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def provide(self, app: FastAPI, value: T) -> None:
        setattr(app.state, self._key, value)

    def __call__(self, request: Request) -> T:
        try:
            value: T = getattr(request.app.state, self._key)
        except AttributeError:
            raise RuntimeError(f"{self.name} was not provided by the composition root") from None
        return value

    @property
    def _key(self) -> str:
        return f"provided:{self.name}"


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


AddressDep = Annotated[str | None, Depends(client_address)]
"""The caller's address, for the operation log and rate limits."""


def binary_body(*media_types: str, description: str) -> dict[str, Any]:
    """`openapi_extra` declaring a required raw body of one of `media_types`.

    Routes that read their body as raw bytes (avatars, greetings) stream it to stop at their size
    limit, so FastAPI has no parameter to describe it; without this the body would be
    discoverable only through errors."""
    schema = {"type": "string", "format": "binary"}
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {media_type: {"schema": schema} for media_type in media_types},
        }
    }
