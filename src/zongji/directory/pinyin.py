"""How a name is spelled in pinyin: computed once when a name is written, never per query.

A name becomes a sequence of *tokens*: each Chinese character is one token, each run of Latin
letters or digits (`Alice`, `Wang2`) another. A token carries its own text and its readings, most
likely first. Names need care that ordinary text does not:

- surnames have readings of their own (曾 is zēng as a surname, not céng; 单 is shàn, 解 xiè,
  仇 qiú, 朴 piáo, 区 ōu, 查 zhā …), so the first character takes its surname reading first;
- other characters keep their heteronyms (a few at most), so `shan` and `dan` both find 单;
- traditional characters are spelled as their simplified forms (單 → 单, so shàn as a surname), and
  the tokens carry the simplified character, which is what queries are converted to as well.

`encode`/`decode` keep the tokens in one text column (`单 shan dan chan|田 tian|芳 fang`), which
the search index reads when a node builds it, without calling pypinyin again.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from pypinyin import Style, pinyin

from zongji.directory.simplified import to_simplified

MAX_READINGS = 3  # per character: enough for real heteronyms, bounded for the index

SURNAME_READINGS: dict[str, str] = {
    "曾": "zeng",
    "单": "shan",
    "解": "xie",
    "仇": "qiu",
    "朴": "piao",
    "区": "ou",
    "查": "zha",
    "盖": "ge",
    "乐": "yue",
    "尉": "yu",
    "秘": "bi",
    "缪": "miao",
    "褚": "chu",
    "覃": "qin",
    "翟": "zhai",
    "员": "yun",
    "种": "chong",
    "繁": "po",
    "黑": "he",
    "过": "guo",
    "万": "wan",
    "沈": "shen",
    "重": "chong",
    "长": "chang",
    "藏": "zang",
    "柏": "bai",
    "召": "shao",
    "句": "gou",
    "折": "she",
    "隗": "wei",
    "阚": "kan",
    "费": "fei",
    "华": "hua",
    "任": "ren",
    "纪": "ji",
    "燕": "yan",
    "宁": "ning",
    "殷": "yin",
    "应": "ying",
    "那": "na",
    "都": "du",
    "能": "nai",
    "车": "che",
    "石": "shi",
    "莫": "mo",
    "佴": "nai",
}

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Token:
    text: str  # one Chinese character, or a lower-case Latin word / digit run
    readings: tuple[str, ...]  # most likely first; for a word, the word itself


def normalise_text(raw: str) -> str:
    """NFKC (full-width → half-width), lower case, single spaces: how names are compared."""
    return " ".join(unicodedata.normalize("NFKC", raw).lower().split())


def is_han(char: str) -> bool:
    return bool(_HAN.fullmatch(char))


def tokenise(name: str) -> list[Token]:
    """The tokens of a name, its characters simplified (張 → 张) so that both ways of writing
    it are spelled, and found, alike."""
    text = to_simplified(normalise_text(name))
    tokens: list[Token] = []
    han_positions = [i for i, c in enumerate(text) if is_han(c)]
    # One entry per Chinese character (non-Chinese runs are dropped by `errors`), the reading
    # its phrase dictionary prefers first (长乐 → cháng lè).
    heteronyms = pinyin(text, style=Style.NORMAL, heteronym=True, errors="ignore")
    readings_of = {
        pos: (found[0], found)
        if (found := heteronyms[k] if k < len(heteronyms) else [])
        else ("", [])
        for k, pos in enumerate(han_positions)
    }
    i = 0
    while i < len(text):
        char = text[i]
        if i in readings_of:
            first, others = readings_of[i]
            if not tokens and char in SURNAME_READINGS:
                first = SURNAME_READINGS[char]
            ordered = [r for r in dict.fromkeys([first, *others]) if r and r.isascii()]
            readings = tuple(r.replace("ü", "v") for r in ordered[:MAX_READINGS]) or (char,)
            tokens.append(Token(char, readings))
            i += 1
            continue
        word = _WORD.match(text, i)
        if word:
            tokens.append(Token(word.group(), (word.group(),)))
            i = word.end()
        else:
            i += 1  # spaces, punctuation: separators, not searchable
    return tokens


def sort_key(tokens: list[Token]) -> str:
    """The listing order (ADM-11): by pinyin, so 张三 sorts under Z, then by the characters.

    Compared byte by byte (the column has the "C" collation on PostgreSQL): `\x01` ends the
    spelling, so 张三 comes before 张三丰."""
    spelled = " ".join(t.readings[0] for t in tokens)
    return (spelled + "\x01" + "".join(t.text for t in tokens))[:255]


def encode(tokens: list[Token]) -> str:
    return "|".join(" ".join((t.text, *t.readings)) for t in tokens)


def decode(stored: str) -> list[Token]:
    tokens = []
    for part in stored.split("|"):
        if part:
            text, *readings = part.split(" ")
            tokens.append(Token(text, tuple(readings) or (text,)))
    return tokens


@dataclass(frozen=True)
class Spelling:
    """What the directory stores for a name."""

    readings: str
    sort_key: str


def spell(name: str) -> Spelling:
    tokens = tokenise(name)
    return Spelling(encode(tokens), sort_key(tokens))
