"""Public registration (``/register``) and the self-service pages a confirmation links to (``/me/…``).

Built for a cheap phone on a slow connection: one small page, no JavaScript, large tap targets,
Korean by default (English and Khmer one tap away). Abuse is slowed by per-address rate limits.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

import outreach.registry.conversation  # noqa: F401 - registers the SMS registration handler
from outreach.extensions import db, limiter
from outreach.i18n import LOCALES, current_language, normalise_language
from outreach.models import ConsentMethod, Person, PhoneNumber
from outreach.registry import consent as consent_texts
from outreach.registry import duress
from outreach.registry.confirm import confirm_phone as mark_confirmed
from outreach.registry.confirm import phone_from_token
from outreach.registry.forms import (
    DURESS_HELP,
    ChannelsForm,
    ConfirmPhoneForm,
    DeleteForm,
    DepartureForm,
    DuressForm,
    RegistrationForm,
    RequestLinkForm,
    SelfServiceForm,
)
from outreach.registry.links import LinkError, load_person, make_token
from outreach.registry.notify import send_confirmation, send_phone_confirmations
from outreach.registry.operations import (
    AlreadyRegistered,
    RegistryError,
    clear_opt_out,
    delete_registration,
    opted_out_channels,
    owner_of,
    register_person,
    set_departure,
    set_opt_out,
    update_person,
    validate,
)
from outreach.registry.phones import PhoneError, normalise_phone, public_countries

bp = Blueprint("register", __name__)


def _register_limit() -> str:
    return str(current_app.config.get("REGISTER_RATE_LIMIT", "10 per minute;40 per hour"))


def _too_many() -> str:
    return _("Too many attempts from your network. Please wait a few minutes and try again.")


# --- registration ------------------------------------------------------------------------------------


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"], error_message=_too_many)
def form() -> str | Response:
    form = RegistrationForm()
    if form.validate_on_submit() and not form.date_errors():
        try:
            # Taken numbers are not a form error here: see AlreadyRegistered below.
            clean = validate(form.to_input(), check_owners=False, countries=public_countries())
            person, _created = register_person(clean, method=ConsentMethod.WEB, on_existing="refuse")
            duress.set_word(person, form.duress_word.data, via="web")
            send_confirmation(person, reason="registered", public=True)
            db.session.commit()
        except RegistryError as exc:
            db.session.rollback()
            form.show_errors(exc)
        except duress.DuressWordError as exc:
            db.session.rollback()
            form.duress_word.errors = [str(exc)]
        except (AlreadyRegistered, IntegrityError) as exc:
            # The number is someone's already. A web form cannot prove it owns the number, so the
            # record is not touched; its owner is sent their link instead, and this page looks the
            # same as a new registration (it must not tell a stranger who is registered).
            db.session.rollback()
            owner = exc.person if isinstance(exc, AlreadyRegistered) else _owner_after_race(form)
            if owner is not None:
                send_confirmation(owner, reason="link", public=True)
                db.session.commit()
            return redirect(url_for("register.done"))
        else:
            return redirect(url_for("register.done"))
    elif request.method == "POST":
        form.date_errors()
    text = consent_texts.consent_text(_page_language())
    return render_template("registry/register.html", form=form, consent=text, DURESS_HELP=DURESS_HELP)


def _owner_after_race(form: RegistrationForm) -> Person | None:
    numbers = []
    for raw in (form.phone.data, form.phone_other.data, form.whatsapp.data):
        try:
            numbers.append(normalise_phone(raw or "").e164)
        except PhoneError:
            continue
    return owner_of(numbers)


def _page_language() -> str:
    return current_language()


@bp.get("/register/done")
def done() -> str:
    return render_template("registry/done.html")


@bp.get("/register/consent")
def consent_page() -> str:
    text = consent_texts.consent_text(_page_language())
    return render_template("registry/consent.html", consent=text)


@bp.route("/register/link", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"], error_message=_too_many)
def request_link() -> str | Response:
    """Ask for a new self-service link; answers the same whether or not the contact is registered."""
    form = RequestLinkForm()
    if form.validate_on_submit():
        contact = (form.contact.data or "").strip()
        person: Person | None = None
        phone: str | None = None
        if "@" in contact:
            person = db.session.scalar(
                sa.select(Person).where(
                    sa.func.lower(Person.email) == contact.lower(), Person.deleted_at.is_(None)
                )
            )
            channels: tuple[str, ...] = ("email",)
        else:
            try:
                phone = normalise_phone(contact).e164
            except PhoneError as exc:
                form.contact.errors = [*form.contact.errors, str(exc)]
                return render_template("registry/request_link.html", form=form)
            number = db.session.scalar(sa.select(PhoneNumber).where(PhoneNumber.e164 == phone))
            person = number.person if number is not None else None
            channels = ("sms",)
        if person is not None:
            send_confirmation(person, reason="link", channels=channels, to_phone=phone, public=True)
            db.session.commit()
        return render_template("registry/link_sent.html")
    return render_template("registry/request_link.html", form=form)


# --- self-service ------------------------------------------------------------------------------------


@contextmanager
def _person_language(person: Person) -> Iterator[None]:
    """The page speaks the person's language, unless they picked another one here."""
    chosen = request.args.get("lang") or request.cookies.get("lang")
    lang = chosen if chosen in LOCALES else person.language
    with force_locale(normalise_language(lang)):
        yield


def _link_problem(exc: LinkError) -> tuple[str, int]:
    form = RequestLinkForm()
    code = 410 if exc.reason == "expired" else 404
    return render_template("registry/link_invalid.html", reason=exc.reason, form=form), code


ViewResult = str | Response | tuple[str, int]


def _self_service(view: Callable[[Person, str], ViewResult]) -> Callable[[str], ViewResult]:
    """Load the person a self-service link names — or say why the link does not work — and answer
    in that person's language."""

    @functools.wraps(view)
    def wrapper(token: str) -> ViewResult:
        try:
            person = load_person(token)
        except LinkError as exc:
            return _link_problem(exc)
        with _person_language(person):
            return view(person, token)

    return wrapper


def _me_page(person: Person, token: str, **forms: object) -> str:
    details = forms.get("details") or SelfServiceForm(formdata=None)
    if "details" not in forms:
        details.fill_from(person)  # type: ignore[attr-defined]
    departure = forms.get("departure") or DepartureForm(formdata=None)
    out = opted_out_channels(person)
    channels = forms.get("channels") or ChannelsForm(
        formdata=None, data={c: c not in out for c in ("sms", "whatsapp", "email")}
    )
    return render_template(
        "registry/me.html",
        DURESS_HELP=DURESS_HELP,
        person=person,
        token=token,
        details=details,
        departure=departure,
        channels=channels,
        opted_out=out,
        delete_form=DeleteForm(formdata=None),
        duress_form=forms.get("duress") or DuressForm(formdata=None),
        consent=consent_texts.consent_text(
            person.language, person.consent_version or consent_texts.CURRENT_VERSION
        )
        if (person.consent_version or consent_texts.CURRENT_VERSION) in consent_texts.TEXTS
        else None,
    )


@bp.route("/me/<token>", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"], error_message=_too_many)
@_self_service
def me(person: Person, token: str) -> ViewResult:
    form = SelfServiceForm()
    if request.method == "POST":
        if form.validate_on_submit() and not form.date_errors():
            try:
                clean = validate(form.to_input(), person=person, countries=public_countries())
                before = {p.e164 for p in person.phones}
                changed = update_person(
                    person, clean.values, phones=clean.phones, via="self_service", confirm_new_phones=False
                )
                send_phone_confirmations(person, [p.e164 for p in clean.phones if p.e164 not in before])
                db.session.commit()
            except RegistryError as exc:
                db.session.rollback()
                form.show_errors(exc)
            else:
                return _saved(token, bool(changed))
        else:
            form.date_errors()
        return _me_page(person, token, details=form)
    return _me_page(person, token)


@bp.post("/me/<token>/duress")
@limiter.limit(_register_limit, methods=["POST"], error_message=_too_many)
@_self_service
def me_duress(person: Person, token: str) -> ViewResult:
    """Set, change or remove the duress word. The page never shows it, only whether one is set."""
    form = DuressForm()
    if form.validate_on_submit():
        try:
            if form.remove.data:
                duress.clear_word(person, via="self_service")
                changed = True
            else:
                changed = duress.set_word(person, form.duress_word.data, via="self_service")
            db.session.commit()
        except duress.DuressWordError as exc:
            db.session.rollback()
            form.duress_word.errors = [str(exc)]
        else:
            return _saved(token, changed)
    return _me_page(person, token, duress=form)


def _saved(token: str, changed: bool) -> Response:
    return redirect(url_for("register.me", token=token, saved="1" if changed else "0"))


@bp.post("/me/<token>/departure")
@limiter.limit(_register_limit, error_message=_too_many)
@_self_service
def me_departure(person: Person, token: str) -> ViewResult:
    form = DepartureForm()
    if form.validate_on_submit():
        value = form.departure_date.date()
        if value is None:
            form.departure_date.errors = [_("Enter the date as YYYY-MM-DD, e.g. 2025-12-31.")]
        else:
            try:
                set_departure(person, value)
                db.session.commit()
            except RegistryError as exc:
                db.session.rollback()
                form.departure_date.errors = [str(e.message) for e in exc.errors]
            else:
                return _saved(token, True)
    return _me_page(person, token, departure=form)


@bp.post("/me/<token>/channels")
@limiter.limit(_register_limit, error_message=_too_many)
@_self_service
def me_channels(person: Person, token: str) -> ViewResult:
    form = ChannelsForm()
    if not form.validate_on_submit():
        return _me_page(person, token, channels=form)
    out = opted_out_channels(person)
    for channel in ("sms", "whatsapp", "email"):
        wanted = bool(getattr(form, channel).data)
        if not wanted and channel not in out:
            set_opt_out(person, channel, source="self_service")
        elif wanted and channel in out:
            clear_opt_out(person, channel, source="self_service")
    db.session.commit()
    return _saved(token, True)


@bp.route("/me/<token>/delete", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"], error_message=_too_many)
@_self_service
def me_delete(person: Person, token: str) -> ViewResult:
    form = DeleteForm()
    if form.validate_on_submit():
        language = person.language
        delete_registration(person, via="self_service")
        db.session.commit()
        return redirect(url_for("register.deleted", lang=language))
    return render_template("registry/delete.html", person=person, token=token, form=form)


@bp.route("/register/confirm/<token>", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"], error_message=_too_many)
def confirm_phone(token: str) -> ViewResult:
    """The link in a confirmation SMS: a button (a link preview's GET must not confirm anything)
    that confirms that number, then opens the person's page."""
    phone = phone_from_token(token)
    if phone is None:
        return _link_problem(LinkError("invalid"))
    person = phone.person
    with _person_language(person):
        form = ConfirmPhoneForm()
        if form.validate_on_submit():
            mark_confirmed(phone, via="link")
            db.session.commit()
            return redirect(url_for("register.me", token=make_token(person), confirmed="1"))
        return render_template("registry/confirm_phone.html", form=form, token=token)


@bp.get("/register/deleted")
def deleted() -> str:
    return render_template("registry/deleted.html")
