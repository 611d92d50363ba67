"""Problems say what is wrong at the top level, not only in their details (issue 11, item 14)."""

from __future__ import annotations

from zongji.platform.errors import FieldError, field_error


def test_a_field_error_names_the_field_and_what_is_wrong_in_both_languages() -> None:
    problem = field_error(
        "direct_line",
        "number_not_in_pool",
        "The number is not in the enterprise's number pool.",
        "该号码不在企业号码池中。",
    )
    assert problem.en == (
        "The input is not valid: direct_line: The number is not in the enterprise's number pool."
    )
    assert problem.zh == "输入内容不正确：direct_line：该号码不在企业号码池中。"
    two = FieldError(
        [
            {"field": "mobile", "code": "x", "message": "Bad.", "message_zh": "不对。"},
            {"field": "email", "code": "y", "message": "Bad.", "message_zh": "不对。"},
        ]
    )
    assert two.en.endswith("mobile: Bad. (1 more)")
    assert two.zh.endswith("mobile：不对。（另有 1 处）")
