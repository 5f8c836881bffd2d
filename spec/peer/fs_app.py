#!/usr/bin/python3
"""Play a request sequence against the real Flask-Security (Debian's
python3-flask-security 5.1.2) and print each answer as JSON, so that
spec/33-flask_security_answers_spec.lua can compare fsec's answers with it.

Usage: fs_app.py < scenario.json
scenario: [{"method": "POST", "path": "/login", "json": {...},
            "query": "include_auth_token"}, ...]
output:   [{"status": 200, "body": {...}}, ...]
Settings: CSRF off, registerable, recoverable, changeable, mail captured,
one user matt@example.com / password-1 (and an inactive one).
"""
import json
import sys

from flask_security import MailUtil, hash_password

from fs_peer import make_app as make_peer_app


class QuietMail(MailUtil):
    """Flask-Security's mail utility (validation and all), minus sending."""
    def send_mail(self, template, subject, recipient, sender, body, html, user, **kwargs):
        pass


def make_app():
    app, db, ds = make_peer_app(dict(
        SECURITY_PASSWORD_SALT="salty-pepper",
        WTF_CSRF_ENABLED=False, SECURITY_REGISTERABLE=True,
        SECURITY_EMAIL_VALIDATOR_ARGS={"check_deliverability": False},
        SECURITY_RECOVERABLE=True, SECURITY_CHANGEABLE=True,
        SECURITY_PASSWORD_HASH="argon2",
        SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS={"argon2__rounds": 1, "argon2__memory_cost": 1024,
                                                "argon2__parallelism": 1},
    ), mail_util_cls=QuietMail)
    with app.app_context():
        db.create_all()
        ds.create_user(email="matt@example.com", password=hash_password("password-1"))
        ds.create_user(email="off@example.com", password=hash_password("password-1"), active=False)
        db.session.commit()
    return app


def main():
    scenario = json.load(sys.stdin)
    app = make_app()
    client = app.test_client()
    out = []
    for step in scenario:
        path = step["path"] + ("?" + step["query"] if step.get("query") else "")
        kwargs = {"headers": {"Accept": "application/json"}}
        if "json" in step:
            kwargs["json"] = step["json"]
        resp = client.open(path, method=step["method"], **kwargs)
        try:
            body = json.loads(resp.get_data(as_text=True))
        except ValueError:
            body = None
        out.append({"status": resp.status_code, "body": body})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
