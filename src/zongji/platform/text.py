"""Visible text: what people see is what we store.

Text pasted from web pages, chat apps and HR systems carries characters nobody can see: zero-width
spaces and joiners (U+200B–U+200D), the word joiner (U+2060), a byte-order mark (U+FEFF) in the
middle of a cell, bidirectional marks, soft hyphens and control characters. Left in a name they make
`张三` and `张\u200b三` two different people that look the same, break search and sorting, and can
hide a name behind another. They are all in Unicode's *control* (Cc) and *format* (Cf) categories,
so that is what is removed; other whitespace (tabs, no-break and ideographic spaces, line breaks)
becomes one ordinary space, as a person reading the text would take it.
"""

from __future__ import annotations

import unicodedata

_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf"})


def visible_text(raw: str) -> str:
    """`raw` without invisible characters, its whitespace runs as single spaces, trimmed."""
    kept = (
        " " if char.isspace() else char
        for char in raw
        if char.isspace() or unicodedata.category(char) not in _INVISIBLE_CATEGORIES
    )
    return " ".join("".join(kept).split())
