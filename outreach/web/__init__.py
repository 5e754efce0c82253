"""Blueprints. Views parse input, call one operation, commit, respond; logic lives in the domain packages."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from outreach.web import (  # noqa: F401  (they add views to staff.bp)  # noqa: F401  (api_tokens adds views to staff.bp)
        admin_users,
        alerts,
        api,
        api_tokens,
        auth,
        cases,
        checkins,
        demo,
        errors,
        grievances_staff,
        nav,
        people,
        public,
        register,
        rep,
        reports_public,
        reports_staff,
        staff,
        twilio,
        welfare_public,
        welfare_staff,
        zones,
    )

    auth.init_app(app)
    nav.init_app(app)
    errors.init_app(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(staff.bp, url_prefix="/staff")
    app.register_blueprint(rep.bp, url_prefix="/rep")
    app.register_blueprint(rep.invitation_bp, url_prefix="/invitation")
    app.register_blueprint(twilio.bp, url_prefix="/twilio")
    app.register_blueprint(demo.bp, url_prefix="/staff/demo")
    app.register_blueprint(alerts.public_bp)
    app.register_blueprint(checkins.public_bp)
    app.register_blueprint(zones.public_bp)
    api.init_app(app)
    app.register_blueprint(register.bp)
    app.register_blueprint(reports_public.bp)
    app.register_blueprint(welfare_public.bp)
