"""one_line: the check every bad-input test makes of its error message."""

from __future__ import annotations


def one_line(message: str, *parts: str) -> None:
    """message is one line, no traceback, and mentions every part."""
    assert message.strip() and "\n" not in message.strip() and "Traceback" not in message, message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"

