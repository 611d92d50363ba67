"""The main number's default flow (CALL-5, IVR-4, ADM-10): greeting, "please dial the extension",
then the extension keyed by the caller, or the receptionists.

An outside caller who dials the enterprise's main number is answered by the call engine, which
hands the answered leg to `main_number_ivr` and then rings whatever it returns. The flow:

1. play "welcome" + "dial_extension", with barge-in on every key, so a caller who knows the
   extension can dial straight away instead of sitting through the greeting;
2. wait for the first key (`FIRST_DIGIT_TIMEOUT`). `0` (or nothing, or `#` alone) means the
   front desk: extensions never start with 0 (the directory refuses them, `directory/extensions`),
   so `0` is decided at once, without waiting for more digits;
3. otherwise collect up to the enterprise's extension length, each key within
   `INTER_DIGIT_TIMEOUT` of the last; `#` ends a shorter entry;
4. an extension of an existing user → that user. Anything else → "the number you dialled does
   not exist", and the caller is asked once more; a second wrong number goes to the receptionists,
   since a caller who cannot find the extension is exactly who the front desk is for.

If the caller hangs up at any point the flow stops at once and returns `IvrChoice.ABANDONED`:
nothing is rung for a caller who is gone.

Digits arrive through the leg (`AnsweredLeg.collect`), which reports RFC 4733 telephone-events and
in-band key tones alike (the media engine turns both into `DtmfReceived`). The flow relies on the
leg keeping keys typed ahead — pressed while a prompt played, including the key that cut the
prompt short — for the next `collect`, as a telephone keypad user expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from zongji.media import PlayItem, Prompt
from zongji.pbx.contracts import AnsweredLeg, Subscriber, TelephonyView, TenantLine

__all__ = [
    "FIRST_DIGIT_TIMEOUT",
    "INTER_DIGIT_TIMEOUT",
    "IvrChoice",
    "main_number_ivr",
    "prompt_language",
]

#: Seconds the caller has, after the greeting, to press the first key. Long enough to look the
#: extension up on a business card; the greeting itself already gave them its length in time.
FIRST_DIGIT_TIMEOUT = 8.0
#: Seconds between keys before the entry counts as finished (the usual PBX value).
INTER_DIGIT_TIMEOUT = 3.0
#: How many wrong numbers before the caller is sent to the receptionists (asked once more).
ATTEMPTS = 2

_KEYS = "0123456789*#"
_TERMINATOR = "#"
_RECEPTION_KEY = "0"


@dataclass(frozen=True)
class IvrChoice:
    """Where the main-number flow sends the caller. Exactly one of the three outcomes:
    the receptionists (`receptionists`), one user (`subscriber`), or nobody (`abandoned`: the
    caller hung up). `digits` is what the caller keyed last, for the call record and logs."""

    receptionists: bool
    subscriber: Subscriber | None
    digits: str = ""

    ABANDONED: ClassVar[IvrChoice]

    def __post_init__(self) -> None:
        if self.receptionists and self.subscriber is not None:
            raise ValueError("an IVR choice is the receptionists or one subscriber, not both")

    @property
    def abandoned(self) -> bool:
        return not self.receptionists and self.subscriber is None

    @classmethod
    def reception(cls, digits: str = "") -> IvrChoice:
        return cls(receptionists=True, subscriber=None, digits=digits)

    @classmethod
    def user(cls, subscriber: Subscriber, digits: str) -> IvrChoice:
        return cls(receptionists=False, subscriber=subscriber, digits=digits)


IvrChoice.ABANDONED = IvrChoice(receptionists=False, subscriber=None)


def prompt_language(tenant: TenantLine) -> str:
    """The language the enterprise's callers hear: `features["language"]` when an operator set
    one the catalogue speaks, else Chinese (the platform's callers are in China)."""
    language = tenant.features.get("language")
    return language if language in ("zh-CN", "en") else "zh-CN"


async def main_number_ivr(leg: AnsweredLeg, tenant: TenantLine, view: TelephonyView) -> IvrChoice:
    """Run the main-number flow on an answered outside call; see the module docstring."""
    language = prompt_language(tenant)
    prompts: list[PlayItem] = [Prompt("welcome", language), Prompt("dial_extension", language)]
    for attempt in range(1, ATTEMPTS + 1):
        digits = await _ask(leg, prompts, tenant.extension_length)
        if digits is None:
            return IvrChoice.ABANDONED
        if digits in ("", _RECEPTION_KEY):
            return await _to_reception(leg, language, digits)
        subscriber = await _lookup(view, tenant, digits)
        if subscriber is not None:
            return IvrChoice.user(subscriber, digits)
        if attempt < ATTEMPTS:
            prompts = [Prompt("invalid_number", language), Prompt("dial_extension", language)]
            continue
        await leg.play([Prompt("invalid_number", language)])
        if leg.hung_up.is_set():
            return IvrChoice.ABANDONED
        return await _to_reception(leg, language, digits)
    raise AssertionError("unreachable")  # pragma: no cover


async def _ask(leg: AnsweredLeg, prompts: Sequence[PlayItem], length: int) -> str | None:
    """Play `prompts` (any key cuts them short) and collect an entry. Returns the digits ("" for
    no input or a lone `#`), or None when the caller hung up."""
    if leg.hung_up.is_set():
        return None
    await leg.play(prompts, barge_in=_KEYS)
    if leg.hung_up.is_set():
        return None
    first = _clean(
        await leg.collect(
            1,
            first_timeout=FIRST_DIGIT_TIMEOUT,
            inter_digit_timeout=INTER_DIGIT_TIMEOUT,
            terminators=_TERMINATOR,
        )
    )
    if leg.hung_up.is_set():
        return None
    if first in ("", _RECEPTION_KEY) or length <= 1:
        return first
    rest = _clean(
        await leg.collect(
            length - 1,
            first_timeout=INTER_DIGIT_TIMEOUT,
            inter_digit_timeout=INTER_DIGIT_TIMEOUT,
            terminators=_TERMINATOR,
        )
    )
    if leg.hung_up.is_set():
        return None
    return first + rest


def _clean(keyed: str) -> str:
    """The entry without its terminator (whether or not the leg keeps it)."""
    return keyed.split(_TERMINATOR, 1)[0]


async def _lookup(view: TelephonyView, tenant: TenantLine, digits: str) -> Subscriber | None:
    """The user whose extension was keyed, if the entry can be one (`*` never can)."""
    if len(digits) != tenant.extension_length or not digits.isdigit():
        return None
    subscriber = await view.by_extension(tenant.tenant_id, digits)
    if subscriber is None or subscriber.tenant_id != tenant.tenant_id:
        return None
    return subscriber


async def _to_reception(leg: AnsweredLeg, language: str, digits: str) -> IvrChoice:
    """Tell the caller they are being put through to the front desk, then hand them over."""
    await leg.play([Prompt("transferring_receptionist", language)])
    if leg.hung_up.is_set():
        return IvrChoice.ABANDONED
    return IvrChoice.reception(digits)
