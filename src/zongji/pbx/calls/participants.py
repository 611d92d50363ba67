"""Who takes part in a conversation (`conversation.py`).

Two kinds of participant, as in resiprocate's recon layer:

- a **SIP leg** (`CallLeg`, `legs.py`): a dialog with a device or a trunk and the media endpoint
  that peer talks to. Its audio is what a conversation relays or mixes; it can put the call on
  hold (the conversation reflects that to the other side of a relay) and hang up.
- an **application** (`ApplicationParticipant`): the PBX itself talking to the conversation's
  legs — the main-number menu, voicemail, an announcement, greeting recording. It has no
  endpoint of its own: the media engine plays to and records from the legs' endpoints, so while
  an application takes part, the conversation does not relay the legs to each other.

A conversation only needs what `Participant` names, so it can hold a leg it did not make and move
it to another conversation (transfer, joining a conference).
"""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable

from zongji.pbx.calls.flags import Flag


@runtime_checkable
class Participant(Protocol):
    """One party to a conversation."""

    #: set when the participant is gone (peer's BYE, application done, endpoint closed)
    hung_up: asyncio.Event

    @property
    def media_endpoint(self) -> str | None:
        """The media endpoint whose audio the conversation relays or mixes; None for a party
        that only plays to and listens at the others' endpoints (an application)."""
        ...


class ApplicationParticipant:
    """An application taking part in a conversation while it runs (see the module docstring)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.hung_up: asyncio.Event = Flag()

    @property
    def media_endpoint(self) -> str | None:
        return None

    def done(self) -> None:
        self.hung_up.set()

    def __repr__(self) -> str:
        return f"ApplicationParticipant({self.name!r})"
