"""A registrar built on the stack, for interop tests: Digest-checked REGISTER, bindings in memory.

The real registrar (location service, NAT flows, several nodes) is the PBX's; this one shows
that `parse_register` and `DigestAuthenticator` are enough to answer real clients correctly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zongji.sip.auth import DigestAlgorithm, DigestAuthenticator
from zongji.sip.errors import SipParseError
from zongji.sip.transport.base import Flow
from zongji.sip.ua import IncomingRequest, parse_register


@dataclass
class Binding:
    contact: str
    expires: int
    source: Flow


@dataclass
class Registrar:
    realm: str
    passwords: dict[str, str]
    algorithms: tuple[DigestAlgorithm, ...] = (DigestAlgorithm.MD5,)
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    accepted: list[tuple[str, str, int]] = field(default_factory=list)  # (aor, contact, expires)
    challenges: int = 0
    refused: int = 0  # credentials that did not check out

    def __post_init__(self) -> None:
        self.authenticator = DigestAuthenticator(
            self.realm, self.passwords.get, algorithms=self.algorithms
        )

    async def handle(self, incoming: IncomingRequest) -> None:
        request = incoming.request
        if request.method != "REGISTER":
            incoming.respond(405, headers=[("Allow", "REGISTER")])
            return
        try:
            register = parse_register(request)
        except SipParseError:
            incoming.respond(400)
            return
        outcome = await self.authenticator.verify(request)
        if not outcome.ok or outcome.username != register.aor.user:
            if outcome.username is not None:
                self.refused += 1
            self.challenges += 1
            incoming.send(
                self.authenticator.challenge(
                    request, stale=outcome.outcome.value == "stale", to_tag=incoming.to_tag
                )
            )
            return
        aor = f"{register.aor.user}@{register.aor.host}"
        if register.remove_all:
            self.bindings[aor] = []
        else:
            current = {b.contact: b for b in self.bindings.get(aor, [])}
            for binding in register.bindings:
                contact = str(binding.contact.uri)
                self.accepted.append((aor, contact, binding.expires))
                if binding.expires == 0:
                    current.pop(contact, None)
                else:
                    current[contact] = Binding(contact, binding.expires, incoming.source)
            self.bindings[aor] = list(current.values())
        incoming.respond(
            200,
            headers=[("Contact", f"<{b.contact}>;expires={b.expires}") for b in self.bindings[aor]],
        )
