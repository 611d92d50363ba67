"""What the PBX's routes depend on (`PbxApiDeps`), provided by the composition root: the PBX's own
services, and from the rest of the node only the enterprises, the clock and the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from zongji.directory.enterprises import EnterpriseService
from zongji.pbx.services import PbxServices
from zongji.platform.clock import Clock
from zongji.platform.config import Settings
from zongji.platform.web import Provided


@dataclass(frozen=True)
class PbxApiDeps:
    settings: Settings
    clock: Clock
    enterprises: EnterpriseService
    pbx: PbxServices


pbx_api: Provided[PbxApiDeps] = Provided("pbx")
PbxDeps = Annotated[PbxApiDeps, Depends(pbx_api)]
