#!/usr/bin/python3
"""Play request scenarios against the real Flask-Security (Debian's
python3-flask-security 5.1.2), in-process, one app per configuration,
and print every answer as JSON. The one peer app of the side-by-side
specs (spec/33-*, spec/39-*; spec/tools/compare.lua drives it).

Usage: fs_play.py < plays.json
plays: [{"name": "json-csrf-off",
         "settings": {"SECURITY_REGISTERABLE": true, ...},   # over the defaults
         "identity": ["email", "username"],     # USER_IDENTITY_ATTRIBUTES
         "csrf_protect": true,                  # Flask-WTF's CSRFProtect(app)
         "users": [{"email": ..., "password": ..., "active": false,
                    "confirmed": true, "username": ..., "roles": ["admin"]}],
         "steps": [{"method": "POST", "path": "/login", "query": "a=b",
                    "json": {...} | "form": {...}, "raw": "text",
                    "headers": {...}, "content_type": "...",
                    "accept": "application/json" (default) | "text/html" | "",
                    "basic": [user, password], "token": true}, ...]}, ...]
Placeholders in paths, bodies and headers, each side filling its own:
  {csrf}      the last CSRF token seen (a JSON csrf_token or a form's field)
  {link}      the path of the link in the last mail
  {mail}      the 6-digit code of the last mail or SMS
  {state}     the last `state` (unified sign-in setup)
  {authr:N}   the TOTP code of the last authr_key / tf_authr_key, N steps on
  {recovery:N} the N-th of the last recovery_codes answered
  {token}     the last authentication_token answered
A "token": true step sends {token} in Authentication-Token.
output: {"<name>": [{"status", "location", "content_type", "cookies":
         [Set-Cookie lines], "body": text, "json": parsed or null}, ...],
         "_messages": {KEY: text} (5.1.2's catalogue)}
"""
import base64
import datetime
import json
import re
import sys
import time

import pyotp
from flask import jsonify
from flask_wtf import CSRFProtect
from flask_security import (MailUtil, SmsSenderBaseClass, SmsSenderFactory, auth_required,
                            hash_password, http_auth_required, roles_required,
                            uia_email_mapper, uia_phone_mapper, uia_username_mapper)

from fs_peer import make_app as make_peer_app

SENT = []


class CaptureMail(MailUtil):
    """Flask-Security's mail utility (validation and all), keeping the text."""
    def send_mail(self, template, subject, recipient, sender, body, html, user, **kwargs):
        SENT.append(body)


class CaptureSms(SmsSenderBaseClass):
    def send_sms(self, from_number, to_number, msg):
        SENT.append(msg)


SmsSenderFactory.senders["capture"] = CaptureSms

MAPPERS = {
    "email": {"email": {"mapper": uia_email_mapper, "case_insensitive": True}},
    "username": {"username": {"mapper": uia_username_mapper, "case_insensitive": True}},
    "us_phone_number": {"us_phone_number": {"mapper": uia_phone_mapper}},
}

DEFAULTS = dict(
    SECURITY_PASSWORD_SALT="salty-pepper",
    SECURITY_EMAIL_VALIDATOR_ARGS={"check_deliverability": False},
    SECURITY_PASSWORD_HASH="plaintext",
    # the tokens' own hashing (sha256_crypt, 535000 rounds) is most of the
    # peer's time; the answers do not depend on it
    SECURITY_HASHING_SCHEMES=["hex_md5"], SECURITY_DEPRECATED_HASHING_SCHEMES=[],
    SECURITY_TOTP_SECRETS={"1": "a-totp-secret-of-some-length"},
    SECURITY_TOTP_ISSUER="fsec-test", SECURITY_SMS_SERVICE="capture",
)


def add_routes(app):
    """The application's own routes the scenarios call, as an app guards them."""
    @app.route("/api/any", methods=["GET", "POST"])
    @auth_required("token", "session", "basic")
    def api_any():
        return jsonify(ok=True)

    @app.route("/api/token", methods=["GET", "POST"])
    @auth_required("token")
    def api_token():
        return jsonify(ok=True)

    @app.route("/api/session", methods=["GET", "POST"])
    @auth_required("session")
    def api_session():
        return jsonify(ok=True)

    @app.route("/api/basic")
    @http_auth_required
    def api_basic():
        return jsonify(ok=True)

    @app.route("/api/fresh")
    @auth_required("session", within=0, grace=0)
    def api_fresh():
        return jsonify(ok=True)

    @app.route("/api/admin")
    @auth_required("session", "token")
    @roles_required("admin")
    def api_admin():
        return jsonify(ok=True)


def make_app(play):
    settings = dict(DEFAULTS)
    settings.update(play.get("settings", {}))
    if play.get("identity"):
        settings["SECURITY_USER_IDENTITY_ATTRIBUTES"] = [MAPPERS[a] for a in play["identity"]]
    # CSRFProtect: Too's documented setup for header tokens, made first
    app, db, ds = make_peer_app(settings, mail_util_cls=CaptureMail,
                                before_security=CSRFProtect if play.get("csrf_protect") else None)
    add_routes(app)
    with app.app_context():
        db.create_all()
        for r in {r for u in play.get("users", []) for r in u.get("roles", [])}:
            ds.create_role(name=r)
        for u in play.get("users", []):
            fields = {k: v for k, v in u.items() if k not in ("password", "confirmed", "roles")}
            if u.get("confirmed"):
                fields["confirmed_at"] = datetime.datetime.utcnow()
            user = ds.create_user(password=hash_password(u["password"]), **fields)
            for r in u.get("roles", []):
                ds.add_role_to_user(user, r)
        db.session.commit()
    return app


def mail_link():
    for url in re.findall(r"https?://[^\s\"'<>]+", SENT[-1] if SENT else ""):
        return re.sub(r"^https?://[^/]+", "", url)
    return ""


def fill(value, seen):
    """A step's value with its placeholders replaced by this side's own."""
    if isinstance(value, dict):
        return {k: fill(v, seen) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, seen) for v in value]
    if not isinstance(value, str):
        return value
    for name in ("csrf", "state", "token"):
        value = value.replace("{%s}" % name, seen.get(name, ""))
    if "{link}" in value:
        value = value.replace("{link}", mail_link())
    if "{mail}" in value:
        codes = re.findall(r"\b(\d{6})\b", SENT[-1] if SENT else "")
        value = value.replace("{mail}", codes[0] if codes else "")
    m = re.search(r"\{authr:(-?\d+)\}", value)
    if m:
        key = seen.get("key", "").replace("-", "")
        value = value.replace(m.group(0), pyotp.TOTP(key).at(time.time() + 30 * int(m.group(1))))
    m = re.search(r"\{recovery:(\d+)\}", value)
    if m:
        value = value.replace(m.group(0), seen.get("codes", [""] * 99)[int(m.group(1)) - 1])
    return value


def remember(seen, body, text):
    """Note what later placeholders need from an answer."""
    r = body.get("response") if isinstance(body, dict) else None
    if isinstance(r, dict):
        for k in ("csrf_token", "state", "authentication_token"):
            if r.get(k):
                seen[{"csrf_token": "csrf", "authentication_token": "token"}.get(k, k)] = r[k]
        for k in ("authr_key", "tf_authr_key"):
            if r.get(k):
                seen["key"] = r[k]
        if r.get("recovery_codes"):
            seen["codes"] = r["recovery_codes"]
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text or "")
    if m:
        seen["csrf"] = m.group(1)
    if not isinstance(body, dict):  # a page: its key for manual entry, its setup state
        m = re.search(r"\b[A-Z2-7]{4}(?:-[A-Z2-7]{4}){7}\b", text or "")
        if m:
            seen["key"] = m.group(0)
        m = re.search(r'action="[^"]*/us-setup/([^"?/]+)', text or "")
        if m:
            seen["state"] = m.group(1)
        codes = re.findall(r"\b[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}\b", text or "")
        if len(codes) > 1:  # a page listing them (not a form showing the one posted)
            seen["codes"] = codes


def play_one(play):
    client = make_app(play).test_client()
    out, seen = [], {}
    for step in play["steps"]:
        path = fill(step["path"], seen)
        if step.get("query"):
            path += "?" + fill(step["query"], seen)
        headers = {}
        accept = step.get("accept", "application/json")
        if accept:
            headers["Accept"] = accept
        for k, v in fill(step.get("headers", {}), seen).items():
            headers[k] = v
        if step.get("basic"):
            user, pw = step["basic"]
            headers["Authorization"] = "Basic " + base64.b64encode((user + ":" + pw).encode()).decode()
        if step.get("token"):
            headers["Authentication-Token"] = seen.get("token", "")
        kwargs = {"headers": headers}
        if "json" in step:
            kwargs["data"] = json.dumps(fill(step["json"], seen))
            kwargs["content_type"] = step.get("content_type", "application/json")
        elif "form" in step:
            kwargs["data"] = fill(step["form"], seen)
        elif "raw" in step:
            kwargs["data"] = step["raw"]
            kwargs["content_type"] = step.get("content_type", "application/json")
        resp = client.open(path, method=step["method"], **kwargs)
        text = resp.get_data(as_text=True)
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        remember(seen, body, text)
        out.append({"status": resp.status_code, "location": resp.headers.get("Location"),
                    "content_type": resp.headers.get("Content-Type"),
                    "cookies": resp.headers.getlist("Set-Cookie"), "body": text, "json": body})
    return out


def main():
    from flask_security.core import _default_messages
    plays = json.load(sys.stdin)
    out = {p["name"]: play_one(p) for p in plays}
    out["_messages"] = {k: v[0] for k, v in _default_messages.items()}  # to find them in pages
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
