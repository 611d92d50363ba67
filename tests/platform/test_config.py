"""Configuration precedence: defaults < TOML file < ZONGJI_* environment < command-line flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from zongji.platform.config import Settings


def test_file_env_and_flags_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "zongji.toml"
    config.write_text(
        'http_port = 9000\nsip_port = 5070\nnode_name = "from-file"\n[sms]\ngateway = "http"\n'
    )
    monkeypatch.delenv("ZONGJI_CONFIG", raising=False)
    monkeypatch.setenv("ZONGJI_SIP_PORT", "5080")
    monkeypatch.setenv("ZONGJI_SMS__HTTP_URL", "https://sms.example/send")
    settings = Settings.load(config, http_port=None, rtp_port_min=30000, rtp_port_max=30100)
    assert settings.http_port == 9000  # file
    assert settings.sip_port == 5080  # env beats file
    assert settings.node_name == "from-file"
    assert settings.rtp_port_min == 30000  # flag
    assert settings.sms.gateway == "http"
    assert settings.sms.http_url == "https://sms.example/send"


def test_every_port_has_an_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZONGJI_CONFIG", raising=False)
    for name, value in {
        "ZONGJI_HTTP_PORT": "1",
        "ZONGJI_SIP_PORT": "2",
        "ZONGJI_SIP_TLS_PORT": "3",
        "ZONGJI_RTP_PORT_MIN": "40000",
        "ZONGJI_RTP_PORT_MAX": "40010",
    }.items():
        monkeypatch.setenv(name, value)
    s = Settings.load()
    assert (s.http_port, s.sip_port, s.sip_tls_port, s.rtp_port_min, s.rtp_port_max) == (
        1,
        2,
        3,
        40000,
        40010,
    )


def test_bad_configuration_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZONGJI_CONFIG", raising=False)
    with pytest.raises(ValidationError):
        Settings.load(rtp_port_min=30000, rtp_port_max=20000)
    with pytest.raises(ValidationError):
        Settings.load(http_port=70000)
    typo = tmp_path / "typo.toml"
    typo.write_text("htp_port = 1\n")
    with pytest.raises(ValidationError):
        Settings.load(typo)
    with pytest.raises(FileNotFoundError):
        Settings.load(tmp_path / "missing.toml")


def test_default_database_lives_in_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZONGJI_CONFIG", raising=False)
    s = Settings.load(data_dir=Path("/srv/zj"))
    assert s.effective_database_url == "sqlite+aiosqlite:////srv/zj/zongji.db"


def test_secret_key_is_made_once_and_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZONGJI_CONFIG", raising=False)
    s = Settings.load(data_dir=tmp_path)
    key = s.effective_secret_key()
    assert len(key) >= 32
    assert Settings.load(data_dir=tmp_path).effective_secret_key() == key
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


def test_smpp_gateway_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZONGJI_CONFIG", raising=False)
    monkeypatch.setenv("ZONGJI_SMS__GATEWAY", "smpp")
    with pytest.raises(ValidationError, match="smpp_host"):  # nowhere to send: refuse to start
        Settings.load()
    for name, value in {
        "ZONGJI_SMS__SMPP_HOST": "smsc.carrier.example",
        "ZONGJI_SMS__SMPP_PORT": "3775",
        "ZONGJI_SMS__SMPP_TLS": "true",
        "ZONGJI_SMS__SMPP_SYSTEM_ID": "zongji",
        "ZONGJI_SMS__SMPP_PASSWORD": "s3cret",
        "ZONGJI_SMS__SMPP_SOURCE_ADDR": "10690001",
    }.items():
        monkeypatch.setenv(name, value)
    sms = Settings.load().sms
    assert (sms.smpp_host, sms.smpp_port, sms.smpp_tls) == ("smsc.carrier.example", 3775, True)
    assert sms.smpp_password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(sms)


def test_public_base_url_is_configured_or_derived_from_the_http_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Item 23: links sent to people follow the deployment's address, not a fixed loopback."""
    monkeypatch.delenv("ZONGJI_CONFIG", raising=False)
    monkeypatch.setenv("ZONGJI_PUBLIC_BASE_URL", "https://zongji.example.cn/")
    s = Settings.load()
    assert s.effective_public_base_url == "https://zongji.example.cn"
    assert s.client_url == "https://zongji.example.cn/app/"
    monkeypatch.delenv("ZONGJI_PUBLIC_BASE_URL")
    s = Settings.load(host="10.0.0.5", http_port=9000)
    assert s.client_url == "http://10.0.0.5:9000/app/"
    s = Settings.load(host="0.0.0.0", http_port=80, sip_public_host="pbx.example.cn")
    assert s.client_url == "http://pbx.example.cn/app/"
    for bad in ("zongji.example.cn", "ftp://x.example", "https://x.example/?a=1"):
        with pytest.raises(ValidationError):
            Settings.load(public_base_url=bad)
