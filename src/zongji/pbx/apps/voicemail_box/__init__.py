"""A user's voicemail box takes a message: a call they did not answer, or one sent to the box."""

from __future__ import annotations

import contextlib
from typing import ClassVar

from zongji.media import MediaError
from zongji.pbx.apps.application import AppContext, Application, AppOutcome
from zongji.pbx.contracts import CallStatus, VoicemailOffer
from zongji.pbx.destinations import DestinationKind


class VoicemailBox(Application):
    name = "voicemail_box"
    serves: ClassVar[DestinationKind | None] = DestinationKind.VOICEMAIL_BOX

    async def run(self, context: AppContext) -> AppOutcome:
        destination = context.destination
        assert destination is not None
        assert destination.users
        owner = destination.users[0]
        offer = VoicemailOffer(
            context.tenant.tenant_id,
            owner.user_id,
            context.call_id,
            context.caller,
            context.clock.now(),
        )
        with contextlib.suppress(MediaError):
            await context.services.voicemail.take_message(context.leg, offer)
        return AppOutcome(CallStatus.VOICEMAIL, reason="voicemail")
