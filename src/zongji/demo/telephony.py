"""The demo's telephony (`zongji serve --demo`): the demo trunk pointing at the carrier
simulator, and a SIP device credential for every demo user, for `var/demo.json`.

Credentials are stable across restarts: a user's credential is kept while `demo.json` still
holds its password and the credential is still live. A password can't be read back (only its
HA1 is stored), so when `demo.json` is lost, or an admin revoked the demo credential, the demo
revokes the demo credentials it can no longer describe and issues new ones: `demo.json` always
lists credentials that work.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zongji.demo.carrier import REALM
from zongji.directory.user_schemas import UserOut
from zongji.pbx.trunks.models import TrunkMode, TrunkTransport
from zongji.pbx.trunks.schemas import TrunkChange, TrunkCreate, TrunkOut
from zongji.platform.actor import SYSTEM
from zongji.platform.config import Settings

if TYPE_CHECKING:
    from zongji.services import Services

DEMO_TRUNK = "演示运营商"
DEMO_TRUNK_USERNAME = "zongji-demo"
DEVICE_LABEL = "演示软电话"
WILDCARDS = ("", "0.0.0.0", "::", "[::]")  # noqa: S104 - recognised, not bound


def sip_host(settings: Settings) -> str:
    """Where phones reach the node's SIP port."""
    if settings.sip_public_host:
        return settings.sip_public_host
    return "127.0.0.1" if settings.host in WILDCARDS else settings.host


def sip_port(ports: dict[str, Any] | None) -> int | None:
    sip = (ports or {}).get("sip")
    return int(sip["udp"]) if isinstance(sip, dict) and "udp" in sip else None


def carrier_port(ports: dict[str, Any] | None) -> int | None:
    sip = (ports or {}).get("sip")
    if isinstance(sip, dict) and sip.get("demo_carrier"):
        return int(sip["demo_carrier"])
    return None


async def ensure_demo_trunk(services: Services, host: str, port: int) -> TrunkOut:
    """The demo trunk: a registration trunk to the carrier simulator, for every enterprise.
    Made on first start; pointed at the carrier again if its address changed (a port of 0)."""
    trunks = services.pbx.trunks
    # Calls from anywhere on the carrier's address are the carrier's: `zongji demo call` places
    # them from a throwaway port there (the address is the carrier's alone, see demo_carrier).
    sources = [host]
    for trunk in await trunks.all():
        if trunk.name == DEMO_TRUNK:
            if (trunk.host, trunk.port, trunk.inbound_addresses) != (host, port, sources):
                change = TrunkChange(host=host, port=port, inbound_addresses=sources)
                trunk = await trunks.change(SYSTEM, trunk.id, change)
            return trunk
    made: TrunkOut = await trunks.create(
        SYSTEM,
        TrunkCreate(
            name=DEMO_TRUNK,
            host=host,
            port=port,
            transport=TrunkTransport.UDP,
            mode=TrunkMode.REGISTRATION,
            username=DEMO_TRUNK_USERNAME,
            password=secrets.token_urlsafe(12),
            realm=REALM,
            inbound_addresses=sources,
            register_expires=600,
            options_interval=30,
            all_enterprises=True,
        ),
    )
    return made


async def ensure_sip_credentials(
    services: Services,
    tenant_id: uuid.UUID,
    users: Sequence[UserOut],
    saved: dict[str, dict[str, Any]],
    registrar: str,
) -> dict[str, dict[str, Any]]:
    """Each user's demo credential as demo.json shows it, by mobile. `saved` is what demo.json
    held (by mobile): kept when its credential is still live, replaced otherwise."""
    credentials = services.pbx.credentials
    result: dict[str, dict[str, Any]] = {}
    for user in users:
        if not user.extension:
            continue
        live = await credentials.list(tenant_id, user.id)
        before = saved.get(user.mobile) or {}
        if before.get("password") and any(c.username == before.get("username") for c in live):
            result[user.mobile] = {**before, "registrar": registrar}
            continue
        for stale in live:
            if stale.label == DEVICE_LABEL:
                await credentials.revoke(SYSTEM, tenant_id, stale.id)
        issued = await credentials.issue(
            SYSTEM, tenant_id, user.id, kind="softphone", label=DEVICE_LABEL
        )
        result[user.mobile] = {
            "username": issued.username,
            "password": issued.password,
            "domain": issued.domain,
            "registrar": registrar,
        }
    return result


async def ensure_demo_telephony(
    services: Services,
    tenant_id: uuid.UUID,
    users: Sequence[UserOut],
    saved_demo: dict[str, Any],
    ports: dict[str, Any] | None,
) -> dict[str, Any]:
    """What demo.json says about telephony: where to register, the carrier, and per user (by
    mobile) the SIP credential. Empty when the node runs without SIP."""
    port = sip_port(ports)
    if port is None:
        return {}
    settings: Settings = services.settings
    registrar = f"{sip_host(settings)}:{port}"
    out: dict[str, Any] = {"registrar": registrar}
    carrier = carrier_port(ports)
    if carrier is not None:
        trunk = await ensure_demo_trunk(services, settings.demo_carrier_host, carrier)
        out["carrier"] = {
            "address": f"{settings.demo_carrier_host}:{carrier}",
            "trunk": trunk.name,
            "trunk_id": str(trunk.id),
        }
    saved = {
        u["mobile"]: u["sip"]
        for u in saved_demo.get("users", [])
        if isinstance(u, dict) and isinstance(u.get("sip"), dict) and u.get("mobile")
    }
    out["users"] = await ensure_sip_credentials(services, tenant_id, users, saved, registrar)
    return out
