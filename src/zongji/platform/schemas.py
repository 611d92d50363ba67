"""The base of every request model: what a client sends is taken as it is typed, never coerced.

Pydantic's default (lax) mode turns `"yes"` into `true`, `"5"` into 5 and `5.0` into 5: a client
with a bug then changes a setting it never meant to, silently. Plain `strict=True` goes too far the
other way: FastAPI validates the already-decoded JSON body in Python mode, where strict refuses
the ISO strings JSON must use for dates, times, UUIDs and enum values. So the rule here is JSON's
own: the JSON scalar types are exact (a boolean is `true`/`false`, an integer is an integer, a
string is a string; an integer is accepted where a number is expected), while types JSON has no
literal for are parsed from their string form as before. It is applied to the model's core schema
once, when the class is built, so it costs nothing per request.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic_core import CoreSchema

EXACT_TYPES = frozenset({"bool", "int", "float", "str"})
"""Core-schema types whose input must already have the JSON type (strict validation)."""


def _exact_scalars(schema: Any) -> None:
    if isinstance(schema, dict):
        if schema.get("type") in EXACT_TYPES:
            schema["strict"] = True
        for key, value in schema.items():
            if key not in ("metadata", "serialization"):
                _exact_scalars(value)
    elif isinstance(schema, list):
        for item in schema:
            _exact_scalars(item)


class StrictModel(BaseModel):
    """A request body: unknown fields are refused, JSON scalar types are exact."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        schema = handler(source)
        _exact_scalars(schema)
        return schema


class Input(StrictModel):
    """A request body whose strings are trimmed (names, numbers, codes typed by people)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
