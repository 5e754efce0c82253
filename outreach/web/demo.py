"""Staff → Try an inbound SMS: the demo's stand-in for a phone, so replies, registration by SMS and
SOS can be tried without a provider.

Offered only while messages go to the development console channel (``SMS_CHANNEL=console``): with a
real provider the real phones do this. The message goes through the real webhook — ``POST
/twilio/sms`` with Twilio's form fields and an ``X-Twilio-Signature`` computed with our auth token over
the public URL, as Twilio computes it — so what happens is exactly what a real SMS would cause.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import Blueprint, abort, current_app, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from lxml import etree
from twilio.request_validator import RequestValidator
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from outreach.registry.phones import PhoneError, normalise_phone
from outreach.web.security import staff_required

bp = Blueprint("demo", __name__)

#: Twilio's own limit for one (concatenated) SMS body.
MAX_BODY = 1600
#: The number the demo "texts": Twilio's documented magic test number, when no sender is configured.
DEMO_TO = "+15005550006"


class InboundSMSForm(FlaskForm):
    sender = StringField(
        _l("From (the resident's number)"),
        validators=[DataRequired(message=_l("Enter the number the message comes from."))],
    )
    channel = SelectField(
        _l("Channel"),
        choices=[SelectChoice("sms", _l("SMS")), SelectChoice("whatsapp", _l("WhatsApp"))],
        default="sms",
    )
    body = TextAreaField(
        _l("Message"),
        validators=[
            DataRequired(message=_l("Write the message the resident sends.")),
            Length(max=MAX_BODY, message=_l("An SMS holds at most %(max)d characters.")),
        ],
    )

    def validate_sender(self, field: StringField) -> None:
        try:
            field.data = normalise_phone(field.data or "").e164
        except PhoneError as exc:
            raise ValidationError(str(exc)) from exc


@dataclass(frozen=True)
class Delivery:
    status: int
    reply: str


def available() -> bool:
    return current_app.config["SMS_CHANNEL"] == "console"


def deliver(sender: str, body: str, channel: str) -> Delivery:
    """POST the message to our own inbound webhook, signed as Twilio signs it."""
    config = current_app.config
    address = ("whatsapp:" + sender) if channel == "whatsapp" else sender
    to = config.get("TWILIO_FROM") or DEMO_TO
    params = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": config.get("TWILIO_ACCOUNT_SID") or "AC" + "0" * 32,
        "From": address,
        "To": ("whatsapp:" + to) if channel == "whatsapp" else to,
        "Body": body,
        "NumSegments": "1",
    }
    path = url_for("twilio.inbound")
    url = config["PUBLIC_BASE_URL"].rstrip("/") + path
    signature = RequestValidator(config["TWILIO_AUTH_TOKEN"]).compute_signature(url, params)
    # In-process rather than over the network: the demo may run behind any address, and the request
    # still passes through every layer (signature check, storage, routing, commit) as Twilio's would.
    response = current_app.test_client().post(path, data=params, headers={"X-Twilio-Signature": signature})
    text = ""
    if response.status_code == 200 and response.data:
        text = "".join(etree.fromstring(response.data).itertext()).strip()
    return Delivery(response.status_code, text)


@bp.before_request
@staff_required
def _guard() -> None:
    if not available():
        abort(404)
    return None


@bp.route("/inbound-sms", methods=["GET", "POST"])
def inbound_sms() -> str:
    form = InboundSMSForm()
    token_missing = not current_app.config.get("TWILIO_AUTH_TOKEN")
    delivery = None
    if not token_missing and form.validate_on_submit():
        delivery = deliver(form.sender.data or "", (form.body.data or "").strip(), form.channel.data)
        form.body.data = ""
    return render_template("staff/demo_sms.html", form=form, delivery=delivery, token_missing=token_missing)
