"""Channel adapters in a small registry: ``get_channel("sms" | "whatsapp" | "email")``.

Which adapter serves a channel is configuration: ``SMS_CHANNEL`` (``twilio`` or ``console``) drives
SMS and WhatsApp — WhatsApp goes through Twilio only when ``TWILIO_WHATSAPP_FROM`` is set —
and ``MAIL_CHANNEL`` (``smtp`` or ``console``) drives e-mail.

Adapters hold connections: the caller closes what it gets (a send job makes one per channel and
closes them at its end). Adapter modules are imported on demand, so importing this package is cheap.
"""

from __future__ import annotations

from flask import current_app

from outreach.messaging.channels.base import ChannelAdapter


class ChannelUnavailable(LookupError):
    """The channel is not configured on this installation (e.g. WhatsApp without a sender)."""


def channel_available(name: str) -> bool:
    config = current_app.config
    if name == "sms":
        return True
    if name == "whatsapp":
        return config["SMS_CHANNEL"] != "twilio" or bool(config.get("TWILIO_WHATSAPP_FROM"))
    return name == "email"


def get_channel(name: str) -> ChannelAdapter:
    """A new adapter for channel ``name`` from the app's configuration; raises :class:`ChannelUnavailable`."""
    config = current_app.config
    if not channel_available(name):
        raise ChannelUnavailable(name)
    if name in ("sms", "whatsapp"):
        if config["SMS_CHANNEL"] == "twilio":
            from outreach.messaging.channels.twilio_sms import TwilioSettings, TwilioSMSChannel
            from outreach.messaging.channels.twilio_whatsapp import TwilioWhatsAppChannel

            if name == "sms":
                return TwilioSMSChannel(TwilioSettings.from_config(config))
            return TwilioWhatsAppChannel(TwilioSettings.from_config(config, whatsapp=True))
        return _console(name)
    if config["MAIL_CHANNEL"] == "smtp":
        from outreach.messaging.channels.smtp_email import SMTPEmailChannel, SMTPSettings

        return SMTPEmailChannel(SMTPSettings.from_config(config))
    return _console(name)


def _console(name: str) -> ChannelAdapter:
    from outreach.extensions import db
    from outreach.messaging.channels.console import ConsoleChannel

    return ConsoleChannel(name, db.engine)


__all__ = ["ChannelAdapter", "ChannelUnavailable", "channel_available", "get_channel"]
