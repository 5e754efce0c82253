from flask import Flask
from flask.testing import FlaskClient


def test_health(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_provinces_seeded(app: Flask) -> None:
    import sqlalchemy as sa

    from outreach.extensions import db
    from outreach.models import Province

    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Province)) == 25
