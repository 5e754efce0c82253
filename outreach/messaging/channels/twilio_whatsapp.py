"""WhatsApp through Twilio: the SMS adapter with ``whatsapp:`` addresses and the WhatsApp sender.

A free-form WhatsApp message is only allowed within 24 hours of the person's last message to us;
outside that window Twilio answers 63016 (permanent: an approved template would be needed).
"""

from __future__ import annotations

from outreach.messaging.channels.twilio_sms import TwilioSMSChannel

PREFIX = "whatsapp:"


def whatsapp_address(address: str) -> str:
    return address if address.startswith(PREFIX) else PREFIX + address


class TwilioWhatsAppChannel(TwilioSMSChannel):
    name = "whatsapp"

    def provider_address(self, address: str) -> str:
        return whatsapp_address(address)

    def sender(self) -> dict[str, str]:
        return {"from_": whatsapp_address(self.settings.from_ or "")}
