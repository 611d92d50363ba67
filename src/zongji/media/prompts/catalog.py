"""The prompts the switchboard can say, in each language it speaks.

This list is the source of truth: `scripts/make-prompts` speaks every entry with espeak-ng and
writes `prompts/<language>/<name>.wav`. Adding a prompt is one line here and a re-run of the
script. Enterprises record their own greetings; these are the platform's defaults.
"""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("zh-CN", "en")

#: name → (zh-CN text, en text)
PROMPTS: Final[dict[str, tuple[str, str]]] = {
    # main number and IVR
    "welcome": ("您好，欢迎致电。", "Hello, and thank you for calling."),
    "dial_extension": (
        "请拨分机号，查号请拨零。",
        "Please dial the extension, or zero for the operator.",
    ),
    "invalid_number": (
        "您拨打的号码不存在，请核对后再拨。",
        "The number you dialled does not exist. Please check it and try again.",
    ),
    "invalid_choice": ("输入有误，请重新输入。", "That is not a valid choice. Please try again."),
    "transferring_receptionist": (
        "正在为您转接前台，请稍候。",
        "Transferring you to the receptionist. Please hold.",
    ),
    "please_hold": ("正在为您接通，请稍候。", "Connecting your call. Please hold."),
    "busy": (
        "您拨打的用户正忙，请稍后再拨。",
        "The person you are calling is busy. Please call again later.",
    ),
    "unreachable": (
        "您拨打的用户暂时无法接通，请稍后再拨。",
        "The person you are calling cannot be reached at the moment. Please call again later.",
    ),
    "no_answer": ("您拨打的用户暂时无人接听。", "There is no answer."),
    "outside_working_hours": (
        "现在是非工作时间，请在工作时间致电。",
        "We are closed now. Please call again during working hours.",
    ),
    "goodbye": ("感谢您的来电，再见。", "Thank you for calling. Goodbye."),
    # outbound policy
    "call_not_permitted": (
        "对不起，您没有拨打该号码的权限。",
        "Sorry, you are not permitted to call this number.",
    ),
    "minutes_used_up": (
        "您本月的通话时长已用完。",
        "You have used up your calling minutes for this month.",
    ),
    "outbound_outside_hours": (
        "现在是非工作时间，您只能拨打内部分机。",
        "Outside your working hours you can only call extensions.",
    ),
    "call_ends_in_one_minute": ("通话将在一分钟后结束。", "This call will end in one minute."),
    # voicemail
    "voicemail_greeting": (
        "您拨打的用户无法接听，请在提示音后留言，按井号键结束。",
        "The person you called is not available. Please leave a message after the beep, "
        "and press the hash key when you are done.",
    ),
    "message_saved": ("您的留言已保存，再见。", "Your message has been saved. Goodbye."),
    "no_new_messages": ("您没有新留言。", "You have no new messages."),
    "you_have_new_messages": ("您有新留言。", "You have new messages."),
    # conferences and multi-party calls
    "conference_welcome": ("欢迎参加电话会议。", "Welcome to the conference."),
    "conference_enter_password": (
        "请输入会议密码，以井号键结束。",
        "Please enter the conference password, followed by the hash key.",
    ),
    "conference_wrong_password": (
        "密码错误，请重新输入。",
        "The password is incorrect. Please try again.",
    ),
    "conference_joined": ("您已加入会议。", "You have joined the conference."),
    "conference_participant_joined": ("有新成员加入会议。", "A participant has joined."),
    "conference_participant_left": ("有成员离开会议。", "A participant has left."),
    "conference_muted": ("您已被禁言。", "You are muted."),
    "conference_unmuted": ("您已被取消禁言。", "You are no longer muted."),
    "conference_ended": ("会议已结束，再见。", "The conference has ended. Goodbye."),
    "conference_only_participant": (
        "您是第一位参会者，请等待其他成员加入。",
        "You are the first participant. Please wait for the others to join.",
    ),
    # verification codes read out by voice (CL-4)
    "verification_code_is": ("您的验证码是", "Your verification code is"),
    "repeat": ("再说一遍", "Again"),
    # digits, for reading numbers and codes
    "digit_0": ("零", "zero"),
    "digit_1": ("幺", "one"),
    "digit_2": ("二", "two"),
    "digit_3": ("三", "three"),
    "digit_4": ("四", "four"),
    "digit_5": ("五", "five"),
    "digit_6": ("六", "six"),
    "digit_7": ("七", "seven"),
    "digit_8": ("八", "eight"),
    "digit_9": ("九", "nine"),
}


def text(name: str, language: str) -> str:
    """The words of a prompt in a language."""
    zh, en = PROMPTS[name]
    return zh if language == "zh-CN" else en
