"""The main number's menu (CALL-5, IVR-4, ADM-10): the flow is in `flow.py`; this application
turns its choice into the destination the call goes on to (a user, or the receptionists)."""

from __future__ import annotations

from typing import ClassVar

from zongji.pbx.apps.application import AppContext, Application, AppOutcome
from zongji.pbx.apps.main_menu.flow import main_number_ivr
from zongji.pbx.contracts import CallStatus
from zongji.pbx.destinations import DestinationKind


class MainNumberMenu(Application):
    name = "main_number_menu"
    serves: ClassVar[DestinationKind | None] = DestinationKind.IVR_MENU

    async def run(self, context: AppContext) -> AppOutcome:
        choice = await main_number_ivr(context.leg, context.tenant, context.services.view)
        if choice.abandoned or context.leg.hung_up.is_set() or context.gone.is_set():
            return AppOutcome(CallStatus.CANCELLED)
        return AppOutcome.then(await context.router.menu_choice(context.tenant, choice.subscriber))
