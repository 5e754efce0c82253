"""Inbound SMS handlers of the reports area (loaded by ``outreach.messaging.hooks``): the TIP keyword."""

from outreach.reports import tips as _tips  # noqa: F401  (registers the TIP handler)
