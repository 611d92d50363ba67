"""A user's voicemail through the API: list, listen (download), mark heard, delete; greeting upload
(any WAV, converted) with bad files refused by stable codes; the box switched off and on."""

from __future__ import annotations

import io
import struct
import uuid
import wave
from pathlib import Path

import httpx
import numpy as np

from tests.conftest import World, bearer
from zongji.media.wav import parse_wav
from zongji.pbx.contracts import Party
from zongji.pbx.voicemail.audio import wav_bytes
from zongji.pbx.voicemail.service import VoicemailService
from zongji.platform.clock import FakeClock

from .conftest import Office
from .leg import level_at, sine

URL = "/api/v1/me/voicemail"


async def _login(world: World, mobile: str) -> dict[str, str]:
    return bearer((await world.code_login(mobile))["access_token"])


async def _leave(
    voicemail: VoicemailService,
    tenant: uuid.UUID,
    box: uuid.UUID,
    clock: FakeClock,
    seconds: float,
    freq: float = 500,
) -> uuid.UUID:
    clock.advance(60)
    out = await voicemail.mailbox.leave(
        tenant,
        box,
        caller=Party("+8613900000009", None, "客户"),
        call_id=f"c-{uuid.uuid4()}",
        received_at=clock.now(),
        seconds=seconds,
        wav=wav_bytes(sine(freq, seconds)),
    )
    return out.id


def _stereo_44k(seconds: float, freq: float) -> bytes:
    """A 44.1 kHz stereo 16-bit WAV, as a phone's recorder app makes."""
    t = np.arange(int(seconds * 44100)) / 44100
    mono = np.round(8000 * np.sin(2 * np.pi * freq * t)).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(np.repeat(mono, 2).tobytes())
    return out.getvalue()


async def test_list_download_heard_delete(
    world: World,
    client: httpx.AsyncClient,
    office: Office,
    voicemail: VoicemailService,
    clock: FakeClock,
) -> None:
    alice = await _login(world, "13800000001")
    older = await _leave(voicemail, office.acme.id, office.alice, clock, 1.5, 400)
    newer = await _leave(voicemail, office.acme.id, office.alice, clock, 2.5, 800)

    r = await client.get(URL, headers=alice)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["total"], body["unheard"]) == (2, 2)
    assert [m["id"] for m in body["items"]] == [str(newer), str(older)]  # newest first
    first = body["items"][0]
    assert first["caller"] == {"number": "+8613900000009", "name": "客户", "user_id": None}
    assert first["seconds"] == 2.5
    assert first["heard"] is False

    r = await client.get(first["audio_url"], headers=alice)
    assert r.status_code == 200
    assert r.headers["content-type"] == "audio/wav"
    pcm = parse_wav(r.content)
    assert len(pcm) == 2.5 * 8000
    assert level_at(pcm, 800) > 0.9

    r = await client.post(f"{URL}/{newer}/heard", headers=alice)
    assert r.status_code == 200
    assert r.json()["heard"] is True
    assert r.json()["heard_at"] is not None
    body = (await client.get(URL, headers=alice)).json()
    assert (body["total"], body["unheard"]) == (2, 1)
    # hearing it again changes nothing
    assert (await client.post(f"{URL}/{newer}/heard", headers=alice)).status_code == 200

    r = await client.delete(f"{URL}/{older}", headers=alice)
    assert r.status_code == 204
    body = (await client.get(URL, headers=alice)).json()
    assert [m["id"] for m in body["items"]] == [str(newer)]
    assert (await client.get(f"{URL}/{older}/audio", headers=alice)).status_code == 404
    assert (await client.delete(f"{URL}/{older}", headers=alice)).status_code == 404
    assert (await client.post(f"{URL}/{older}/heard", headers=alice)).status_code == 404


async def test_nobody_else_reaches_my_messages(
    world: World,
    client: httpx.AsyncClient,
    office: Office,
    voicemail: VoicemailService,
    clock: FakeClock,
) -> None:
    mine = await _leave(voicemail, office.acme.id, office.alice, clock, 1.5)
    bob = await _login(world, "13800000002")
    carol = await _login(world, "13800000003")  # another enterprise
    for who in (bob, carol):
        assert (await client.get(URL, headers=who)).json()["total"] == 0
        for method, path in (
            ("GET", f"{URL}/{mine}/audio"),
            ("POST", f"{URL}/{mine}/heard"),
            ("DELETE", f"{URL}/{mine}"),
        ):
            r = await client.request(method, path, headers=who)
            assert r.status_code == 404, (method, path)
            assert r.json()["code"] == "not_found"
    # still there, unheard
    box = await voicemail.mailbox.messages(office.acme.id, office.alice)
    assert box.unheard == 1
    # an enterprise admin is not an employee with a box
    assert (await client.get(URL, headers=bearer(office.acme.admin_token))).status_code == 403


async def test_greeting_upload_is_converted_and_replaced(
    world: World,
    client: httpx.AsyncClient,
    office: Office,
    voicemail: VoicemailService,
    tmp_path: Path,
) -> None:
    alice = await _login(world, "13800000001")
    r = await client.get(f"{URL}/settings", headers=alice)
    assert r.json() == {
        "enabled": True,
        "greeting": False,
        "greeting_seconds": None,
        "greeting_url": None,
    }
    assert (await client.get(f"{URL}/greeting", headers=alice)).status_code == 404

    r = await client.put(f"{URL}/greeting", content=_stereo_44k(3.0, 440), headers=alice)
    assert r.status_code == 200, r.text
    assert r.json()["greeting"] is True
    assert r.json()["greeting_seconds"] == 3.0
    r = await client.get(f"{URL}/greeting", headers=alice)
    assert r.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(r.content)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() == 24000
    assert level_at(parse_wav(r.content), 440) > 0.9

    # a new upload replaces it (and the old file goes)
    files_root = world.services.settings.data_dir / "files" / "voicemail"
    r = await client.put(f"{URL}/greeting", content=_stereo_44k(1.0, 880), headers=alice)
    assert r.json()["greeting_seconds"] == 1.0
    assert len(list(files_root.rglob("greeting-*.wav"))) == 1

    r = await client.delete(f"{URL}/greeting", headers=alice)
    assert r.status_code == 200
    assert r.json()["greeting"] is False
    assert not list(files_root.rglob("greeting-*.wav"))
    assert (await client.get(f"{URL}/greeting", headers=alice)).status_code == 404


async def test_bad_greetings_are_refused_with_stable_codes(
    world: World, client: httpx.AsyncClient, office: Office
) -> None:
    alice = await _login(world, "13800000001")
    cases = [
        (b"ID3\x03\x00 this is an mp3", 415, "greeting_not_wav"),
        (b"", 415, "greeting_not_wav"),
        # a RIFF/WAVE header whose data chunk claims more than is there
        (
            b"RIFF"
            + struct.pack("<I", 100)
            + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
            + b"data"
            + struct.pack("<I", 8000)
            + b"\x00" * 10,
            415,
            "greeting_not_wav",
        ),
        (wav_bytes(sine(440, 61.0)), 422, "greeting_too_long"),
        (wav_bytes(sine(440, 0.1)), 422, "greeting_too_short"),
        (b"RIFF" + b"\x00" * (21 * 1024 * 1024), 413, "greeting_too_large"),
    ]
    for data, status, code in cases:
        r = await client.put(f"{URL}/greeting", content=data, headers=alice)
        assert r.status_code == status, (code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == code
    # nothing was stored
    r = await client.get(f"{URL}/settings", headers=alice)
    assert r.json()["greeting"] is False
    assert not list((world.services.settings.data_dir / "files").rglob("greeting-*.wav"))


async def test_box_switched_off_and_on(
    world: World, client: httpx.AsyncClient, office: Office, voicemail: VoicemailService
) -> None:
    alice = await _login(world, "13800000001")
    r = await client.patch(f"{URL}/settings", json={"enabled": False}, headers=alice)
    assert r.status_code == 200
    assert r.json()["enabled"] is False
    assert not await voicemail.accepts(office.acme.id, office.alice)
    assert await voicemail.accepts(office.acme.id, office.bob)
    r = await client.patch(f"{URL}/settings", json={"enabled": "perhaps"}, headers=alice)
    assert r.status_code == 422
    r = await client.patch(
        f"{URL}/settings", json={"enabled": True, "greeting": "x"}, headers=alice
    )
    assert r.status_code == 422
    r = await client.patch(f"{URL}/settings", json={"enabled": True}, headers=alice)
    assert r.json()["enabled"] is True
    assert await voicemail.accepts(office.acme.id, office.alice)
