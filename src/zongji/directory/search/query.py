"""What someone typed, normalised once: full-width to half-width, lower case, separators gone,
traditional characters as simplified ones (張三 → 张三, as names are spelled), and — for input
mixing characters and letters (`张s`) — the letter spellings it could stand for."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from pypinyin import Style, pinyin

from zongji.directory.pinyin import MAX_READINGS, is_han, normalise_text
from zongji.directory.simplified import to_simplified

MAX_QUERY = 64
_DROP = str.maketrans("", "", " -'·.()_")


@dataclass(frozen=True)
class Query:
    text: str  # normalised
    digits: bool  # only digits: an extension or a phone number
    has_han: bool
    has_latin: bool

    @property
    def spellings(self) -> list[str]:
        """Letter-only forms of a mixed query: `张s` → `zhangs` (a character may have several)."""
        if not (self.has_han and self.has_latin):
            return [self.text]
        options: list[list[str]] = []
        for char in self.text:
            if is_han(char):
                readings = pinyin(char, style=Style.NORMAL, heteronym=True, errors="ignore")
                found = [r.replace("ü", "v") for r in (readings[0] if readings else [])][
                    :MAX_READINGS
                ]
                options.append(found or [char])
            else:
                options.append([char])
        return ["".join(parts) for parts in itertools.islice(itertools.product(*options), 8)]


def parse(raw: str) -> Query | None:
    text = to_simplified(normalise_text(raw).translate(_DROP)[:MAX_QUERY])
    if text.startswith("+"):
        text = text[1:]
        if text.startswith("86"):
            text = text[2:]
    elif text.isdigit() and len(text) >= 13 and text.startswith("86"):
        text = text[2:]
    elif text.isdigit() and text.startswith("0086"):
        text = text[4:]
    if not text:
        return None
    has_han = any(is_han(c) for c in text)
    return Query(
        text=text,
        digits=text.isdigit(),
        has_han=has_han,
        has_latin=any(c.isascii() and c.isalpha() for c in text),
    )
