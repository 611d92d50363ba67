"""The `zongji` command line: run a node, migrate, provision, verify the operation log.

Provisioning commands go through the same services (and the same validation, operation log and
request-id idempotency) as the HTTP API; they act as `cli:<os user>`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import secrets
import sys
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from zongji import __version__
from zongji.platform.actor import Actor, ActorKind
from zongji.platform.config import Settings
from zongji.platform.errors import Problem
from zongji.services import Services, build_services

FEATURES = (
    "ivr_customer_service",
    "ivr_welcome_ring",
    "callback",
    "direct_dial",
    "international_calling",
)


def _actor() -> Actor:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return Actor(ActorKind.CLI, user)


def _print(value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    return Settings.load(
        args.config,
        data_dir=args.data_dir,
        database_url=args.database_url,
        redis_url=args.redis_url,
        **extra,
    )


def _run(coro: Coroutine[Any, Any, int]) -> int:
    from zongji import eventloop

    return eventloop.run(coro)


async def _with_services(
    args: argparse.Namespace, work: Callable[[Services], Awaitable[Any]], *, migrate: bool = True
) -> int:
    settings = _settings(args)
    if migrate:
        from zongji.platform.migrate import upgrade

        await upgrade(settings.effective_database_url)
    services = build_services(settings)
    try:
        result = await work(services)
        if result is not None:
            _print(result)
        return 0
    except Problem as problem:
        print(f"error: {problem.code}: {problem.en} ({problem.zh})", file=sys.stderr)
        for err in problem.extra.get("errors", []):
            print(f"  {err['field']}: {err['message']}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "input"
            print(f"error: {field}: {err['msg']}", file=sys.stderr)
        return 2
    finally:
        await services.close()


# -- serve -------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from zongji.node import Node
    from zongji.platform import logging as zlogging

    overrides = {
        "demo": True if args.demo else None,
        "host": args.host,
        "http_port": args.http_port,
        "sip_port": args.sip_port,
        "sip_tls_port": args.sip_tls_port,
        "sip_tls_cert": args.sip_tls_cert,
        "sip_tls_key": args.sip_tls_key,
        "sip_public_host": args.sip_public_host,
        "rtp_port_min": args.rtp_port_min,
        "rtp_port_max": args.rtp_port_max,
        "demo_carrier_port": args.demo_carrier_port,
        "sip_max_call_rate": args.sip_max_call_rate,
        "sip_max_calls": args.sip_max_calls,
        "sip_max_loop_lag": args.sip_max_loop_lag,
        "node_name": args.node_name,
        "log_format": args.log_format,
        "migrate_on_start": False if args.no_migrate else None,
        "web_dist": args.web_dist,
    }
    settings = _settings(args, **overrides)
    zlogging.configure(settings.log_level, settings.log_format)

    async def main() -> int:
        await Node(settings).run_until_signalled()
        return 0

    return _run(main())


# -- db ----------------------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from zongji.platform import migrate

    settings = _settings(args)

    async def main() -> int:
        await migrate.upgrade(settings.effective_database_url)
        print(f"database at {await migrate.current(settings.effective_database_url)}")
        return 0

    return _run(main())


# -- operator ----------------------------------------------------------------------------------


def _read_password(args: argparse.Namespace) -> tuple[str, bool]:
    """From stdin when asked (scripts), else a generated one that is printed once."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    return "Zj" + secrets.token_urlsafe(12) + "9", True


def cmd_operator_create(args: argparse.Namespace) -> int:
    password, generated = _read_password(args)

    async def work(services: Services) -> Any:
        account_id = await services.identity.create_operator(
            _actor(), args.login, args.name, password
        )
        result: dict[str, Any] = {"id": str(account_id), "login": args.login}
        if generated:
            result["password"] = password
        return result

    return _run(_with_services(args, work))


def cmd_account_reset_password(args: argparse.Namespace) -> int:
    password, generated = _read_password(args)

    async def work(services: Services) -> Any:
        await services.identity.reset_password(_actor(), args.login, password)
        return {"login": args.login, "password": password} if generated else None

    return _run(_with_services(args, work))


# -- enterprise --------------------------------------------------------------------------------


def _features(pairs: Sequence[str] | None) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for pair in pairs or []:
        name, _, value = pair.partition("=")
        if name not in FEATURES or value not in ("on", "off"):
            raise SystemExit(f"--feature takes NAME=on|off with NAME one of {', '.join(FEATURES)}")
        out[name] = value == "on"
    return out


async def _resolve(services: Services, ref: str) -> uuid.UUID:
    try:
        return uuid.UUID(ref)
    except ValueError:
        found = await services.directory.enterprises.find_by_code(ref)
        if found is None:
            raise Problem(404, "not_found", "Enterprise not found.", "企业不存在。") from None
        return found.id


def cmd_enterprise_create(args: argparse.Namespace) -> int:
    from zongji.directory.schemas import EnterpriseCreate

    admin_password = None
    if args.admin_login:
        admin_password = (
            sys.stdin.readline().rstrip("\n")
            if args.admin_password_stdin
            else ("Zj" + secrets.token_urlsafe(12) + "9")
        )

    async def work(services: Services) -> Any:
        data: dict[str, Any] = {
            "code": args.code,
            "name": args.name,
            "area_code": args.area_code,
            "city": args.city,
            "timezone": args.timezone,
            "main_number": args.main_number,
            "access_number": args.access_number,
            "max_users": args.max_users,
            "sip_domain": args.sip_domain,
            "features": _features(args.feature),
        }
        if args.admin_login:
            data["admin"] = {"login": args.admin_login, "password": admin_password}
        body = EnterpriseCreate.model_validate({k: v for k, v in data.items() if v is not None})
        out = await services.directory.enterprises.create(
            _actor(), body, request_id=args.request_id
        )
        result = out.model_dump(mode="json")
        if args.admin_login and not args.admin_password_stdin:
            result["admin"] = {"login": args.admin_login, "password": admin_password}
        return result

    return _run(_with_services(args, work))


def cmd_enterprise_list(args: argparse.Namespace) -> int:
    from zongji.directory.models import EnterpriseStatus

    async def work(services: Services) -> Any:
        status = EnterpriseStatus(args.status) if args.status else None
        items, cursor = [], None
        while True:
            page = await services.directory.enterprises.list(
                status=status, limit=200, cursor=cursor
            )
            items += [e.model_dump(mode="json") for e in page.items]
            if not (cursor := page.next_cursor):
                return items

    return _run(_with_services(args, work))


def cmd_enterprise_show(args: argparse.Namespace) -> int:
    async def work(services: Services) -> Any:
        return await services.directory.enterprises.get(await _resolve(services, args.enterprise))

    return _run(_with_services(args, work))


def cmd_enterprise_change(args: argparse.Namespace) -> int:
    from zongji.directory.schemas import EnterpriseChange

    async def work(services: Services) -> Any:
        data: dict[str, Any] = {
            key: getattr(args, key)
            for key in (
                "name",
                "sip_domain",
                "area_code",
                "city",
                "timezone",
                "main_number",
                "access_number",
                "max_users",
            )
            if getattr(args, key) is not None
        }
        if args.feature:
            data["features"] = _features(args.feature)
        body = EnterpriseChange.model_validate(data)
        ref = await _resolve(services, args.enterprise)
        return await services.directory.enterprises.change(
            _actor(), ref, body, request_id=args.request_id
        )

    return _run(_with_services(args, work))


def cmd_enterprise_status(args: argparse.Namespace) -> int:
    async def work(services: Services) -> Any:
        ref = await _resolve(services, args.enterprise)
        return await services.directory.enterprises.set_status(
            _actor(), ref, args.verb, reason=args.reason, request_id=args.request_id
        )

    return _run(_with_services(args, work))


# -- audit, sms --------------------------------------------------------------------------------


def cmd_audit_verify(args: argparse.Namespace) -> int:
    async def work(services: Services) -> int:
        report = await services.audit.verify()
        for link in report.broken:
            print(
                f"BROKEN chain {link.tenant_id} at seq {link.seq}"
                f" (entry {link.entry_id or '-'}): {link.reason}"
            )
        print(
            f"{report.chains} chains, {report.entries} entries: "
            + ("ok" if report.ok else "TAMPERED")
        )
        return 0 if report.ok else 1

    async def main() -> int:
        settings = _settings(args)
        services = build_services(settings)
        try:
            return await work(services)
        finally:
            await services.close()

    return _run(main())


def cmd_sms_outbox(args: argparse.Namespace) -> int:
    from zongji.platform.sms import recipient_filter

    async def work(services: Services) -> Any:
        to = recipient_filter(args.to) if args.to else None
        rows = await services.outbox.read(to=to, limit=args.limit)
        return [{"at": r.created_at.isoformat(), "to": r.to, "text": r.text} for r in rows]

    return _run(_with_services(args, work))


def cmd_sms_deliveries(args: argparse.Namespace) -> int:
    from zongji.platform.sms import read_deliveries, recipient_filter

    async def work(services: Services) -> Any:
        to = recipient_filter(args.to) if args.to else None
        rows = await read_deliveries(services.db, to=to, limit=args.limit)
        return [
            {
                "at": r.created_at.isoformat(),
                "to": r.to,
                "text": r.text,
                "state": r.state,
                "attempts": r.attempts,
                "error": r.error,
            }
            for r in rows
        ]

    return _run(_with_services(args, work))


# -- parser ------------------------------------------------------------------------------------


def cmd_demo_call(args: argparse.Namespace) -> int:
    from zongji.demo.cli import demo_call

    return _run(
        demo_call(
            _settings(args),
            args.number,
            digits=args.digits,
            wait=args.wait,
            hold=args.hold,
            caller=args.caller,
            pbx=args.pbx,
            as_json=args.json,
        )
    )


def _storage_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML configuration file (or ZONGJI_CONFIG)")
    parser.add_argument("--data-dir", type=Path, help="state directory (default ./var)")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default SQLite in the data dir)")
    parser.add_argument(
        "--redis-url", help="Redis for the event bus between nodes (default: none, one node)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zongji", description="Zongji (云总机) cloud switchboard")
    parser.add_argument("--version", action="version", version=f"zongji {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run a node")
    _storage_options(serve)
    serve.add_argument("--demo", action="store_true", help="create and print a demo enterprise")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--http-port", type=int)
    serve.add_argument("--sip-port", type=int)
    serve.add_argument("--sip-tls-port", type=int)
    serve.add_argument(
        "--sip-tls-cert", type=Path, help="PEM certificate chain: enables SIP over TLS"
    )
    serve.add_argument("--sip-tls-key", type=Path, help="PEM private key for --sip-tls-cert")
    serve.add_argument("--sip-public-host", help="address phones reach us at (SDP, Contact, Via)")
    serve.add_argument("--rtp-port-min", type=int)
    serve.add_argument("--rtp-port-max", type=int)
    serve.add_argument("--demo-carrier-port", type=int, help="the demo carrier's SIP port (5070)")
    serve.add_argument(
        "--sip-max-call-rate", type=float, help="refuse new calls past this many a second (0: off)"
    )
    serve.add_argument("--sip-max-calls", type=int, help="refuse new calls past this many (0: off)")
    serve.add_argument(
        "--sip-max-loop-lag", type=float, help="refuse new calls while the loop lags (s, 0: off)"
    )
    serve.add_argument("--node-name")
    serve.add_argument("--log-format", choices=["json", "text"])
    serve.add_argument("--no-migrate", action="store_true", help="do not migrate on start")
    serve.add_argument(
        "--web-dist", type=Path, help="the built front end (default: the checkout's web/dist)"
    )
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    upgrade = db.add_parser("upgrade", help="migrate to the latest schema")
    _storage_options(upgrade)
    upgrade.set_defaults(func=cmd_db_upgrade)

    operator = sub.add_parser("operator", help="operator accounts").add_subparsers(
        dest="operator", required=True
    )
    op_create = operator.add_parser("create", help="create an operator console account")
    _storage_options(op_create)
    op_create.add_argument("--login", required=True)
    op_create.add_argument("--name", default="运营商")
    op_create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin (else one is generated and printed)",
    )
    op_create.set_defaults(func=cmd_operator_create)

    account = sub.add_parser("account", help="console accounts").add_subparsers(
        dest="account", required=True
    )
    reset = account.add_parser("reset-password", help="set a console account's password")
    _storage_options(reset)
    reset.add_argument("login")
    reset.add_argument("--password-stdin", action="store_true")
    reset.set_defaults(func=cmd_account_reset_password)

    ent = sub.add_parser("enterprise", help="provision enterprises").add_subparsers(
        dest="enterprise_cmd", required=True
    )

    def fields(p: argparse.ArgumentParser, create: bool) -> None:
        p.add_argument("--name", required=create)
        p.add_argument("--area-code", required=create)
        p.add_argument("--city", required=create)
        p.add_argument("--timezone")
        p.add_argument("--sip-domain")
        p.add_argument("--main-number")
        p.add_argument("--access-number")
        p.add_argument("--max-users", type=int)
        p.add_argument(
            "--feature",
            action="append",
            metavar="NAME=on|off",
            help=f"one of {', '.join(FEATURES)}; repeatable",
        )
        p.add_argument("--request-id", help="idempotency key: a retry with it does nothing twice")

    e_create = ent.add_parser("create", help="开户: open an enterprise")
    _storage_options(e_create)
    e_create.add_argument("--code", required=True)
    fields(e_create, create=True)
    e_create.add_argument("--admin-login", help="also create its first console admin")
    e_create.add_argument("--admin-password-stdin", action="store_true")
    e_create.set_defaults(func=cmd_enterprise_create)

    e_list = ent.add_parser("list")
    _storage_options(e_list)
    e_list.add_argument("--status", choices=["active", "suspended", "cancelled"])
    e_list.set_defaults(func=cmd_enterprise_list)

    e_show = ent.add_parser("show")
    _storage_options(e_show)
    e_show.add_argument("enterprise", help="code or id")
    e_show.set_defaults(func=cmd_enterprise_show)

    e_change = ent.add_parser("change", help="变更")
    _storage_options(e_change)
    e_change.add_argument("enterprise", help="code or id")
    fields(e_change, create=False)
    e_change.set_defaults(func=cmd_enterprise_change)

    for verb, zh in (("suspend", "停机"), ("resume", "复机"), ("cancel", "销户")):
        p = ent.add_parser(verb, help=zh)
        _storage_options(p)
        p.add_argument("enterprise", help="code or id")
        p.add_argument("--reason")
        p.add_argument("--request-id")
        p.set_defaults(func=cmd_enterprise_status, verb=verb)

    audit = sub.add_parser("audit", help="operation log").add_subparsers(
        dest="audit", required=True
    )
    verify = audit.add_parser("verify", help="check every hash chain; report the first broken link")
    _storage_options(verify)
    verify.set_defaults(func=cmd_audit_verify)

    sms = sub.add_parser("sms", help="SMS").add_subparsers(dest="sms", required=True)
    outbox = sms.add_parser("outbox", help="messages recorded by the outbox gateway")
    _storage_options(outbox)
    outbox.add_argument("--to")
    outbox.add_argument("--limit", type=int, default=20)
    outbox.set_defaults(func=cmd_sms_outbox)
    deliveries = sms.add_parser("deliveries", help="messages sent through the carrier (SMPP)")
    _storage_options(deliveries)
    deliveries.add_argument("--to")
    deliveries.add_argument("--limit", type=int, default=20)
    deliveries.set_defaults(func=cmd_sms_deliveries)

    demo = sub.add_parser("demo", help="try the demo node").add_subparsers(
        dest="demo", required=True
    )
    call = demo.add_parser(
        "call", help="an inbound call from outside (through the demo carrier) to a number"
    )
    _storage_options(call)
    call.add_argument("number", help="the main number, a direct line or the access number")
    call.add_argument("--digits", default="", help="keys to press after the greeting (RFC 4733)")
    call.add_argument("--wait", type=float, default=3.0, help="seconds before keying the digits")
    call.add_argument("--hold", type=float, default=30.0, help="seconds to stay on the line")
    call.add_argument("--from", dest="caller", default="+8613912345678", help="caller number")
    call.add_argument("--pbx", help="the node's SIP host:port (default: from demo.json)")
    call.add_argument("--json", action="store_true", help="print one JSON report")
    call.set_defaults(func=cmd_demo_call)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
