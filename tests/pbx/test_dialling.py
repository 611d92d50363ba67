"""The dial plan: what a person dials becomes an extension, an emergency code, or an E.164 number
relative to the enterprise's area, and anything else is refused with a stable code."""

from __future__ import annotations

import uuid
from dataclasses import replace

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.pbx.lines import nanjing
from zongji.pbx.contracts import DialError, DialKind, Subscriber, TenantLine
from zongji.pbx.dialling import (
    EMERGENCY_CODES,
    caller_id_for,
    is_service_number,
    national_form,
    parse_dialled,
)

NANJING = nanjing(main_number="+862588880000")

E, X, EM = DialKind.EXTENSION, DialKind.EXTERNAL, DialKind.EMERGENCY

ACCEPTED = [
    # extensions: exactly the enterprise's extension length
    ("8001", E, "8001"),
    ("8 0 0 1", E, "8001"),
    ("８００１", E, "8001"),
    ("0123", E, "0123"),
    # emergency codes, kept as dialled
    ("110", EM, "110"),
    ("119", EM, "119"),
    ("120", EM, "120"),
    ("122", EM, "122"),
    ("１１０", EM, "110"),
    # long distance with the trunk prefix, and local numbers without the area code
    ("02588886666", X, "+862588886666"),
    ("025-8888-6666", X, "+862588886666"),
    ("(025) 8888 6666", X, "+862588886666"),
    ("025.8888.6666", X, "+862588886666"),
    ("88886666", X, "+862588886666"),
    ("8888 6666", X, "+862588886666"),
    ("01088886666", X, "+861088886666"),
    ("075588886666", X, "+8675588886666"),
    # +86, 0086, international
    ("+862588886666", X, "+862588886666"),
    ("+86 (0)25 8888 6666", X, "+862588886666"),
    ("0086 25 8888 6666", X, "+862588886666"),
    ("0044 20 7946 0958", X, "+442079460958"),
    ("+44 20 7946 0958", X, "+442079460958"),
    ("001 650 253 0000", X, "+16502530000"),
    # 400 / 800 numbers
    ("4008123123", X, "+864008123123"),
    ("400-812-3123", X, "+864008123123"),
    ("8008100000", X, "+868008100000"),
    # mobiles, typed every way people type them
    ("13912345678", X, "+8613912345678"),
    ("139 1234 5678", X, "+8613912345678"),
    ("139-1234-5678", X, "+8613912345678"),
    ("+86 139 1234 5678", X, "+8613912345678"),
    ("＋８６　１３９－１２３４－５６７８", X, "+8613912345678"),
    ("139\u00a01234\u00a05678", X, "+8613912345678"),
    ("139·1234·5678", X, "+8613912345678"),
    # service numbers: domestic external, kept as +86 + the short number
    ("95588", X, "+8695588"),
    ("10086", X, "+8610086"),
    ("12345", X, "+8612345"),
    ("114", X, "+86114"),
    # URIs and Request-URI user parts as phones send them
    ("sip:13912345678@acme.zongji.test;user=phone", X, "+8613912345678"),
    ("sips:8001@acme.zongji.test", E, "8001"),
    ("tel:+86-139-1234-5678;phone-context=example.com", X, "+8613912345678"),
    ("%2B8613912345678", X, "+8613912345678"),
    ("139%201234%205678", X, "+8613912345678"),
]

REFUSED = [
    ("", "empty"),
    ("   ", "empty"),
    ("--", "empty"),
    ("sip:@acme.zongji.test", "empty"),
    ("*97", "invalid_characters"),
    ("#", "invalid_characters"),
    ("8001#", "invalid_characters"),
    ("1391234567a", "invalid_characters"),
    ("alice", "invalid_characters"),
    ("1-800-FLOWERS", "invalid_characters"),
    ("①②③④", "invalid_characters"),  # circled digits are not digits to dial
    ("١٢٣٤", "invalid_characters"),  # nor are Arabic-Indic ones
    ("+", "invalid_characters"),
    ("++8613912345678", "invalid_characters"),
    ("139+12345678", "invalid_characters"),
    ("1", "incomplete"),
    ("12", "incomplete"),
    ("999", "incomplete"),
    ("80011", "invalid_number"),
    ("0251234", "invalid_number"),
    ("1391234567", "invalid_number"),
    ("139123456789", "invalid_number"),
    ("025888866661", "invalid_number"),
    ("+99912345678", "invalid_number"),
    ("123456789012345678901", "too_long"),
    ("1" * 65, "too_long"),
]


@pytest.mark.parametrize(("raw", "kind", "number"), ACCEPTED)
def test_accepted(raw: str, kind: DialKind, number: str) -> None:
    dialled = parse_dialled(raw, NANJING)
    assert (dialled.kind, dialled.number, dialled.raw) == (kind, number, raw)


@pytest.mark.parametrize(("raw", "code"), REFUSED)
def test_refused_with_a_stable_code(raw: str, code: str) -> None:
    with pytest.raises(DialError) as caught:
        parse_dialled(raw, NANJING)
    assert caught.value.code == code
    assert caught.value.reason


def test_local_numbers_take_the_enterprises_own_area_code() -> None:
    beijing = replace(NANJING, area_code="010")
    assert parse_dialled("88886666", beijing).number == "+861088886666"
    assert parse_dialled("88886666", replace(NANJING, area_code="025")).number == ("+862588886666")


@pytest.mark.parametrize(
    ("length", "raw", "kind"),
    [
        (3, "801", E),
        (3, "110", EM),  # an emergency code is never an extension, even of the same length
        (3, "114", E),  # a 3-digit plan wins over the 114 service number
        (4, "801", None),  # shorter than an extension, not a service number
        (4, "1100", E),
        (5, "80001", E),
        (5, "95588", E),  # a 5-digit plan cannot reach 95588 (documented)
        (5, "8001", None),
        (6, "800001", E),
        (6, "95588", X),  # shorter than an extension but a service number
        (8, "88886666", E),  # with 8-digit extensions a local number needs its area code
        (8, "02588886666", X),
        (4, "+8001", None),  # a + never makes an extension
    ],
)
def test_extension_length_edges(length: int, raw: str, kind: DialKind | None) -> None:
    tenant = replace(NANJING, extension_length=length)
    if kind is None:
        with pytest.raises(DialError):
            parse_dialled(raw, tenant)
    else:
        assert parse_dialled(raw, tenant).kind is kind


@pytest.mark.parametrize(
    ("number", "national"),
    [
        ("+862588886666", "02588886666"),
        ("+861088886666", "01088886666"),
        ("+8613912345678", "13912345678"),
        ("+864008123123", "4008123123"),
        ("+868008100000", "8008100000"),
        ("+8695588", "95588"),
        ("+86114", "114"),
        ("+442079460958", "00442079460958"),
        ("+16502530000", "0016502530000"),
        ("110", "110"),
    ],
)
def test_national_form_for_carriers_that_want_it(number: str, national: str) -> None:
    assert national_form(number) == national


def _subscriber(direct_line: str | None) -> Subscriber:
    return Subscriber(
        tenant_id=NANJING.tenant_id,
        user_id=uuid.uuid4(),
        name="张三",
        extension="8001",
        direct_line=direct_line,
        mobile="+8613800000001",
        is_receptionist=False,
        outbound_restriction="domestic",
        outbound_time="unlimited",
        monthly_minutes=None,
        work_start="09:00",
        work_end="18:00",
        valid_from=None,
        valid_until=None,
    )


def test_caller_id_is_the_direct_line_else_the_main_number() -> None:
    assert caller_id_for(_subscriber("+862588881234"), NANJING) == "+862588881234"
    assert caller_id_for(_subscriber(None), NANJING) == "+862588880000"
    assert caller_id_for(_subscriber(None), replace(NANJING, main_number=None)) is None


# -- properties --------------------------------------------------------------------------------

_NOISE = st.text(
    alphabet=st.sampled_from("0123456789+-.() *#a０１２３９＋－（）\u3000·①٣x%;@:"), max_size=24
)


def _valid(number: str, tenant: TenantLine) -> bool:
    parsed = phonenumbers.parse(number, None)
    return phonenumbers.is_valid_number(parsed) or is_service_number(number)


@settings(max_examples=400, deadline=None)
@given(raw=_NOISE, length=st.integers(min_value=3, max_value=8))
def test_anything_accepted_is_an_extension_an_emergency_code_or_valid_e164(
    raw: str, length: int
) -> None:
    tenant = replace(NANJING, extension_length=length)
    codes = {"empty", "too_long", "invalid_characters", "incomplete", "invalid_number"}
    refused_with: str | None = None
    try:
        dialled = parse_dialled(raw, tenant)
    except DialError as error:
        refused_with = error.code
    if refused_with is not None:
        assert refused_with in codes
        return
    if dialled.kind is DialKind.EXTENSION:
        assert dialled.number.isascii()
        assert dialled.number.isdigit()
        assert len(dialled.number) == length
    elif dialled.kind is DialKind.EMERGENCY:
        assert dialled.number in EMERGENCY_CODES
    else:
        assert dialled.number.startswith("+")
        assert dialled.number[1:].isdigit()
        assert len(dialled.number) <= 16
        assert _valid(dialled.number, tenant)
        # what goes to a carrier is digits only, whatever the format
        assert national_form(dialled.number).isdigit()


@st.composite
def _written_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A valid Chinese mobile or Nanjing landline, and one of the ways a person writes it."""
    if draw(st.booleans()):
        e164 = "+86139" + draw(st.from_regex(r"[0-9]{8}", fullmatch=True))
        national = e164[3:]
    else:
        e164 = "+8625" + draw(st.from_regex(r"[2-8][0-9]{7}", fullmatch=True))
        national = "0" + e164[3:]
    assert phonenumbers.is_valid_number(phonenumbers.parse(e164))
    style = draw(st.sampled_from(["national", "plus", "0086", "spaced", "fullwidth", "dashed"]))
    written = {
        "national": national,
        "plus": e164,
        "0086": "00" + e164[1:],
        "spaced": " ".join([national[:3], national[3:7], national[7:]]),
        "fullwidth": national.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
        "dashed": "-".join([national[:3], national[3:7], national[7:]]),
    }[style]
    return e164, written


@settings(max_examples=200, deadline=None)
@given(case=_written_numbers())
def test_every_way_of_writing_a_number_gives_the_same_e164(case: tuple[str, str]) -> None:
    e164, written = case
    dialled = parse_dialled(written, NANJING)
    assert (dialled.kind, dialled.number) == (DialKind.EXTERNAL, e164)
