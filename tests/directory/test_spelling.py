"""Pinyin spelling of names and the matching rule the search index and its checks share."""

from __future__ import annotations

import uuid

import pytest

from zongji.directory.pinyin import decode, encode, spell, tokenise
from zongji.directory.search.index import Entry, NameIndex
from zongji.directory.search.query import parse
from zongji.directory.search.spelling import Match, classify, forms, national


def tokens(name: str) -> tuple:  # type: ignore[type-arg]
    return tuple(tokenise(name))


@pytest.mark.parametrize(
    ("name", "first"),
    [("曾小贤", "zeng"), ("单田芳", "shan"), ("解晓东", "xie"), ("仇英", "qiu"), ("朴树", "piao"),
     ("区志强", "ou"), ("查良镛", "zha")],
)  # fmt: skip
def test_surnames_take_their_surname_reading_first(name: str, first: str) -> None:
    assert tokenise(name)[0].readings[0] == first


@pytest.mark.parametrize(
    ("traditional", "simplified", "first"),
    [("張三", "张三", "zhang"), ("曾小賢", "曾小贤", "zeng"), ("單田芳", "单田芳", "shan"),
     ("區志強", "区志强", "ou")],
)  # fmt: skip
def test_traditional_names_are_spelled_as_their_simplified_forms(
    traditional: str, simplified: str, first: str
) -> None:
    assert tokenise(traditional) == tokenise(simplified)
    assert tokenise(traditional)[0].readings[0] == first  # 單 is a surname like 单: shan
    assert spell(traditional).sort_key.startswith(spell(simplified).sort_key.split("\x01")[0])
    assert parse(traditional) == parse(simplified)


def test_heteronyms_are_kept_and_full_width_is_normalised() -> None:
    [dan, *_] = tokenise("单田芳")
    assert {"shan", "dan"} <= set(dan.readings)
    assert [t.text for t in tokenise("Ａｌｉｃｅ  Wang")] == ["alice", "wang"]
    assert decode(encode(tokenise("欧阳娜娜"))) == tokenise("欧阳娜娜")


def test_sort_keys_order_by_pinyin_not_code_point() -> None:
    names = ["张三", "李四", "王五", "曾小贤", "阿里", "张三丰", "Bob"]
    ordered = sorted(names, key=lambda n: spell(n).sort_key)
    assert ordered == ["阿里", "Bob", "李四", "王五", "曾小贤", "张三", "张三丰"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [("张三丰", Match.EXACT), ("zhangsanfeng", Match.EXACT), ("zsf", Match.EXACT),
     ("张三", Match.PREFIX), ("zhangs", Match.PREFIX), ("张s", Match.PREFIX), ("zs", Match.PREFIX),
     ("zsan", Match.PREFIX), ("zhsf", Match.PREFIX), ("sanfeng", Match.FUZZY), ("sf", Match.FUZZY),
     ("丰", Match.FUZZY), ("zhangsanfengg", None), ("lisi", None), ("zhangsanfneg", None)],
)  # fmt: skip
def test_classify(query: str, expected: Match | None) -> None:
    assert classify(query, tokens("张三丰")) == expected


def test_queries_are_normalised() -> None:
    q = parse(" ＺＨＡＮＧ s ")
    assert q is not None
    assert q.text == "zhangs"
    assert parse("+86 138-0000-0001").text == "13800000001"  # type: ignore[union-attr]
    assert parse("张s").spellings == ["zhangs"]  # type: ignore[union-attr]
    assert parse("   ") is None
    assert national("+8613800000001") == "13800000001"
    assert national("+862584000001") == "02584000001"


def _entry(name: str, rank: int, ext: str | None = None, *numbers: str) -> Entry:
    return Entry(uuid.uuid4(), name, tokens(name), ext, numbers, (rank,))


def test_index_ranks_exact_then_prefix_then_fuzzy_then_directory_order() -> None:
    people = [
        _entry("赵四", 0),  # pinned: first in directory order
        _entry("张三丰", 1),
        _entry("张三", 2),
        _entry("李张三", 3),
        _entry("章散", 4),
    ]
    index = NameIndex(people)
    hits = index.search(parse("zhangsan"), 10)  # type: ignore[arg-type]
    assert [(h.entry.name, h.match) for h in hits] == [
        ("张三", Match.EXACT),
        ("章散", Match.EXACT),
        ("张三丰", Match.PREFIX),
        ("李张三", Match.FUZZY),
    ]
    mixed = index.search(parse("张s"), 10)  # type: ignore[arg-type]
    # 章散 spells zhangs… too, but its first character is not 张
    assert [h.entry.name for h in mixed] == ["张三丰", "张三", "李张三"]
    hidden = index.search(parse("zhangsan"), 10, hidden=_mask(5, 2))  # type: ignore[arg-type]
    assert "张三" not in [h.entry.name for h in hidden]


def _mask(n: int, rank: int):  # type: ignore[no-untyped-def]
    import numpy as np

    mask = np.zeros(n, dtype=bool)
    mask[rank] = True
    return mask


def test_index_finds_extensions_by_prefix_and_phones_by_substring() -> None:
    index = NameIndex(
        [
            _entry("甲", 0, "8001", "13800000001"),
            _entry("乙", 1, "8002", "13912345678", "02584001234"),
            _entry("丙", 2, "9001", "13712340000"),
        ]
    )

    def names(q: str) -> list[tuple[str, Match]]:
        return [(h.entry.name, h.match) for h in index.search(parse(q), 10)]  # type: ignore[arg-type]

    assert names("8001") == [("甲", Match.EXACT)]
    assert names("80") == [("甲", Match.PREFIX), ("乙", Match.PREFIX)]
    assert names("1234") == [("乙", Match.FUZZY), ("丙", Match.FUZZY)]
    assert names("025840") == [("乙", Match.PREFIX)]
    assert names("+86 139 1234 5678") == [("乙", Match.EXACT)]
    assert names("5555") == []


def test_the_index_and_the_matcher_agree_on_every_spelling() -> None:
    """Issue 11 #16: `classify` (used for one-by-one checks and favourites) accepts exactly the
    queries the index finds, with the same class: every start of every spelling of every
    name, polyphonic ones included, and characters mixed with letters."""
    names = ["区志强", "单长乐", "解长重", "曾乐乐", "查重行", "朴单单", "欧阳娜娜", "张三丰"]
    entries = [_entry(name, rank) for rank, name in enumerate(names)]
    index = NameIndex(entries)
    queries: set[str] = {"张s", "区zq", "单c", "曾lele", "欧阳nn", "解chang重"}
    for entry in entries:
        for start in range(len(entry.tokens)):
            for form in forms(entry.tokens, start):
                queries |= {form.spelled[:k] for k in range(1, len(form.spelled) + 1)}
    for text in sorted(queries):
        query = parse(text)
        assert query is not None
        by_index = {h.entry.name: h.match for h in index.search(query, len(entries))}
        by_rule = {e.name: m for e in entries if (m := classify(query.text, e.tokens)) is not None}
        assert by_index == by_rule, text
    assert classify("qzq", tokens("区志强")) == Match.EXACT  # qu, the common misreading
