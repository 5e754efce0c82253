"""Property-based tests of the live API against its own OpenAPI document, with schemathesis.

For every operation in the document, schemathesis generates requests — valid ones (positive) and
ones that break the schema (negative) — and sends them over real HTTP to the app served by
``live_server``, with a valid officer's token. Every answer must have a documented status and content
type and a body that matches the documented schema, and none may be a 500. Operations on one
resource are also run against ids that exist, so updates and workflow steps reach the operations.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import load_all_checks, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from outreach.reports.enquiries import EnquiryInput, create_enquiry
from outreach.reports.tips import TipInput, create_tip
from tests.conftest import LiveServer

load_all_checks()

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
#: Examples per operation and mode: enough to find a missing status or a schema drift in seconds.
MAX_EXAMPLES = 5


def _seed(
    app: Any, make_user: Callable[..., Any], make_person: Callable[..., int]
) -> tuple[str, dict[str, int]]:
    """An officer's token and one existing record of each kind (ids by path parameter name)."""
    from outreach.accounts import create_token
    from outreach.alerts.compose import AlertInput, ContentInput, create_alert
    from outreach.cases.operations import open_or_reopen_case
    from outreach.checkins.operations import create_checkin
    from outreach.extensions import db
    from outreach.models import Grievance, GrievanceCategory, Person, Report, User, utcnow
    from outreach.zones.operations import LevelInput, set_level

    officer_id = make_user("officer").id
    rep_id = make_user("community_rep").id
    person_ids = [make_person() for _ in range(3)]
    with app.app_context():
        officer = db.session.get(User, officer_id)
        rep = db.session.get(User, rep_id)
        _, token = create_token(officer, "schemathesis")
        alert = create_alert(
            AlertInput(
                title="Flood",
                severity="Moderate",
                contents={"ko": ContentInput(body="홍수 주의")},
                channels=["sms"],
                audience={},
            ),
            author=officer,
        )
        checkin = create_checkin(
            title="Are you safe?",
            questions={"ko": "안전하신가요?"},
            audience={},
            channels=["sms"],
            deadline=utcnow() + timedelta(days=1),
            actor=officer,
        )
        case = open_or_reopen_case(
            db.session.get(Person, person_ids[0]), "staff", note="test", actor=officer
        ).case
        grievance = Grievance(
            organisation_id=rep.organisation_id,
            submitted_by_id=rep.id,
            category=GrievanceCategory.OTHER,
            province_code="KH-12",
            title="Test",
            description="Test grievance",
            reference="G-2026-000001",
        )
        db.session.add(grievance)
        zone_change = set_level(
            LevelInput("KH-18", "3", utcnow().date(), None, "schemathesis"), actor=officer
        )
        tip = create_tip(TipInput(handles=["@fast_job"]), via="staff")
        # Unmatched (no number): asking a registered person needs a request for its link.
        enquiry = create_enquiry(
            EnquiryInput(
                enquirer_name="김영희",
                enquirer_relation="parent",
                enquirer_phone="+821023456789",
                subject_name="김민수",
            ),
            via="staff",
        ).enquiry
        db.session.commit()
        ids = {
            "tip_id": tip.id,
            "enquiry_id": enquiry.id,
            "person_id": person_ids[1],
            "alert_id": alert.id,
            "checkin_id": checkin.id,
            "case_id": case.id,
            "grievance_id": grievance.id,
            # The staff-opened case is also a report (every case is one).
            "report_id": db.session.scalar(sa.select(Report.id).where(Report.case_id == case.id)),
            "zone_id": zone_change.zone_id,
            "change_id": zone_change.id,
        }
    return token, ids


def test_api_conforms_to_its_openapi_document(
    live_server: LiveServer, make_user: Callable[..., Any], make_person: Callable[..., int]
) -> None:
    token, ids = _seed(live_server.app, make_user, make_person)  # type: ignore[attr-defined]
    schema = schemathesis.openapi.from_url(live_server.url + "/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:
        names = [p.name for p in operation.path_parameters]
        variants: list[dict[str, Any] | None] = [None]
        if names:
            variants.append({name: ids[name] for name in names})
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for path_parameters in variants:
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

                @given(case=strategy)
                @settings(
                    max_examples=MAX_EXAMPLES,
                    deadline=None,
                    derandomize=True,
                    database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                def check(case: schemathesis.Case) -> None:
                    case.call_and_validate(
                        base_url=live_server.url, headers=headers, checks=CHECKS, timeout=30
                    )

                try:
                    check()
                except Exception as exc:  # collect every operation's failure, then report them all
                    failures.append(f"{operation.label} [{mode.value}, ids={path_parameters}]: {exc}")
    assert not failures, "\n\n".join(failures)
