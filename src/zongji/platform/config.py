"""Node configuration: defaults < TOML file < `ZONGJI_*` environment < command-line flags.

Every port has a setting, an environment variable and a flag, so that several nodes (or a node and
its tests) can share one machine.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})  # noqa: S104 (names them, binds none)
"""Listening addresses that name no host a person could reach."""

_config_file: ContextVar[str | None] = ContextVar("zongji_config_file", default=None)


class SmsSettings(BaseModel):
    """Where SMS go. `outbox` keeps them in the database for the operator to read, login codes
    masked unless the node runs the demo (development and tests); `http` posts them to a
    provider's gateway; `smpp` delivers them through a carrier's SMSC (SMPP 3.4), queued in the
    database with retries and delivery receipts."""

    gateway: Literal["outbox", "http", "smpp"] = "outbox"
    http_url: str = ""
    http_token: SecretStr = SecretStr("")
    http_timeout: float = 5.0
    signature: str = "【云总机】"
    smpp_host: str = ""
    smpp_port: int = Field(2775, ge=1, le=65535)
    smpp_tls: bool = False  # TLS to the SMSC (many carriers offer it on another port)
    smpp_system_id: str = Field("", max_length=15)
    smpp_password: SecretStr = SecretStr("")
    smpp_system_type: str = Field("", max_length=12)
    smpp_source_addr: str = Field("", max_length=20)  # the sender number or name assigned
    smpp_submit_timeout: float = Field(10.0, gt=0)
    smpp_retry_initial: float = Field(2.0, gt=0)  # first retry after this; doubles each time
    smpp_retry_max: float = Field(300.0, gt=0)
    smpp_max_attempts: int = Field(12, ge=1)

    @model_validator(mode="after")
    def _gateway_is_configured(self) -> SmsSettings:
        if self.gateway == "smpp" and not (self.smpp_host and self.smpp_system_id):
            raise ValueError("sms.gateway = smpp needs sms.smpp_host and sms.smpp_system_id")
        return self


class WebSocketSettings(BaseModel):
    """The real-time channel `/api/v1/ws` (docs/api/ws.md): how much a reconnecting client can
    catch up on, how dead connections are found, and how much a slow one may have queued.

    Memory per node is bounded by `replay_events` (shared) plus `send_queue` messages per
    connection; a connection whose queue is full is cut off rather than allowed to grow."""

    replay_events: int = Field(10_000, ge=0)  # events kept for clients that reconnect
    replay_seconds: float = Field(600.0, gt=0)  # ... and for at most this long
    send_queue: int = Field(1_000, ge=8)  # messages waiting for one slow connection, then cut
    heartbeat_interval: float = Field(20.0, gt=0)  # the server's `ping` this often
    heartbeat_timeout: float = Field(60.0, gt=0)  # nothing from the client this long: closed
    recheck_interval: float = Field(60.0, gt=0)  # the session re-read (logout, expiry, …)
    close_grace: float = Field(2.0, gt=0)  # a close frame that cannot be written: dropped
    max_message_bytes: int = Field(64 * 1024, ge=1024)  # largest message a client may send

    @model_validator(mode="after")
    def _timeout_after_interval(self) -> WebSocketSettings:
        if self.heartbeat_timeout <= self.heartbeat_interval:
            raise ValueError("ws.heartbeat_timeout must be longer than ws.heartbeat_interval")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ZONGJI_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    node_name: str = Field(default_factory=socket.gethostname)
    host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=0, le=65535)
    sip_port: int = Field(5060, ge=0, le=65535)
    sip_tls_port: int = Field(5061, ge=0, le=65535)
    sip_tls_cert: Path | None = None  # PEM certificate chain; TLS listens only when set
    sip_tls_key: Path | None = None
    sip_public_host: str = ""  # the address phones reach us at, when `host` is a wildcard
    sip_enabled: bool = True  # SIP and media start with the node
    rtp_port_min: int = Field(20000, ge=1024, le=65535)
    rtp_port_max: int = Field(20999, ge=1024, le=65535)
    data_dir: Path = Path("var")
    database_url: str = ""
    # The event bus between nodes (platform/redis_bus.py): a Redis URL such as
    # `redis://127.0.0.1:6379/0` makes every node with the same URL and channel hear the others'
    # events; empty (the default) keeps events inside this process (one node).
    redis_url: str = ""
    redis_channel: str = Field("zongji:events", min_length=1)
    secret_key: SecretStr = SecretStr("")
    migrate_on_start: bool = True
    demo: bool = False
    # The demo's carrier simulator (docs/pbx/demo.md): its own loopback address, so that its
    # calls are told apart from phones on 127.0.0.1 (trunks are recognised by source address).
    demo_carrier_host: str = "127.0.0.2"
    demo_carrier_port: int = Field(5070, ge=0, le=65535)
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    access_token_ttl: int = Field(900, ge=30)
    refresh_token_ttl: int = Field(30 * 24 * 3600, ge=300)
    # Where people reach this deployment over HTTP(S), e.g. `https://zongji.example.cn` (behind
    # a proxy or load balancer); links sent to people (SMS invitations) are made from it. Empty:
    # derived from `host` and `http_port` (`effective_public_base_url`).
    public_base_url: str = ""
    max_request_bytes: int = Field(25 * 1024 * 1024, ge=1024)  # uploads: imports, avatars
    sip_domain_suffix: str = "zongji.local"
    # Registrar (docs/pbx/devices.md): expiry bounds, the short expiry that keeps a NAT's UDP
    # binding open, contacts per user, and the authentication guard.
    sip_min_expires: int = Field(60, ge=1)
    sip_max_expires: int = Field(3600, ge=1)
    sip_nat_expires: int = Field(120, ge=1)
    sip_max_contacts: int = Field(10, ge=1)
    sip_auth_max_failures: int = Field(10, ge=1)  # within the window, then the source is blocked
    sip_auth_failure_window: float = Field(60.0, gt=0)
    sip_auth_block_seconds: float = Field(600.0, gt=0)
    sip_source_rate: float = Field(50.0, gt=0)  # REGISTER/INVITE per second from one address
    sip_source_burst: float = Field(200.0, ge=1)
    # SIP proxies in front of phones (addresses or CIDR blocks): behind them the guard counts
    # failures and blocks per (address, username), not the whole address (docs/pbx/devices.md).
    sip_trusted_proxies: tuple[str, ...] = ()
    # Phones whose Digest code fails outright when any challenge is SHA-256 (libre before 2.0):
    # User-Agent prefixes that are challenged with MD5 alone (docs/pbx/devices.md).
    sip_md5_only_user_agents: tuple[str, ...] = ("baresip v0.", "baresip v1.")
    # calls (pbx/calls): how long a callee's devices ring before voicemail / 480; RTP silence
    # that ends a call (a phone that vanished); how long a trunk may stay silent before failover
    ring_timeout: float = Field(30.0, gt=0)
    media_timeout: float = Field(60.0, ge=0)  # 0: never
    trunk_setup_timeout: float = Field(8.0, gt=0)
    # Overload control (pbx/calls/admission.py, docs/pbx/calls.md): new calls refused with a
    # stateless 503 past any of these; 0 turns a rule off (the default: the operator sets them
    # from the node's measured rating, as FreeSWITCH's sessions-per-second and max-sessions).
    sip_max_call_rate: float = Field(0.0, ge=0)  # new calls per second
    sip_max_calls: int = Field(0, ge=0)  # calls being handled at once
    sip_max_loop_lag: float = Field(0.0, ge=0)  # seconds the event loop runs behind, smoothed
    sms: SmsSettings = SmsSettings()
    ws: WebSocketSettings = WebSocketSettings()

    @field_validator("sip_trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        networks = []
        for entry in value:
            try:
                networks.append(str(ipaddress.ip_network(entry.strip().strip("[]"), strict=False)))
            except ValueError:
                raise ValueError(f"not an IP address or CIDR block: {entry!r}") from None
        return tuple(networks)

    @model_validator(mode="after")
    def _ports_in_order(self) -> Settings:
        if self.rtp_port_min > self.rtp_port_max:
            raise ValueError("rtp_port_min must not exceed rtp_port_max")
        return self

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        """An absolute http(s) URL without query or fragment, kept without its trailing slash
        so that paths can be appended to it."""
        value = value.strip()
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("public_base_url must be an http:// or https:// URL")
        if parts.query or parts.fragment:
            raise ValueError("public_base_url must not have a query or fragment")
        return value.rstrip("/")

    @property
    def effective_public_base_url(self) -> str:
        """The configured public base URL, or the node's own HTTP address: `host` and
        `http_port`, with the public SIP host (or the machine's name) for a wildcard `host`."""
        if self.public_base_url:
            return self.public_base_url
        host = self.host
        if host in WILDCARD_HOSTS:
            host = self.sip_public_host or socket.gethostname()
        if ":" in host:
            host = f"[{host}]"
        port = "" if self.http_port == 80 else f":{self.http_port}"
        return f"http://{host}{port}"

    @property
    def client_url(self) -> str:
        """The web client's link (in SMS invitations): `<public base URL>/app/`."""
        return f"{self.effective_public_base_url}/app/"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _config_file.get() or os.environ.get("ZONGJI_CONFIG")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_file)))
        return tuple(sources)

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: Any) -> Settings:
        """Settings from the file (or `ZONGJI_CONFIG`), the environment and explicit overrides."""
        if config_file is not None and not config_file.is_file():
            raise FileNotFoundError(f"config file not found: {config_file}")
        given = {k: v for k, v in overrides.items() if v is not None}
        token = _config_file.set(str(config_file) if config_file else None)
        try:
            return cls(**given)
        finally:
            _config_file.reset(token)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'zongji.db'}"

    def effective_secret_key(self) -> bytes:
        """The token-signing key: configured, or made once and kept in the data directory."""
        configured = self.secret_key.get_secret_value()
        if configured:
            return configured.encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first: use theirs
                pass
            else:
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()
