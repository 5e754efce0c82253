"""Registry commands: ``flask --app outreach import-people FILE.csv [--dry-run]``."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext
from flask_babel import force_locale

from outreach.extensions import db


@click.command("import-people")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="check every row and report problems; write nothing")
@with_appcontext
def import_people_command(path: str, dry_run: bool) -> None:
    """Import people from a CSV file, keyed on phone number (running it twice changes nothing).

    Bad rows are listed as LINE, FIELD, REASON and skipped; the exit status is 1 when there were any.
    """
    from outreach.registry.importer import import_people

    with open(path, "rb") as fh:
        data = fh.read()
    # Operators read this; reasons in English whatever the default locale.
    with force_locale("en"):
        report = import_people(data, dry_run=dry_run, filename=path)
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
        for error in report.errors:
            click.echo(f"line {error.line}: {error.field}: {error.reason}", err=True)
    prefix = "dry run, nothing written: would have " if dry_run else ""
    click.echo(
        f"{report.rows} rows: {prefix}created {report.created}, updated {report.updated},"
        f" unchanged {report.unchanged}; {report.bad_lines} bad rows"
    )
    if report.errors:
        raise SystemExit(1)


def init_app(app: Flask) -> None:
    app.cli.add_command(import_people_command)
