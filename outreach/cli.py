"""Command-line operations: ``flask --app outreach <command>`` (DESIGN §4)."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import with_appcontext
from flask_babel import force_locale

from outreach.extensions import db
from outreach.models import Role, User


@click.command("create-user")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--name", default="")
@click.option("--phone", default=None, help="mobile number, any common format")
@click.option("--language", default="ko", type=click.Choice(["ko", "en", "km"]))
@click.option("--duty", is_flag=True, help="on duty: notified at once when someone asks for help")
@click.option("--organisation", default=None, help="community representatives: their organisation")
@click.option("--province", default=None, help="ISO 3166-2:KH code, e.g. KH-12")
@click.option("--password", default=None, help="asked for when not given")
@with_appcontext
def create_user_command(
    email: str,
    role: str,
    name: str,
    phone: str | None,
    language: str,
    duty: bool,
    organisation: str | None,
    province: str | None,
    password: str | None,
) -> None:
    """Create a staff or community representative account."""
    from outreach.accounts import AccountError, create_user

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        # The command speaks English; without this, messages from shared validators (phone numbers)
        # would come out in the default locale, Korean, in the middle of English output.
        with force_locale("en"):
            user = create_user(
                email=email,
                role=role,
                name=name,
                password=password,
                phone=phone,
                language=language,
                on_duty=duty,
                organisation=organisation,
                province_code=province,
            )
    except AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"created {user.role.value} {user.email} (id {user.id})")


@click.command("create-token")
@click.option("--user", "email", required=True, help="the e-mail of the user the token acts as")
@click.option("--name", default="", help="what the token is for")
@with_appcontext
def create_token_command(email: str, name: str) -> None:
    """Print a new API bearer token (shown once; only its hash is stored)."""
    from outreach.accounts import create_token

    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"no user with e-mail {email}")
    _, plain = create_token(user, name)
    db.session.commit()
    click.echo(plain)


@click.command("seed-demo")
@click.option("--people", default=3000, show_default=True, help="how many demo people")
@with_appcontext
def seed_demo_command(people: int) -> None:
    """Fill the database with demo people and one admin, officer and community rep."""
    from outreach.demo import seed_demo

    added, logins = seed_demo(people)
    db.session.commit()
    click.echo(f"seeded {added} demo people")
    for role, email, password in logins:
        click.echo(f"  {role:<14} {email}  password: {password}")


def init_app(app: Flask) -> None:
    for command in (create_user_command, create_token_command, seed_demo_command):
        app.cli.add_command(command)
    from outreach.registry import cli as registry_cli

    registry_cli.init_app(app)
