"""Spreadsheets in the console (ADM-1, ADM-2, ADM-3, ADM-8): template, import, export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, UploadFile
from fastapi.responses import StreamingResponse

from zongji.directory.spreadsheet.importer import ImportReport
from zongji.directory.spreadsheet.reader import MAX_FILE_BYTES, check_size
from zongji.directory.spreadsheet.template import template
from zongji.directory.web import DirectoryDeps
from zongji.identity.web import EnterpriseAdmin
from zongji.platform.tabular import MEDIA_TYPES, ExportFormat
from zongji.platform.web import AddressDep

router = APIRouter(prefix="/api/v1/directory", tags=["directory: spreadsheets"])
XLSX = MEDIA_TYPES[ExportFormat.XLSX]


@router.get("/import/template", response_class=Response)
async def import_template(admin: EnterpriseAdmin) -> Response:
    """ADM-2: the xlsx template for bulk import, with its columns."""
    return Response(
        template(),
        media_type=XLSX,
        headers={"Content-Disposition": 'attachment; filename="directory-template.xlsx"'},
    )


@router.post("/import", response_model=ImportReport)
async def import_users(
    file: UploadFile,
    admin: EnterpriseAdmin,
    services: DirectoryDeps,
    address: AddressDep,
    dry_run: Annotated[bool, Query(description="Preview only: nothing is written")] = True,
    valid_only: Annotated[bool, Query(description="Import the valid rows despite errors")] = False,
) -> ImportReport:
    """xlsx or CSV. A dry run previews rows to add, to skip and errors; a commit imports all or
    nothing (unless `valid_only`)."""
    data = await file.read(MAX_FILE_BYTES + 1)
    check_size(len(data))
    return await services.directory.importer.run(
        admin.actor(address),
        admin.tenant_id,
        data,
        file.filename or "",
        dry_run=dry_run,
        valid_only=valid_only,
    )


@router.get("/export")
async def export_users(
    admin: EnterpriseAdmin,
    services: DirectoryDeps,
    fmt: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.XLSX,
) -> StreamingResponse:
    """ADM-8: every user in directory order as xlsx or CSV, in the import's columns (export →
    import skips everyone)."""
    stamp = services.clock.now().strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        await services.directory.exporter.stream(admin.tenant_id, fmt),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="directory-{stamp}.{fmt.value}"'},
    )
