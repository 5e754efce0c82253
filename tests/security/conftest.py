"""The security tests borrow the alert fixtures: an alert's fan-out shows who an audience reaches."""

from tests.alerts.conftest import fake_twilio, make_alert, officer, twilio_app  # noqa: F401 - fixtures
