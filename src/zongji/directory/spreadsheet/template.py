"""The import template (ADM-2): the columns with Chinese headers (required ones marked *), an
example row, drop-down lists for the enumerated columns, and a sheet of instructions that also
lists the other column names the import accepts."""

from __future__ import annotations

import io

from zongji.directory.spreadsheet.columns import COLUMNS
from zongji.directory.spreadsheet.header import HEADER_SCAN_ROWS
from zongji.directory.spreadsheet.reader import MAX_ROWS, SHEET

INSTRUCTIONS = [
    "通讯录导入说明",
    "1. 请在“通讯录”工作表中从第 3 行起填写，第 2 行是示例，导入前请删除示例行。",
    "2. 带 * 的列为必填：姓名、手机号码。",
    "3. 已存在的用户（手机号码及姓名相同，或分机号及姓名相同）会被跳过，只导入新增的用户；"
    "手机号码已属于另一姓名的用户时该行报错，请核对。",
    "4. 部门可填写多级路径，用 / 分隔，如“研发部/测试组”；不存在的部门会自动创建。",
    "5. 分机号留空时自动分配空闲分机号；分机号不能以 0 开头，110、119、120 等紧急及特服号码"
    "不能作为分机号。",
    "6. 外呼限制、外呼方式、外呼时间、前台、会议权限、管理权限请从下拉列表中选择。",
    f"7. 每次最多导入 {MAX_ROWS} 行；可先“预览”检查，再正式导入。有错误的行会注明行号、列名、"
    "所填内容和错误原因。",
    "8. 全角数字、多余空格和看不见的字符（如零宽空格）会自动处理；不接受公式，请直接填写内容。",
    "9. 每月分钟数、置顶顺序须为不带小数点的非负整数。",
    f"10. 也可以上传其他系统导出的表格：表头可以在前 {HEADER_SCAN_ROWS} 行中的任意一行"
    "（上方的标题行会被忽略），列名可使用下表“也可写作”中的名称。",
    "",
    "列说明：",
]


def template() -> bytes:
    from openpyxl import Workbook  # here, not at import: see platform/tabular.py
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET
    bold = Font(bold=True)
    required = PatternFill("solid", fgColor="FFF2CC")
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(
            row=1, column=index, value=column.header + ("*" if column.required else "")
        )
        cell.font = bold
        if column.required:
            cell.fill = required
        sheet.cell(row=2, column=index, value=column.example or None).font = Font(color="808080")
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(10, len(column.header) * 2 + 4)
        if column.field in ("mobile", "extension", "phone", "direct_line"):
            for row in range(2, 1002):
                sheet.cell(row=row, column=index).number_format = "@"  # text: keep leading zeros
        if column.choices is not None:
            check = DataValidation(
                type="list",
                formula1='"' + ",".join(column.choices) + '"',
                allow_blank=True,
                showErrorMessage=True,
                errorTitle="无效的值",
                error="请从下拉列表中选择。",
            )
            check.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
            sheet.add_data_validation(check)
    sheet.freeze_panes = "A2"
    notes = workbook.create_sheet("说明")
    for line in INSTRUCTIONS:
        notes.append([line])
    notes["A1"].font = Font(bold=True, size=14)
    notes.append(["列名", "说明", "也可写作"])
    for column in COLUMNS:
        notes.append(
            [
                column.header + ("（必填）" if column.required else ""),
                column.note,
                "、".join((column.label_en, *column.synonyms)),
            ]
        )
    notes.column_dimensions["A"].width = 18
    notes.column_dimensions["B"].width = 80
    notes.column_dimensions["C"].width = 60
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
