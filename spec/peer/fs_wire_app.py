#!/usr/bin/python3
"""The wire details of the real Flask-Security (Debian's
python3-flask-security 5.1.2) that spec/33-flask_security_wire_spec.lua
compares with fsec: which requests it answers in JSON, CSRF with its cookie and header,
logout without a token, a role check's refusal, and the SPA redirects of
the mailed links.

Usage: fs_wire_app.py want_json < [{"accept": ..., "content_type": ...}, ...]
       -> [true|false, ...]
       fs_wire_app.py play SETTINGS_JSON < [{"method": "POST", "path": "/login",
            "json": {...} | "form": {...}, "headers": {...},
            "csrf": "header NAME" | "field" | "cookie NAME"}, ...]
       -> [{"status": ..., "type": ..., "location": ..., "cookies": {name:
            {"value":..., "attrs": "..."}}, "body": JSON or null,
            "text": first 2000 characters}, ...]
The app: one user matt@example.com / password-1 (an admin role exists, the
user lacks it), CSRF on unless SETTINGS turns it off (CSRFProtect only
when SETTINGS has "_protect"), /admin guarded by roles_required("admin"),
/me by auth_required; mail kept in memory, and a step
{"link": "confirm"|"reset"|"login"} plays the last mailed link of that kind.
"""
import json
import re
import sys

from flask import Flask, request
from flask_security import MailUtil, auth_required, hash_password, roles_required
from flask_security.utils import default_want_json
from flask_wtf import CSRFProtect

from fs_peer import make_app as make_peer_app

SENT = []


class KeptMail(MailUtil):
    """Flask-Security's mail utility, keeping the body instead of sending."""
    def send_mail(self, template, subject, recipient, sender, body, html, user, **kwargs):
        SENT.append(body)


def want_json():
    app = Flask(__name__)
    out = []
    for case in json.load(sys.stdin):
        headers = {}
        if case.get("accept") is not None:
            headers["Accept"] = case["accept"]
        if case.get("content_type") is not None:
            headers["Content-Type"] = case["content_type"]
        with app.test_request_context("/", method="POST", headers=headers, data="{}"):
            out.append(bool(default_want_json(request)))
    return out


def make_app(settings):
    protect = settings.pop("_protect", False)
    base = dict(SECURITY_PASSWORD_SALT="salty-pepper", SECURITY_PASSWORD_HASH="plaintext",
                SECURITY_EMAIL_VALIDATOR_ARGS={"check_deliverability": False})
    base.update(settings)
    app, db, ds = make_peer_app(base, before_security=CSRFProtect if protect else None,
                                mail_util_cls=KeptMail)

    @app.route("/admin", methods=["GET", "POST"])
    @roles_required("admin")
    def admin():
        return "ok"

    @app.route("/me", methods=["GET", "POST"])
    @auth_required("session", "token")
    def me():
        return "ok"

    with app.app_context():
        db.create_all()
        ds.create_role(name="admin")
        ds.create_user(email="matt@example.com", password=hash_password("password-1"))
        db.session.commit()
    return app


def cookies_of(resp):
    out = {}
    for line in resp.headers.getlist("Set-Cookie"):
        name, _, rest = line.partition("=")
        value, _, attrs = rest.partition(";")
        out[name] = {"value": value, "attrs": attrs.strip()}
    return out


def play(settings):
    app = make_app(settings)
    client = app.test_client()
    token = None
    out = []
    for step in json.load(sys.stdin):
        headers = dict(step.get("headers", {}))
        kwargs = {}
        path = step.get("path")
        if "link" in step:
            kind = {"confirm": "/confirm/", "reset": "/reset/", "login": "/login/"}[step["link"]]
            links = [m for b in SENT for m in re.findall(r"https?://[^/\s]+(" + kind + r"[^\s\"<]+)", b)]
            if not links:
                out.append({"status": None, "error": "no %s link mailed" % step["link"]})
                continue
            path = links[-1]
        csrf = step.get("csrf")
        if csrf and token:
            how, _, name = csrf.partition(" ")
            if how == "header":
                headers[name] = token
            elif how == "cookie":
                value = client.get_cookie("localhost", name) if hasattr(client, "get_cookie") else None
                if value is None:
                    value = next((c.value for c in client.cookie_jar if c.name == name), None)
                if value:
                    headers[step.get("cookie_header", "X-XSRF-Token")] = value
        if "json" in step:
            body = dict(step["json"])
            if csrf == "field" and token:
                body["csrf_token"] = token
            kwargs["json"] = body
        elif "form" in step:
            body = dict(step["form"])
            if csrf == "field" and token:
                body["csrf_token"] = token
            kwargs["data"] = body
        resp = client.open(path, method=step.get("method", "GET"), headers=headers, **kwargs)
        text = resp.get_data(as_text=True)
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("response"), dict) and body["response"].get("csrf_token"):
            token = body["response"]["csrf_token"]
        m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text)
        if m:
            token = m.group(1)
        out.append({"status": resp.status_code, "type": resp.headers.get("Content-Type"),
                    "location": resp.headers.get("Location"), "cookies": cookies_of(resp),
                    "body": body, "text": text[:2000]})
    return out


def main():
    if sys.argv[1] == "want_json":
        result = want_json()
    else:
        result = play(json.loads(sys.argv[2]))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
