"""directory: names written in traditional characters spelled as their simplified forms

Search compares names in simplified characters (张三 finds 張三). The spelling stored with a name
(`name_readings`, `sort_key`) is computed when the name is written, so names written before this
revision in traditional characters are spelled again here, users and personal contacts alike. Only
names that the conversion changes are touched.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5_000


def upgrade() -> None:
    for table in ("users", "personal_contacts"):
        _respell(table)


def _respell(name: str) -> None:
    from zongji.directory.pinyin import spell
    from zongji.directory.simplified import to_simplified

    conn = op.get_bind()
    table = sa.table(
        name,
        sa.column("id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("name_readings", sa.Text()),
        sa.column("sort_key", sa.String()),
    )
    rows = conn.execute(sa.select(table.c.id, table.c.name).order_by(table.c.id)).all()
    changed = []
    for ident, text in rows:
        if not text.isascii() and to_simplified(text) != text:
            spelling = spell(text)
            changed.append(
                {"ident": ident, "readings": spelling.readings, "key": spelling.sort_key}
            )
    update = (
        table.update()
        .where(table.c.id == sa.bindparam("ident"))
        .values(name_readings=sa.bindparam("readings"), sort_key=sa.bindparam("key"))
    )
    for start in range(0, len(changed), _BATCH):
        conn.execute(update, changed[start : start + _BATCH])


def downgrade() -> None:
    pass  # the new spelling is as good a spelling for the old code: nothing to undo
