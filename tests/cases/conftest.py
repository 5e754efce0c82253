"""Case tests use the check-in fixtures (an on-duty officer, a sent check-in, a fake Twilio)."""

from tests.checkins.conftest import fake_twilio, make_checkin, officer  # noqa: F401
