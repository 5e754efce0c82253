"""Twilio webhooks (DESIGN §4): ``POST /twilio/sms`` (inbound, answers TwiML) and ``POST /twilio/status``.

Their only protection is Twilio's request signature (``X-Twilio-Signature``: HMAC-SHA1 with our auth
token over the public URL and the form), so they are exempt from CSRF, and a missing or wrong
signature is answered 403 before anything is read or written. The URL signed is ``PUBLIC_BASE_URL`` +
path + query string: behind a proxy the app cannot know the public URL Twilio used.
"""

from __future__ import annotations

import contextlib
import logging

from flask import Blueprint, Response, current_app, request
from redis.exceptions import RedisError
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from outreach.extensions import DB_UNAVAILABLE, csrf, db
from outreach.messaging.inbound_spool import holding_reply, spool_inbound
from outreach.messaging.spool import SpooledStatus, spool_status
from outreach.messaging.webhooks import receive_inbound, receive_status
from outreach.web.inputs import strip_nul

log = logging.getLogger(__name__)

bp = Blueprint("twilio", __name__)
csrf.exempt(bp)

#: Twilio sids are 34 characters; our column holds 64.
_MAX_SID = 64
#: Twilio's own limit for one (concatenated) SMS body; anything longer is cut here, never refused.
MAX_INBOUND_BODY = 1600


def _text(status: int, reason: str) -> Response:
    return Response(reason + "\n", status=status, mimetype="text/plain")


def _signature_ok() -> bool:
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("utf-8", "replace")
    return bool(RequestValidator(token).validate(url, request.form, signature))


def _twiml(body: str = "") -> Response:
    response = MessagingResponse()
    if body:
        response.message(body)
    return Response(str(response), mimetype="text/xml")


@bp.post("/sms")
def inbound() -> Response:
    if not _signature_ok():
        return _text(403, "Invalid or missing X-Twilio-Signature.")
    # Signed as sent, so checked before cleaning. PostgreSQL cannot store NUL (U+0000) in text: the
    # message is stored without them rather than lost.
    form = {strip_nul(k): strip_nul(v) for k, v in request.form.items()}
    sid = form.get("MessageSid", "").strip()
    sender = form.get("From", "").strip()
    if not sid or len(sid) > _MAX_SID:
        return _text(400, "MessageSid is missing or too long.")
    if not sender or len(sender) > 64:
        return _text(400, "From is missing or too long.")
    body = form.get("Body", "")[:MAX_INBOUND_BODY]
    params = {k[:64]: v[:MAX_INBOUND_BODY] for k, v in form.items()}
    try:
        reply = receive_inbound(
            sid=sid, sender=sender, to=(form.get("To") or "")[:64] or None, body=body, params=params
        )
        db.session.commit()
    except DB_UNAVAILABLE:
        # Twilio never retries an inbound webhook we fail: a call for help would be lost. Keep the
        # message in Redis for the messaging sweep to route once the database answers.
        log.warning("database unavailable: spooling inbound message %s", sid)
        with contextlib.suppress(Exception):
            db.session.rollback()
        try:
            spool_inbound({**params, "MessageSid": sid, "From": sender, "Body": body})
        except RedisError:
            log.exception("could not spool inbound message %s either", sid)
            return _text(503, "Temporarily unable to receive the message.")
        return _twiml(holding_reply(body))
    # A duplicate delivery (Twilio retried) re-runs nothing and answers nothing.
    return _twiml(reply.body if reply is not None else "")


@bp.post("/status")
def status() -> Response:
    if not _signature_ok():
        return _text(403, "Invalid or missing X-Twilio-Signature.")
    sid = request.form.get("MessageSid", "").strip()
    message_status = request.form.get("MessageStatus", "").strip()
    if not sid or len(sid) > _MAX_SID:
        return _text(400, "MessageSid is missing or too long.")
    if not message_status:
        return _text(400, "MessageStatus is missing.")
    raw_id = request.args.get("m")
    message_id: int | None = None
    if raw_id is not None:
        if not raw_id.isdigit() or len(raw_id) > 18:
            return _text(400, "m must be a message id.")
        message_id = int(raw_id)
    error_code = request.form.get("ErrorCode", "").strip()[:16] or None
    try:
        receive_status(message_id, sid, message_status, error_code)
        db.session.commit()
    except DB_UNAVAILABLE:
        # Twilio never retries a callback we fail: keep it in Redis and apply it when the database
        # answers again (the messaging sweep drains the spool).
        log.warning("database unavailable: spooling the %s callback for %s", message_status, sid)
        with contextlib.suppress(Exception):
            db.session.rollback()
        try:
            spool_status(SpooledStatus(message_id, sid, message_status, error_code))
        except RedisError:
            log.exception("could not spool the %s callback for %s either", message_status, sid)
            return _text(503, "Temporarily unable to record the status.")
    return Response(status=204)
