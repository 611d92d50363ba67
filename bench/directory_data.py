"""A synthetic enterprise for the directory benchmarks: realistic Chinese names (common surnames,
including the ones with special readings), unique mobiles, extensions and some office phones,
inserted in bulk straight into a fresh database made by the real migrations."""

from __future__ import annotations

import atexit
import random
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from zongji.directory.models import ExtensionPlan, User
from zongji.directory.pinyin import spell
from zongji.directory.schemas import EnterpriseCreate
from zongji.platform.actor import SYSTEM
from zongji.platform.config import Settings
from zongji.platform.migrate import upgrade
from zongji.services import Services, build_services

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤单解仇朴区查"  # noqa: E501
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉建国志新宇浩然子涵欣怡梓轩一诺晨阳思远佳琪雨桐博文晓东小贤田芳良镛志强树"  # noqa: E501


@dataclass
class Person:
    name: str
    mobile: str
    extension: str
    phone: str | None


def people(count: int, seed: int = 7) -> list[Person]:
    rng = random.Random(seed)
    mobiles = rng.sample(range(10**8), count)
    out = []
    for i in range(count):
        name = rng.choice(SURNAMES) + "".join(
            rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2)))
        )
        prefix = rng.choice(("138", "139", "137", "186", "158", "150"))
        phone = f"+86258{rng.randrange(10**7):07d}" if rng.random() < 0.3 else None
        out.append(Person(name, f"+86{prefix}{mobiles[i]:08d}", f"{100000 + i}", phone))
    return out


async def enterprise(
    count: int, data_dir: Path | None = None
) -> tuple[Services, uuid.UUID, list[Person]]:
    """Services on a fresh SQLite database holding one enterprise with `count` users."""
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="zongji-bench-"))
        atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
    settings = Settings(data_dir=data_dir, secret_key="bench-" + "x" * 40, node_name="bench")
    await upgrade(settings.effective_database_url)
    services = build_services(settings)
    ent = await services.directory.enterprises.create(
        SYSTEM,
        EnterpriseCreate(
            code="bench", name="基准测试", area_code="025", city="南京", max_users=1_000_000
        ),
    )
    now = datetime.now(UTC)
    crowd = people(count)
    rows = []
    for person in crowd:
        spelling = spell(person.name)
        rows.append(
            {
                "id": uuid.uuid4(), "tenant_id": ent.id, "name": person.name,
                "name_readings": spelling.readings, "sort_key": spelling.sort_key,
                "mobile": person.mobile, "extension": person.extension, "phone": person.phone,
                "registered_at": None, "created_at": now, "updated_at": now,
            }
        )  # fmt: skip
    async with services.db.engine.begin() as conn:
        await conn.execute(
            insert(ExtensionPlan),
            [{"id": uuid.uuid4(), "tenant_id": ent.id, "length": 6,
              "ranges": [["100000", "999999"]], "updated_at": now}],
        )  # fmt: skip
        for start in range(0, len(rows), 5000):
            await conn.execute(insert(User), rows[start : start + 5000])
    return services, ent.id, crowd
