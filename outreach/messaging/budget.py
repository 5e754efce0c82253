"""One global hourly budget of SMS/WhatsApp messages that unauthenticated actions may cause.

Anyone can type numbers into the public registration, "send me my link" and report forms, and each
costs the Embassy an SMS: a pumping attack spreads over many addresses, so per-address rate limits do
not cap the bill. Every such message takes one unit of ``PUBLIC_SMS_PER_HOUR`` (a fixed window per
clock hour, one Redis counter shared by all web processes); past it the message is created ``held``
and waits for an officer on ``/staff/review`` to send or discard it. Staff-initiated sends never
take from the budget.
"""

from __future__ import annotations

import time

from flask import current_app

from outreach.extensions import redis_conn

KEY = "outreach:public-sms:{window}"
WINDOW_SECONDS = 3600


def take_public_sms() -> bool:
    """Count one public SMS in this hour; True while the hour's budget is not exhausted."""
    limit = int(current_app.config.get("PUBLIC_SMS_PER_HOUR", 200))
    key = KEY.format(window=int(time.time()) // WINDOW_SECONDS)
    pipe = redis_conn().pipeline()
    pipe.incr(key)
    # Two windows' worth: the key outlives its hour a little, never forever.
    pipe.expire(key, 2 * WINDOW_SECONDS)
    used = int(pipe.execute()[0])
    return used <= limit
