"""Inbound hooks of the registry, imported by the messaging package (``hooks.load_area_hooks``)."""

from outreach.registry.confirm import handle as confirm_reply
from outreach.registry.conversation import cancel_conversation, handle

__all__ = ["cancel_conversation", "confirm_reply", "handle"]
