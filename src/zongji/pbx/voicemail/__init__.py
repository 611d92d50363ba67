"""Voicemail boxes: greetings, messages, message-waiting indication (RFC 3842)."""
