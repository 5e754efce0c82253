"""E-mails to the representative, delivered to the local SMTP server, in the representative's language."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask

from outreach.extensions import db
from outreach.grievances import operations
from outreach.models import Grievance, Message, MessageStatus, User
from tests.conftest import run_jobs
from tests.fakes.smtp_server import FakeSMTP, ReceivedEmail
from tests.grievances.conftest import client_for, valid_data


def _text(mail: ReceivedEmail) -> str:
    part = mail.message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def _submit_through_the_form(app: Flask, user: User) -> int:
    resp = client_for(app, user).post("/rep/grievances/new", data=valid_data(title="Passports taken"))
    assert resp.status_code == 303, resp.get_data(as_text=True)
    return int(resp.headers["Location"].rsplit("/", 1)[1])


def test_full_workflow_emails_the_korean_rep_in_korean(
    mail_app: Flask, smtp: FakeSMTP, ko_rep: User, officer: User
) -> None:
    gid = _submit_through_the_form(mail_app, ko_rep)
    run_jobs(mail_app)
    (confirmation,) = smtp.wait_for(1)
    with mail_app.app_context():
        grievance = db.session.get(Grievance, gid)
        assert grievance is not None
        ref = grievance.reference
    assert confirmation.rcpt_tos == [ko_rep.email]
    assert confirmation.message["Subject"] == f"[{ref}] 고충이 접수되었습니다"
    body = _text(confirmation)
    assert "김대표 님, 안녕하세요." in body
    assert f"접수 번호: {ref}" in body
    assert f"http://localhost/rep/grievances/{gid}" in body

    staff = client_for(mail_app, officer)
    staff.post(f"/staff/grievances/{gid}/note", data={"body": "Internal: the employer is known to us."})
    staff.post(f"/staff/grievances/{gid}/assign", data={"assignee_id": str(officer.id)})
    staff.post(f"/staff/grievances/{gid}/status", data={"to_status": "in_review"})
    staff.post(f"/staff/grievances/{gid}/reply", data={"body": "여권 반환을 위해 경찰과 협의 중입니다."})
    staff.post(
        f"/staff/grievances/{gid}/status", data={"to_status": "referred", "message": "경찰에 이관했습니다."}
    )
    staff.post(f"/staff/grievances/{gid}/status", data={"to_status": "resolved"})
    staff.post(f"/staff/grievances/{gid}/status", data={"to_status": "closed"})
    staff.post(f"/staff/grievances/{gid}/status", data={"to_status": "in_review"})
    run_jobs(mail_app)
    mails = smtp.wait_for(7)
    assert len(mails) == 7  # confirmation, 5 status changes, 1 reply; nothing for the note or assignment
    subjects = [m.message["Subject"] for m in mails[1:]]
    assert subjects == [
        f"[{ref}] 고충의 처리 상태가 바뀌었습니다",
        f"[{ref}] 대사관이 고충에 답변했습니다",
        f"[{ref}] 고충의 처리 상태가 바뀌었습니다",
        f"[{ref}] 고충의 처리 상태가 바뀌었습니다",
        f"[{ref}] 고충의 처리 상태가 바뀌었습니다",
        f"[{ref}] 고충의 처리 상태가 바뀌었습니다",
    ]
    texts = [_text(m) for m in mails]
    assert "“검토 중”" in texts[1] or "검토 중" in texts[1]
    assert "여권 반환을 위해 경찰과 협의 중입니다." in texts[2]
    assert "현재 상태: 검토 중" in texts[2]
    assert "관계 기관 이관" in texts[3] and "경찰에 이관했습니다." in texts[3]
    assert "종결" in texts[5]
    assert all("Internal: the employer" not in t for t in texts)
    assert all(m.rcpt_tos == [ko_rep.email] for m in mails)
    with mail_app.app_context():
        statuses = db.session.scalars(sa.select(Message.status).where(Message.user_id == ko_rep.id)).all()
        assert set(statuses) == {MessageStatus.SENT}

    # The rep sees the same history in the portal.
    page = client_for(mail_app, ko_rep).get(f"/rep/grievances/{gid}").get_data(as_text=True)
    assert "여권 반환을 위해 경찰과 협의 중입니다." in page and "Internal: the employer" not in page


def test_each_rep_is_written_to_in_their_own_language(
    mail_app: Flask, smtp: FakeSMTP, rep: User, km_rep: User, officer: User
) -> None:
    english = _submit_through_the_form(mail_app, rep)
    khmer = _submit_through_the_form(mail_app, km_rep)
    staff = client_for(mail_app, officer)  # the officer works in English
    for gid in (english, khmer):
        staff.post(f"/staff/grievances/{gid}/reply", data={"body": "We called the employer."})
    run_jobs(mail_app)
    mails = smtp.wait_for(4)
    by_rcpt: dict[str, list[ReceivedEmail]] = {}
    for m in mails:
        by_rcpt.setdefault(m.rcpt_tos[0], []).append(m)
    en_subjects = [m.message["Subject"] for m in by_rcpt[rep.email]]
    km_subjects = [m.message["Subject"] for m in by_rcpt[km_rep.email]]
    assert en_subjects[0].endswith("Your grievance was received")
    assert en_subjects[1].endswith("The embassy replied to your grievance")
    assert km_subjects[0].endswith("បណ្តឹងរបស់អ្នកត្រូវបានទទួល")
    assert km_subjects[1].endswith("ស្ថានទូតបានឆ្លើយតបបណ្តឹងរបស់អ្នក")
    assert "Hello Rep Kim," in _text(by_rcpt[rep.email][1])
    assert "ជម្រាបសួរ Sokha" in _text(by_rcpt[km_rep.email][1])
    assert "We called the employer." in _text(by_rcpt[km_rep.email][1])


def test_one_email_per_change_even_if_jobs_run_twice(
    mail_app: Flask, smtp: FakeSMTP, rep: User, officer: User
) -> None:
    gid = _submit_through_the_form(mail_app, rep)
    client_for(mail_app, officer).post(f"/staff/grievances/{gid}/reply", data={"body": "Noted."})
    run_jobs(mail_app)
    run_jobs(mail_app)
    assert len(smtp.wait_for(2)) == 2
    with mail_app.app_context():
        # Re-notifying the same entry is a no-op (the message is keyed by the entry).
        from outreach.grievances.notifications import notify_representative
        from outreach.models import GrievanceEntry

        grievance = db.session.get(Grievance, gid)
        entry = db.session.scalars(sa.select(GrievanceEntry).where(GrievanceEntry.kind == "reply")).one()
        assert grievance is not None
        assert notify_representative(grievance, entry) is None
        db.session.commit()
    run_jobs(mail_app)
    assert len(smtp.messages) == 2


def test_no_email_when_the_transaction_rolls_back(
    mail_app: Flask, smtp: FakeSMTP, rep: User, officer: User, submit: Callable[..., int]
) -> None:
    gid = submit(rep)
    run_jobs(mail_app)
    smtp.wait_for(1)
    with mail_app.app_context():
        staff = db.session.get(User, officer.id)
        grievance = db.session.get(Grievance, gid)
        assert grievance is not None
        operations.add_reply(grievance, staff, "This reply is rolled back.")
        db.session.rollback()
    run_jobs(mail_app)
    assert [m.message["Subject"] for m in smtp.messages][-1].endswith("Your grievance was received")
    assert len(smtp.messages) == 1


def test_invitation_email_reaches_smtp_with_a_working_link(
    mail_app: Flask, smtp: FakeSMTP, admin: User
) -> None:
    resp = client_for(mail_app, admin).post(
        "/staff/users/invite",
        data={
            "email": "sokha@ngo.example",
            "name": "Sokha",
            "new_organisation": "Kampot Friends",
            "province_code": "KH-7",
            "language": "km",
        },
    )
    assert resp.status_code == 303
    run_jobs(mail_app)
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ["sokha@ngo.example"]
    text = _text(mail)
    assert "ជម្រាបសួរ Sokha" in text
    link = next(line for line in text.splitlines() if "/invitation/" in line).strip()
    path = link.removeprefix("http://localhost")
    password = "a long new password"
    assert (
        mail_app.test_client().post(path, data={"password": password, "confirm": password}).status_code == 303
    )
    login = mail_app.test_client().post("/login", data={"email": "sokha@ngo.example", "password": password})
    assert login.status_code == 302 and login.headers["Location"] == "/rep/"
