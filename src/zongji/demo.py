"""`zongji serve --demo`: a demo enterprise on first start, and every demo account in
`var/demo.json`, so that a newcomer (or a script) can log in at once.

Passwords are random per installation and kept only in `demo.json`; if that file is lost, the next
demo start sets new ones.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Any

from zongji.directory.schemas import AdminAccountCreate, EnterpriseCreate, EnterpriseFeatures
from zongji.directory.user_schemas import UserCreate
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


def _password() -> str:
    return "Zj" + secrets.token_urlsafe(9) + "7"


def demo_file(services: Services) -> Path:
    return services.settings.data_dir / "demo.json"


async def ensure_demo(services: Services, *, http_port: int) -> dict[str, Any]:
    """Create what is missing of the demo, write `demo.json`, print how to log in."""
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
    enterprise = await services.enterprises.find_by_code(DEMO_CODE)
    if enterprise is None:
        enterprise = await services.enterprises.create(
            SYSTEM,
            EnterpriseCreate(
                code=DEMO_CODE,
                name="演示科技有限公司",
                area_code="025",
                city="南京",
                main_number="025-84000000",
                access_number="025-84000099",
                features=EnterpriseFeatures(
                    ivr_customer_service=True, ivr_welcome_ring=True, callback=True
                ),
                max_users=500,
                admin=AdminAccountCreate(
                    login=ADMIN_LOGIN, name="演示管理员", password=passwords[ADMIN_LOGIN] or ""
                ),
            ),
        )
    for user in DEMO_USERS:
        logins = await services.users.logins_for_mobile(user["mobile"])
        if not any(login.tenant_id == enterprise.id for login in logins):
            await services.users.create(SYSTEM, enterprise.id, UserCreate(**user))
    base = f"http://{services.settings.host}:{http_port}"
    demo = {
        "http": base,
        "api_docs": base + "/api/docs",
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
                "name": u["name"],
                "extension": u["extension"],
                "mobile": u["mobile"],
                "contact_manager": u["is_admin"],
                "login": "mobile + SMS code (the code is printed on the node's console)",
            }
            for u in DEMO_USERS
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(demo, ensure_ascii=False, indent=2) + "\n")
    path.chmod(0o600)
    _announce(demo, path)
    return demo


def _announce(demo: dict[str, Any], path: Path) -> None:
    first = demo["users"][0]
    print(
        f"""
Zongji demo (云总机演示) — every account is in {path}
  API and docs:      {demo["api_docs"]}
  operator console:  {demo["operator"]["account"]} / {demo["operator"]["password"]}
  enterprise admin:  {demo["enterprise_admin"]["account"]} / {demo["enterprise_admin"]["password"]}
  employee login:    {first["name"]} {first["mobile"]}: POST /api/v1/auth/code, then
                     POST /api/v1/auth/code-login; the SMS code is printed here.
""",
        file=sys.stderr,
        flush=True,
    )
