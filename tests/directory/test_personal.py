"""Personal contacts (DIR-7), favourites (DIR-8) and SMS invitations (DIR-6)."""

from __future__ import annotations

from tests.conftest import World
from tests.directory.conftest import Console, enterprise

VCARD = """BEGIN:VCARD
VERSION:3.0
FN:王老师
N:王;老师;;;
TEL;TYPE=CELL:138 0013 8000
TEL;TYPE=WORK:025-8888 1234
EMAIL:wang@example.com
ORG:南京大学;
NOTE:long note that is fol
 ded over two lines
END:VCARD
BEGIN:VCARD
VERSION:2.1
N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E6=9D=8E;=E5=9B=9B;;;
TEL;CELL:13900139000
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:没有号码也行
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:坏号码
TEL:12
END:VCARD
"""


async def test_contacts_are_private_and_imported_from_vcard_and_csv(acme: Console) -> None:
    await acme.user("甲", "13800000001")
    await acme.user("乙", "13800000002")
    me = await acme.employee("13800000001")
    them = await acme.employee("13800000002")
    r = await acme.call(
        "POST", "/api/v1/me/contacts/import", files={"file": ("c.vcf", VCARD.encode())}, headers=me
    )
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 3
    assert [e["at"] for e in r.json()["errors"]] == ["line 21"]  # the card with a bad number
    contacts = (await acme.call("GET", "/api/v1/me/contacts", headers=me)).json()
    by_name = {c["name"]: c for c in contacts}
    assert set(by_name) == {"王老师", "李四", "没有号码也行"}
    assert by_name["王老师"]["phones"] == ["+8613800138000", "+862588881234"]
    assert by_name["王老师"]["note"] == "long note that is folded over two lines"
    assert by_name["王老师"]["company"] == "南京大学"
    assert (await acme.call("GET", "/api/v1/me/contacts", headers=them)).json() == []

    csv_text = "姓名,电话,邮箱\n赵六,13700137000;84001234,zhao@example.com\n,13700000000,\n"
    r = await acme.call(
        "POST",
        "/api/v1/me/contacts/import",
        files={"file": ("c.csv", csv_text.encode())},
        headers=me,
    )
    assert (r.json()["imported"], len(r.json()["errors"])) == (1, 1)

    wang = by_name["王老师"]["id"]
    r = await acme.call(
        "PUT", f"/api/v1/me/contacts/{wang}", json={"name": "王教授", "phones": []}, headers=them
    )
    assert r.status_code == 404  # not theirs
    r = await acme.call(
        "PUT",
        f"/api/v1/me/contacts/{wang}",
        json={"name": "王教授", "phones": ["13800138000"]},
        headers=me,
    )
    assert r.json()["name"] == "王教授"
    r = await acme.call("DELETE", f"/api/v1/me/contacts/{wang}", headers=them)
    assert r.status_code == 404
    r = await acme.call("DELETE", f"/api/v1/me/contacts/{wang}", headers=me)
    assert r.status_code == 204
    r = await acme.call(
        "POST", "/api/v1/me/contacts", json={"name": "x", "phones": ["nope"]}, headers=me
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "phones"
    r = await acme.call("GET", "/api/v1/me/contacts", headers=acme.headers)
    assert r.status_code == 403  # the console has no personal address book


async def test_favourites_on_top_private_and_ordered(acme: Console, world: World) -> None:
    a = await acme.user("甲", "13800000001")
    b = await acme.user("乙", "13800000002")
    me = await acme.employee("13800000001")
    contact = (
        await acme.call("POST", "/api/v1/me/contacts", json={"name": "丙"}, headers=me)
    ).json()
    for kind, ident in (("user", b["id"]), ("contact", contact["id"]), ("user", a["id"])):
        r = await acme.call(
            "POST", "/api/v1/me/favourites", json={"kind": kind, "id": ident}, headers=me
        )
        assert r.status_code == 201
    assert [f["name"] for f in r.json()] == ["乙", "丙", "甲"]
    r = await acme.call(
        "PUT", "/api/v1/me/favourites/order", json=[a["id"], b["id"], contact["id"]], headers=me
    )
    assert [f["name"] for f in r.json()] == ["甲", "乙", "丙"]
    r = await acme.call("PUT", "/api/v1/me/favourites/order", json=[a["id"]], headers=me)
    assert r.status_code == 422
    other = Console(world, await enterprise(world, "other"))
    stranger = await other.user("外人", "13900000001")
    r = await acme.call(
        "POST", "/api/v1/me/favourites", json={"kind": "user", "id": stranger["id"]}, headers=me
    )
    assert r.status_code == 404  # another enterprise's user does not exist here
    await acme.call("DELETE", f"/api/v1/directory/users/{b['id']}")
    r = await acme.call("GET", "/api/v1/me/favourites", headers=me)
    assert [f["name"] for f in r.json()] == ["甲", "丙"]  # a deleted colleague leaves favourites
    r = await acme.call("DELETE", f"/api/v1/me/favourites/{a['id']}", headers=me)
    assert r.status_code == 204


async def test_registered_users_invite_unregistered_colleagues(acme: Console, world: World) -> None:
    await acme.user("甲", "13800000001")
    b = await acme.user("乙", "13800000002", extension="8002")
    c = await acme.user("丙", "13800000003")
    me = await acme.employee("13800000001")
    r = await acme.call("POST", f"/api/v1/directory/users/{b['id']}/invite", headers=me)
    assert r.status_code == 202, r.text
    [sms] = await world.services.outbox.read(to="+8613800000002")
    assert world.services.settings.client_url in sms.text
    assert "甲" in sms.text
    assert "8002" in sms.text
    r = await acme.call("POST", f"/api/v1/directory/users/{b['id']}/invite", headers=me)
    assert (r.status_code, r.json()["code"]) == (429, "rate_limited")  # once per 10 minutes each
    world.services.clock.advance(601)  # type: ignore[attr-defined]
    r = await acme.call("POST", f"/api/v1/directory/users/{b['id']}/invite", headers=me)
    assert r.status_code == 202
    await acme.employee("13800000003")
    r = await acme.call("POST", f"/api/v1/directory/users/{c['id']}/invite", headers=me)
    assert (r.status_code, r.json()["code"]) == (409, "already_registered")
    r = await acme.call("POST", f"/api/v1/directory/users/{b['id']}/invite", headers=acme.headers)
    assert r.status_code == 429  # the console admin's invitation is limited by the invitee too
