"""Every context's tables, imported in one place so that the metadata (and Alembic) sees all."""

from zongji.audit import models as audit_models
from zongji.directory import models as directory_models
from zongji.identity import models as identity_models
from zongji.platform import idempotency, nodes, sms
from zongji.platform.db import Base

metadata = Base.metadata

__all__ = [
    "audit_models",
    "directory_models",
    "idempotency",
    "identity_models",
    "metadata",
    "nodes",
    "sms",
]
