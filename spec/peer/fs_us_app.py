#!/usr/bin/python3
"""Play a unified sign-in request sequence against the real Flask-Security
(Debian's python3-flask-security 5.1.2) and print each answer as JSON, for
spec/33-flask_security_us_answers_spec.lua.

Usage: fs_us_app.py < scenario.json
scenario: [{"method": "POST", "path": "/us-setup/{state}",
            "json": {"passcode": "{authr:0}"}}, ...]
Placeholders, filled from earlier answers: {state} (the last `state`),
{mail} (the code of the last mail or SMS), {authr:N} (the code of the
last authr_key, N steps from now, by pyotp).
output: [{"status": 200, "body": {...}}, ...]
Settings: CSRF off, unified sign-in and two-factor on, email and phone
identities, mail and SMS captured, one user matt@example.com / password-1.
"""
import json
import re
import sys
import time

import pyotp
from flask_security import (MailUtil, SmsSenderBaseClass, SmsSenderFactory, hash_password,
                            uia_email_mapper, uia_phone_mapper)

from fs_peer import make_app as make_peer_app

SENT = []


class CaptureMail(MailUtil):
    def send_mail(self, template, subject, recipient, sender, body, html, user, **kwargs):
        SENT.append(body)


class CaptureSms(SmsSenderBaseClass):
    def send_sms(self, from_number, to_number, msg):
        SENT.append(msg)


SmsSenderFactory.senders["capture"] = CaptureSms


def make_app():
    app, db, ds = make_peer_app(dict(
        SECURITY_PASSWORD_SALT="salty-pepper", WTF_CSRF_ENABLED=False,
        SECURITY_EMAIL_VALIDATOR_ARGS={"check_deliverability": False},
        SECURITY_UNIFIED_SIGNIN=True, SECURITY_TWO_FACTOR=True,
        SECURITY_TOTP_SECRETS={"1": "a-totp-secret-of-some-length"}, SECURITY_TOTP_ISSUER="fsec-test",
        SECURITY_SMS_SERVICE="capture", SECURITY_PASSWORD_HASH="plaintext",
        SECURITY_USER_IDENTITY_ATTRIBUTES=[
            {"email": {"mapper": uia_email_mapper, "case_insensitive": True}},
            {"us_phone_number": {"mapper": uia_phone_mapper}}],
    ), mail_util_cls=CaptureMail)
    with app.app_context():
        db.create_all()
        ds.create_user(email="matt@example.com", password=hash_password("password-1"))
        db.session.commit()
    return app


def fill(value, last):
    if isinstance(value, dict):
        return {k: fill(v, last) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, last) for v in value]
    if not isinstance(value, str):
        return value
    value = value.replace("{state}", last.get("state", ""))
    if "{mail}" in value:
        value = value.replace("{mail}", re.findall(r"\b(\d{6})\b", SENT[-1])[0])
    m = re.search(r"\{authr:(-?\d+)\}", value)
    if m:
        code = pyotp.TOTP(last["authr_key"].replace("-", "")).at(time.time() + 30 * int(m.group(1)))
        value = value.replace(m.group(0), code)
    return value


def main():
    scenario = json.load(sys.stdin)
    client = make_app().test_client()
    out, last = [], {}
    for step in scenario:
        path = fill(step["path"], last) + ("?" + step["query"] if step.get("query") else "")
        kwargs = {"headers": {"Accept": "application/json"}}
        if "json" in step:
            kwargs["json"] = fill(step["json"], last)
        resp = client.open(path, method=step["method"], **kwargs)
        try:
            body = json.loads(resp.get_data(as_text=True))
        except ValueError:
            body = None
        r = (body or {}).get("response") or {}
        for k in ("state", "authr_key"):
            if k in r:
                last[k] = r[k]
        out.append({"status": resp.status_code, "body": body})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
