"""Every context's tables, imported in one place so that the metadata (and Alembic) sees all."""

from zongji.audit import models as audit_models
from zongji.directory import models as directory_models
from zongji.identity import models as identity_models
from zongji.pbx.devices import models as pbx_device_models
from zongji.pbx.policy import models as pbx_policy_models
from zongji.pbx.records import models as pbx_record_models
from zongji.pbx.trunks import models as pbx_trunk_models
from zongji.pbx.voicemail import models as pbx_voicemail_models
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
    "pbx_device_models",
    "pbx_policy_models",
    "pbx_record_models",
    "pbx_trunk_models",
    "pbx_voicemail_models",
    "sms",
]
