"""`zongji serve --demo`: a demo enterprise on first start, and every demo account in
`var/demo.json`, so that a newcomer (or a script) can log in at once.

Passwords are random per installation and kept only in `demo.json`; if that file is lost, the next
demo start sets new ones.
"""

from __future__ import annotations

import json
import secrets
import sys
import uuid
from pathlib import Path
from typing import Any

from zongji.api.static_site import sites
from zongji.demo.calendar import ensure_demo_calendar
from zongji.demo.history import ensure_demo_history
from zongji.demo.telephony import ensure_demo_telephony
from zongji.directory.contacts import ContactIn
from zongji.directory.departments import DepartmentCreate, DepartmentOut
from zongji.directory.favourites import FavouriteIn, TargetKind
from zongji.directory.numbers import NumberState
from zongji.directory.schemas import (
    AdminAccountCreate,
    EnterpriseChange,
    EnterpriseCreate,
    EnterpriseFeatures,
    EnterpriseFeaturesChange,
)
from zongji.directory.user_schemas import UserChange, UserCreate, UserOut
from zongji.platform.actor import SYSTEM
from zongji.services import Services

DEMO_CODE = "demo"
OPERATOR_LOGIN = "operator"
ADMIN_LOGIN = "admin"

DEMO_USERS: list[dict[str, Any]] = [
    {"name": "张三", "mobile": "+8613800000001", "extension": "8001", "is_admin": True},
    {"name": "李四", "mobile": "+8613800000002", "extension": "8002", "is_admin": False},
    {"name": "王五", "mobile": "+8613800000003", "extension": "8003", "is_admin": False},
    {"name": "曾小贤", "mobile": "+8613800000004", "extension": "8004", "is_admin": False},
    {"name": "单田芳", "mobile": "+8613800000005", "extension": "8005", "is_admin": False},
]
"""The first demo users: other work (SIP, media) relies on these mobiles and extensions."""

DEMO_POOL = [f"025-840001{n:02d}" for n in range(1, 11)]
DEMO_DEPARTMENTS = ["总经办", "研发部/平台组", "研发部/测试组", "市场部/华东区", "客服部"]
DEMO_PROFILES: dict[str, dict[str, Any]] = {
    # what the directory shows about each demo user: departments, policy, flags, direct lines
    "张三": {"department": "研发部/平台组", "title": "平台组组长", "direct_line": "02584000101",
             "outbound_restriction": "domestic", "pinned": True, "pin_order": 2,
             "email": "zhangsan@demo.example"},
    "李四": {"department": "研发部/测试组", "title": "测试工程师", "outbound_restriction": "local",
             "outbound_time": "workdays"},
    "王五": {"department": "市场部/华东区", "title": "销售经理", "direct_line": "02584000102",
             "monthly_minutes": 600, "outbound_mode": "callback"},
    "曾小贤": {"department": "客服部", "title": "前台", "is_receptionist": True,
               "outbound_restriction": "internal"},
    "单田芳": {"department": "总经办", "title": "总经理", "pinned": True, "pin_order": 1,
               "direct_line": "02584000103", "address": "南京市玄武区珠江路 1 号"},
}  # fmt: skip
MORE_USERS: list[dict[str, Any]] = [
    {"name": "解晓东", "mobile": "+8613800000006", "extension": "8006", "department": "客服部",
     "is_receptionist": True, "title": "客服专员"},
    {"name": "区志强", "mobile": "+8613800000007", "extension": "8007",
     "department": "研发部/平台组", "title": "架构师", "conference_allowed": True,
     "monthly_minutes": 3},  # a small quota: frozen after three outside minutes
    {"name": "查良镛", "mobile": "+8613800000008", "extension": "8008", "department": "总经办",
     "title": "顾问", "conference_allowed": False, "valid_until": "2027-12-31"},
    {"name": "朴树", "mobile": "+8613800000009", "extension": "8009",
     "department": "市场部/华东区", "outbound_restriction": "internal"},
    {"name": "Alice Wang", "mobile": "+8613800000010", "extension": "8010",
     "department": "市场部", "email": "alice@demo.example", "title": "Marketing",
     "outbound_restriction": "international"},
]  # fmt: skip
DEMO_CONTACTS = [  # 张三's personal address book (DIR-7)
    ContactIn(name="王老师", phones=["13900001111"], company="南京大学"),
    ContactIn(name="快递小哥", phones=["13700002222"]),
    ContactIn(name="物业前台", phones=["025-84009988"]),
]


def _password() -> str:
    return "Zj" + secrets.token_urlsafe(9) + "7"


def demo_file(services: Services) -> Path:
    return services.settings.data_dir / "demo.json"


async def ensure_demo(
    services: Services, *, http_port: int, ports: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Create what is missing of the demo, write `demo.json`, print how to log in.

    `ports` are the node's listening ports (SIP, the demo carrier …), started before the demo is
    made so that demo.json can say where to register."""
    path = demo_file(services)
    saved: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    passwords = {
        OPERATOR_LOGIN: saved.get("operator", {}).get("password"),
        ADMIN_LOGIN: saved.get("enterprise_admin", {}).get("password"),
    }
    for login, role in ((OPERATOR_LOGIN, "operator"), (ADMIN_LOGIN, "admin")):
        account = await services.identity.find_account(login)
        if account is not None and passwords[login]:
            continue
        passwords[login] = _password()
        if account is not None:
            await services.identity.reset_password(SYSTEM, login, passwords[login] or "")
        elif role == "operator":
            await services.identity.create_operator(
                SYSTEM, OPERATOR_LOGIN, "演示运营商", passwords[login] or ""
            )
    enterprise = await services.directory.enterprises.find_by_code(DEMO_CODE)
    if enterprise is None:
        enterprise = await services.directory.enterprises.create(
            SYSTEM,
            EnterpriseCreate(
                code=DEMO_CODE,
                name="演示科技有限公司",
                area_code="025",
                city="南京",
                main_number="025-84000000",
                access_number="025-84000099",
                features=EnterpriseFeatures(
                    ivr_customer_service=True,
                    ivr_welcome_ring=True,
                    callback=True,
                    international_calling=True,  # so that one demo user shows that level
                ),
                max_users=500,
                admin=AdminAccountCreate(
                    login=ADMIN_LOGIN, name="演示管理员", password=passwords[ADMIN_LOGIN] or ""
                ),
            ),
        )
    elif not enterprise.features.international_calling:  # a demo made before it was on
        enterprise = await services.directory.enterprises.change(
            SYSTEM,
            enterprise.id,
            EnterpriseChange(features=EnterpriseFeaturesChange(international_calling=True)),
        )
    users = await _ensure_directory(services, enterprise.id)
    await ensure_demo_calendar(services.pbx.policy.calendar, enterprise.id)
    telephony = await ensure_demo_telephony(services, enterprise.id, users, saved, ports)
    sip_of = telephony.pop("users", {})
    await ensure_demo_history(services, enterprise.id, users)
    base = f"http://{services.settings.host}:{http_port}"
    demo = {
        "http": base,
        "api_docs": base + "/api/docs",
        "console": base + "/console/",
        "operator": {"account": OPERATOR_LOGIN, "password": passwords[OPERATOR_LOGIN]},
        "enterprise": {
            "id": str(enterprise.id),
            "code": enterprise.code,
            "name": enterprise.name,
            "sip_domain": enterprise.sip_domain,
            "main_number": enterprise.main_number,
        },
        "enterprise_admin": {"account": ADMIN_LOGIN, "password": passwords[ADMIN_LOGIN]},
        "users": [
            {
                "name": u.name,
                "extension": u.extension,
                "mobile": u.mobile,
                "direct_line": u.direct_line,
                "department": u.department_path,
                "contact_manager": u.is_admin,
                "receptionist": u.is_receptionist,
                "login": "mobile + SMS code (the code is printed on the node's console)",
                **({"sip": sip_of[u.mobile]} if u.mobile in sip_of else {}),
            }
            for u in users
        ],
        **({"sip": telephony} if telephony else {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(demo, ensure_ascii=False, indent=2) + "\n")
    path.chmod(0o600)
    _announce(demo, path, console_built=_console_built(services))
    return demo


def _console_built(services: Services) -> bool:
    return all(site.built() for site in sites(services.settings.effective_web_dist))


async def _ensure_directory(services: Services, tenant_id: uuid.UUID) -> list[UserOut]:
    """Departments, a number pool, users showing every directory feature, and one user's
    personal contacts and favourites. Only what is missing is created."""
    if not await services.directory.numbers.all(tenant_id, NumberState.ALL):
        await services.directory.numbers.add(SYSTEM, tenant_id, DEMO_POOL)
    paths = {d.path: d.id for d in _flatten(await services.directory.departments.tree(tenant_id))}
    for path in DEMO_DEPARTMENTS:
        parent: uuid.UUID | None = None
        for depth, name in enumerate(path.split("/"), start=1):
            prefix = "/".join(path.split("/")[:depth])
            if prefix not in paths:
                made = await services.directory.departments.create(
                    SYSTEM, tenant_id, DepartmentCreate(name=name, parent_id=parent)
                )
                paths[prefix] = made.id
            parent = paths[prefix]
    existing = {
        u.mobile: u for u in (await services.directory.users.page(tenant_id, limit=500)).items
    }
    for user in DEMO_USERS:
        profile = dict(DEMO_PROFILES[user["name"]])
        profile["department_id"] = paths[profile.pop("department")]
        found = existing.get(user["mobile"])
        if found is None:
            existing[user["mobile"]] = await services.directory.users.create(
                SYSTEM, tenant_id, UserCreate(**user, **profile)
            )
        elif found.department_id is None:  # made by an older demo: give it its profile
            existing[user["mobile"]] = await services.directory.users.change(
                SYSTEM, tenant_id, found.id, UserChange(**profile)
            )
    for user in MORE_USERS:
        if user["mobile"] not in existing:
            fields = dict(user)
            fields["department_id"] = paths[fields.pop("department")]
            existing[user["mobile"]] = await services.directory.users.create(
                SYSTEM, tenant_id, UserCreate(**fields)
            )
    owner = existing[DEMO_USERS[0]["mobile"]].id
    if not await services.directory.contacts.all(tenant_id, owner):
        for contact in DEMO_CONTACTS:
            made_contact = await services.directory.contacts.create(
                SYSTEM, tenant_id, owner, contact
            )
        await services.directory.favourites.add(
            SYSTEM,
            tenant_id,
            owner,
            FavouriteIn(kind=TargetKind.USER, id=existing[DEMO_USERS[1]["mobile"]].id),
        )
        await services.directory.favourites.add(
            SYSTEM, tenant_id, owner, FavouriteIn(kind=TargetKind.CONTACT, id=made_contact.id)
        )
    first = {u["mobile"]: i for i, u in enumerate(DEMO_USERS)}  # demo.json keeps 张三 first
    users = (await services.directory.users.page(tenant_id, limit=500)).items
    return sorted(users, key=lambda u: (first.get(u.mobile, len(first)), u.extension or ""))


def _flatten(nodes: list[DepartmentOut]) -> list[DepartmentOut]:
    return [n for node in nodes for n in (node, *_flatten(node.children))]


def _sip_lines(demo: dict[str, Any]) -> str:
    sip = demo["users"][0].get("sip")
    if not sip:
        return ""
    carrier = demo.get("sip", {}).get("carrier")
    lines = f"""
  softphone:         {demo["users"][0]["name"]}: register {sip["username"]}@{sip["domain"]}, \
password {sip["password"]}, registrar {sip["registrar"]} (UDP/TCP)"""
    if carrier:
        lines += f"""
  carrier simulator: {carrier["address"]} (the demo trunk); call in with
                     `zongji demo call {demo["enterprise"]["main_number"]} --digits 8001`"""
    return lines


def _announce(demo: dict[str, Any], path: Path, *, console_built: bool) -> None:
    first = demo["users"][0]
    console = demo["console"] if console_built else f"{demo['console']} (not built: run `make web`)"
    print(
        f"""
Zongji demo (云总机演示) — every account is in {path}
  web console:       {console}
  API and docs:      {demo["api_docs"]}
  operator console:  {demo["operator"]["account"]} / {demo["operator"]["password"]}
  enterprise admin:  {demo["enterprise_admin"]["account"]} / {demo["enterprise_admin"]["password"]}
  employee login:    {first["name"]} {first["mobile"]}: POST /api/v1/auth/code, then
                     POST /api/v1/auth/code-login; the SMS code is printed here.{_sip_lines(demo)}
""",
        file=sys.stderr,
        flush=True,
    )
