"""Registering with a registrar (RFC 3261 §10.2): the client side, with refresh.

One `Registration` is one binding of our Contact to an address-of-record. It keeps one Call-ID
and counts CSeq up across refreshes (§10.2.4), answers challenges, follows 423 Interval Too
Brief (§10.2.8), and, when started, refreshes the binding before it expires.

The registrar side is the PBX's (it owns the location service); `parse_register` gives it what
a REGISTER asks for, and `auth.DigestAuthenticator` checks who asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from zongji.sip.address import NameAddress
from zongji.sip.auth.client import DigestClient
from zongji.sip.errors import SipParseError
from zongji.sip.fields import MAX_UINT32, parse_uint
from zongji.sip.message import Request, Response
from zongji.sip.timers import TimerHandle
from zongji.sip.transport.base import Destination, Flow
from zongji.sip.uri import SipUri, Uri

if TYPE_CHECKING:
    from zongji.sip.ua.core import UserAgent

log = logging.getLogger("zongji.sip.registration")

DEFAULT_EXPIRES: Final = 3600  # RFC 3261 §10.2.1.1 / §10.3 step 7: the registrar's default


class Registration:
    """A binding we keep at a registrar."""

    def __init__(
        self,
        ua: UserAgent,
        registrar: Uri,
        aor: NameAddress,
        *,
        contact: NameAddress | None = None,
        auth: DigestClient | None = None,
        expires: int = DEFAULT_EXPIRES,
        destination: Destination | Flow | None = None,
        refresh_margin: float = 0.5,
        retry_interval: float = 30.0,
    ) -> None:
        self.ua = ua
        self.registrar = registrar
        self.aor = aor
        self.contact = contact
        self.auth = auth
        self.expires = expires
        self.destination = destination
        self.refresh_margin = refresh_margin
        self.retry_interval = retry_interval
        self.call_id: str | None = None
        self.cseq = 0
        self.from_tag: str | None = None
        self.granted: int | None = None
        self.last_response: Response | None = None
        self._task: asyncio.Task[None] | None = None
        self._timer: TimerHandle | None = None
        self._active = False

    @property
    def registered(self) -> bool:
        return bool(self.granted)

    def _request(self, expires: int) -> Request:
        self.cseq += 1
        request = self.ua.create_request(
            "REGISTER",
            self.registrar,
            from_=self.aor if self.from_tag is None else self.aor.with_tag(self.from_tag),
            to=self.aor,
            call_id=self.call_id,
            cseq=self.cseq,
            contact=self.contact if self.contact is not None else True,
            headers=[("Expires", str(expires))],
        )
        self.call_id = request.call_id
        self.from_tag = request.from_addr.tag
        if self.contact is None:
            contacts = request.contacts
            self.contact = contacts[0] if contacts else None
        return request

    async def register(self, expires: int | None = None) -> Response:
        """Send one REGISTER (expires 0 removes the binding); returns the final response."""
        wanted = self.expires if expires is None else expires
        request = self._request(wanted)
        response = await self.ua.request(
            request, destination=self.destination, credentials=self.auth
        )
        self.cseq = request.cseq.number
        if response.status == 423 and wanted:
            minimum = response.min_expires
            if minimum is not None and minimum > wanted:
                self.expires = minimum
                return await self.register(minimum)
        self.last_response = response
        if response.success:
            self.granted = self._granted(response, wanted) if wanted else 0
        elif wanted:
            self.granted = None
        return response

    def _granted(self, response: Response, wanted: int) -> int:
        """Our binding's expiry as the registrar granted it (RFC 3261 §10.2.4)."""
        try:
            mine = self.contact.uri if self.contact is not None else None
            for contact in response.contacts:
                if mine is not None and _same_contact(contact.uri, mine):
                    value = contact.params.get("expires")
                    if value is not None:
                        return parse_uint(value, what="expires")
            header = response.expires
        except SipParseError:
            return wanted
        return header if header is not None else wanted

    async def unregister(self) -> Response:
        await self.stop(unregister=False)
        return await self.register(0)

    def start(self) -> None:
        """Register now and keep refreshing until `stop()`: at `refresh_margin` of the granted
        expiry, or after `retry_interval` when a REGISTER fails.

        The delays run on the user agent's scheduler, so tests can drive them with a clock.
        """
        if not self._active:
            self._active = True
            self._schedule(0.0)

    def _schedule(self, delay: float) -> None:
        self._timer = self.ua.scheduler.call_later(delay, self._refresh_due)

    def _refresh_due(self) -> None:
        self._timer = None
        if self._active:
            self._task = asyncio.get_running_loop().create_task(self._refresh())

    async def _refresh(self) -> None:
        delay = self.retry_interval
        try:
            response = await self.register()
        except Exception as error:  # a refresh failure must not end the refreshing
            log.warning("REGISTER to %s failed: %s", self.registrar, error)
        else:
            if response.success and self.granted:
                delay = max(1.0, self.granted * self.refresh_margin)
            else:
                log.warning("REGISTER to %s got %d", self.registrar, response.status)
        self._task = None
        if self._active:
            self._schedule(delay)

    async def stop(self, *, unregister: bool = True) -> None:
        """Stop refreshing; remove the binding too unless `unregister=False`."""
        self._active = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if unregister and self.registered:
            await self.register(0)


def _same_contact(a: Uri, b: Uri) -> bool:
    if isinstance(a, SipUri) and isinstance(b, SipUri):
        return a.without_params("expires").equivalent(b.without_params("expires"))
    return a == b


# ---------------------------------------------------------------------------- registrar side


@dataclass(frozen=True, slots=True)
class Binding:
    """One Contact of a REGISTER with the expiry the client asked for (RFC 3261 §10.3 step 7)."""

    contact: NameAddress
    expires: int


@dataclass(frozen=True, slots=True)
class RegisterRequest:
    """What a REGISTER asks: for `aor`, add/refresh `bindings`, or remove all (`Contact: *`)."""

    aor: SipUri
    bindings: tuple[Binding, ...]
    remove_all: bool
    call_id: str
    cseq: int


def parse_register(request: Request) -> RegisterRequest:
    """Read a REGISTER for a registrar; raises `SipParseError` (answer 400) if it is unusable.

    The To URI must be SIP or SIPS (RFC 3261 §10.3 step 5, RFC 4475 §3.3.4). An expiry that is
    malformed or absent becomes the default 3600 s; one beyond 2**32-1 is capped (§10.2.1.1).
    `Contact: *` is only valid with `Expires: 0` (§10.2.2).
    """
    to_uri = request.to_addr.uri
    if not isinstance(to_uri, SipUri):
        raise SipParseError("REGISTER To is not a SIP URI")
    try:
        header_expires = request.expires
    except SipParseError:
        header_expires = None
    default = DEFAULT_EXPIRES if header_expires is None else header_expires
    if request.contact_is_star:
        if header_expires != 0:
            raise SipParseError("Contact: * needs Expires: 0")
        return RegisterRequest(to_uri, (), True, request.call_id, request.cseq.number)
    bindings = []
    for contact in request.contacts:
        value = contact.params.get("expires")
        expires = default
        if value is not None:
            digits = value.strip()
            expires = min(int(digits), MAX_UINT32) if digits.isdigit() else DEFAULT_EXPIRES
        bindings.append(Binding(contact, expires))
    return RegisterRequest(to_uri, tuple(bindings), False, request.call_id, request.cseq.number)
