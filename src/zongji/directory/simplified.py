"""Traditional Chinese characters as simplified ones, so that 張三 and 张三 are one name to search.

Enterprises in Hong Kong, Taiwan and overseas write names in traditional characters (張三, 曾小賢,
單田芳), while most people type simplified ones, and the other way round. Search compares names
after converting both sides to simplified characters; what is stored and shown stays as written.
The conversion is OpenCC's `t2s` (phrase-aware, so a character that only some phrases change is
left alone elsewhere). Converting before spelling also gives traditional characters the readings
of their simplified forms: 單 as a surname reads shàn like 单.
"""

from __future__ import annotations

from functools import lru_cache

import opencc

_T2S = opencc.OpenCC("t2s")


@lru_cache(maxsize=65_536)  # names and queries repeat; the conversion is a C++ call either way
def to_simplified(text: str) -> str:
    """`text` with traditional characters replaced by simplified ones; anything else unchanged."""
    if text.isascii():
        return text
    return str(_T2S.convert(text))
