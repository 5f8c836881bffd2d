#!/usr/bin/python3
"""Play a two-factor request sequence against the real Flask-Security
(Debian's python3-flask-security 5.1.2) and print each answer as JSON, so
that spec/39-twofactor_flask_security_spec.lua can compare fsec's answers
with it.

Usage: fs_tf_app.py < scenario.json
scenario: [{"method": "POST", "path": "/tf-validate", "json": {...},
            "query": "show_codes"}, ...]
A JSON value "$totp" is replaced by the current code (pyotp, this
process's clock) of the last tf_authr_key answered; "$recovery:N" by the
N-th code of the last recovery_codes answered.
output:   [{"status": 200, "body": {...}}, ...]
Settings: CSRF off, TWO_FACTOR (email, authenticator, sms),
MULTI_FACTOR_RECOVERY_CODES, a rescue mail address, mail and SMS captured
(not sent), one user matt@example.com / password-1.
"""
import json
import sys

import pyotp
from flask_security import MailUtil, SmsSenderBaseClass, SmsSenderFactory, hash_password

from fs_peer import make_app as make_peer_app


class QuietMail(MailUtil):
    """Flask-Security's mail utility (validation and all), minus sending."""
    def send_mail(self, template, subject, recipient, sender, body, html, user, **kwargs):
        pass


class QuietSms(SmsSenderBaseClass):
    """An SMS sender that sends nothing."""
    def send_sms(self, from_number, to_number, msg):
        pass


SmsSenderFactory.senders["quiet"] = QuietSms


def make_app():
    app, db, ds = make_peer_app(dict(
        SECURITY_PASSWORD_SALT="salty-pepper", WTF_CSRF_ENABLED=False,
        SECURITY_EMAIL_VALIDATOR_ARGS={"check_deliverability": False},
        SECURITY_PASSWORD_HASH="plaintext",
        SECURITY_TWO_FACTOR=True,
        SECURITY_TWO_FACTOR_ENABLED_METHODS=["email", "authenticator", "sms"],
        SECURITY_TOTP_SECRETS={"1": "a-totp-secret-of-some-length"},
        SECURITY_TOTP_ISSUER="fsec-test", SECURITY_SMS_SERVICE="quiet",
        SECURITY_MULTI_FACTOR_RECOVERY_CODES=True,
        SECURITY_TWO_FACTOR_RESCUE_MAIL="admin@example.com",
    ), mail_util_cls=QuietMail)
    with app.app_context():
        db.create_all()
        ds.create_user(email="matt@example.com", password=hash_password("password-1"))
        db.session.commit()
    return app


def fill(value, seen):
    """The step's JSON with its placeholders replaced."""
    if isinstance(value, dict):
        return {k: fill(v, seen) for k, v in value.items()}
    if value == "$totp":
        return pyotp.TOTP(seen["key"]).now()
    if isinstance(value, str) and value.startswith("$recovery:"):
        return seen["codes"][int(value.split(":")[1]) - 1]
    return value


def main():
    scenario = json.load(sys.stdin)
    app = make_app()
    client = app.test_client()
    out, seen = [], {}
    for step in scenario:
        path = step["path"] + ("?" + step["query"] if step.get("query") else "")
        kwargs = {"headers": {"Accept": "application/json"}}
        if "json" in step:
            kwargs["json"] = fill(step["json"], seen)
        resp = client.open(path, method=step["method"], **kwargs)
        try:
            body = json.loads(resp.get_data(as_text=True))
        except ValueError:
            body = None
        r = body.get("response") if isinstance(body, dict) else None
        if isinstance(r, dict):
            if r.get("tf_authr_key"):
                seen["key"] = r["tf_authr_key"].replace("-", "")
            if r.get("recovery_codes"):
                seen["codes"] = r["recovery_codes"]
        out.append({"status": resp.status_code, "body": body, "location": resp.headers.get("Location")})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
