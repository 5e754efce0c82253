"""Redaction for provider logs: every provider call is logged, never a secret and never a full address."""

from __future__ import annotations

import re

_SECRET_KEYS = re.compile(r"(auth[_-]?token|password|secret|authorization)=([^&\s]+)", re.IGNORECASE)


def mask_address(address: str | None) -> str:
    """``+85512345678`` → ``+855…5678``; ``hong@example.com`` → ``h…@example.com``."""
    if not address:
        return "-"
    prefix = ""
    if address.startswith("whatsapp:"):
        prefix, address = "whatsapp:", address[len("whatsapp:") :]
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{prefix}{local[:1]}…@{domain}"
    if len(address) <= 6:
        return prefix + "…"
    return f"{prefix}{address[:4]}…{address[-4:]}"


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with every given secret and any ``password=…``-style value replaced."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return _SECRET_KEYS.sub(lambda m: f"{m.group(1)}=[redacted]", text)
