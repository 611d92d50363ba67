"""The greeting feature code (CALL-10): a user dials `*97` and records their own voicemail
greeting; the call counts as answered (the user talks to the PBX)."""

from __future__ import annotations

import contextlib
from typing import ClassVar

from zongji.media import MediaError
from zongji.pbx.apps.application import AppContext, Application, AppOutcome
from zongji.pbx.contracts import GREETING_FEATURE_CODE, CallStatus
from zongji.pbx.destinations import DestinationKind


class GreetingRecording(Application):
    name = "greeting_recording"
    serves: ClassVar[DestinationKind | None] = DestinationKind.FEATURE_CODE
    feature_code: ClassVar[str | None] = GREETING_FEATURE_CODE
    title: ClassVar[str] = "voicemail greeting"
    is_the_answer: ClassVar[bool] = True

    async def run(self, context: AppContext) -> AppOutcome:
        user = context.caller_user
        assert user is not None  # feature codes are dialled from a user's device
        with contextlib.suppress(MediaError):
            await context.services.voicemail.record_greeting(
                context.leg, context.tenant.tenant_id, user.user_id
            )
        return AppOutcome(CallStatus.ANSWERED)
