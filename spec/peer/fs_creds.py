#!/usr/bin/python3
"""Credentials minted by the real Flask-Security (Debian's
python3-flask-security 5.1.2), for spec/26-flask_credentials_peer_spec.lua:
a user signs in through its JSON /login (remember me, include_auth_token)
and the auth token, session cookie and remember cookie it hands out are
printed, with the other token forms built by the libraries those
versions used (itsdangerous, passlib, Flask's session serializer), and
the SQLite database behind them (for `fsec import flask-security`).

Usage: fs_creds.py OUT.db SECRET_KEY OLD_KEY
       fs_creds.py OUT.db SECRET_KEY OLD_KEY --check TOKEN
The second form asks the same app, on the database made by the first,
whom TOKEN (an Authentication-Token) signs in: prints {"status", "email"}.
Prints JSON: { users = { alice = { id, fs_uniquifier, fs_token_uniquifier } },
  token, session, remember (5.1.2's, through /login), and the forms
  token30 (3.0: [id, sha256_crypt(hash)]), token30_md5 (hex_md5),
  token3x ([id, hash, uniquifier]), token54 ({ver, uid, fs_paa, exp}),
  token54_expired (exp in the past), token_old_key (signed with OLD_KEY),
  token_wrong_salt, token_future (issued in an hour), token_old (issued
  two hours ago), session30 and remember30 (_user_id = the id),
  session_old (issued 32 days ago), session_tagged (every tag of
  Flask's tagged JSON beside _user_id), now }
"""
import datetime
import hashlib
import hmac
import json
import sys
import time
import uuid

from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from passlib.context import CryptContext

from flask_security import hash_password

from fs_peer import make_app

OUT, KEY, OLD_KEY = sys.argv[1], sys.argv[2], sys.argv[3]
CHECK = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--check" else None
NOW = int(time.time())


def at(ts):
    """A TimestampSigner whose clock says ts."""
    class Fixed(TimestampSigner):
        def get_timestamp(self):
            return ts
    return Fixed


def token(data, key=KEY, salt="remember-salt", ts=NOW):
    return URLSafeTimedSerializer(key, salt=salt, signer=at(ts)).dumps(data)


def session_cookie(app, data, ts=NOW):
    """Flask's own session serializer, at time ts."""
    ser = app.session_interface.get_signing_serializer(app)
    ser.signer = at(ts)
    return ser.dumps(data)


def remember(payload, key=KEY):
    """Flask-Login's encode_cookie: payload|hex(HMAC-SHA512(latin-1 key))."""
    return payload + "|" + hmac.new(key.encode("latin1"), payload.encode("utf-8"), hashlib.sha512).hexdigest()


def check(app, tok):
    """Flask-Security's own auth_token_required on tok."""
    from flask_security import auth_token_required, current_user

    @app.route("/whoami")
    @auth_token_required
    def whoami():
        return {"email": current_user.email}

    resp = app.test_client().get("/whoami", headers={"Authentication-Token": tok, "Accept": "application/json"})
    body = resp.get_json(silent=True) or {}
    json.dump({"status": resp.status_code, "email": body.get("email")}, sys.stdout)


def main():
    app, db, ds = make_app(dict(
        SECRET_KEY=KEY, SECURITY_PASSWORD_SALT="salty-pepper", WTF_CSRF_ENABLED=False,
        SECURITY_PASSWORD_HASH="pbkdf2_sha256",
        SECURITY_EMAIL_VALIDATOR_ARGS={"check_deliverability": False},
    ), db_uri="sqlite:///" + OUT, token_uniquifier=True)
    if CHECK:
        return check(app, CHECK)
    with app.app_context():
        db.create_all()
        ds.create_user(email="alice@example.com", password=hash_password("alice-password-1"))
        db.session.commit()
        alice = ds.find_user(email="alice@example.com")
        user = {"id": alice.id, "fs_uniquifier": alice.fs_uniquifier,
                "fs_token_uniquifier": alice.fs_token_uniquifier}
        stored = alice.password
    client = app.test_client()
    resp = client.post("/login?include_auth_token", json={
        "email": "alice@example.com", "password": "alice-password-1", "remember": True})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    out = {"users": {"alice": user}, "now": NOW,
           "token": resp.json["response"]["user"]["authentication_token"]}
    for c in client.cookie_jar:
        if c.name == "session":
            out["session"] = c.value
        elif c.name == "remember_token":
            out["remember"] = c.value
    sha256 = CryptContext(schemes=["sha256_crypt", "hex_md5"])
    md5 = CryptContext(schemes=["hex_md5"])
    uid = str(user["id"])
    out["token30"] = token([uid, sha256.hash(stored)])
    out["token30_md5"] = token([uid, md5.hash(stored)])
    out["token3x"] = token([uid, sha256.hash(stored), user["fs_token_uniquifier"]])
    out["token54"] = token({"ver": "5", "uid": user["fs_token_uniquifier"], "fs_paa": NOW - 5.5, "exp": 0})
    out["token54_expired"] = token({"ver": "5", "uid": user["fs_token_uniquifier"], "fs_paa": NOW, "exp": NOW - 10})
    out["token_old_key"] = token([user["fs_token_uniquifier"]], key=OLD_KEY)
    out["token_wrong_salt"] = token([user["fs_token_uniquifier"]], salt="login-salt")
    out["token_future"] = token([user["fs_token_uniquifier"]], ts=NOW + 3600)
    out["token_old"] = token([user["fs_token_uniquifier"]], ts=NOW - 7200)
    out["session30"] = session_cookie(app, {"_user_id": uid, "_fresh": True})
    out["remember30"] = remember(uid)
    out["session_old"] = session_cookie(app, {"_user_id": user["fs_uniquifier"]}, ts=NOW - 32 * 86400)
    out["session_tagged"] = session_cookie(app, {
        "_user_id": user["fs_uniquifier"], "_fresh": True, "fs_paa": NOW - 30.25,
        "b": b"\x00\xff", "t": (1, "a"), "u": uuid.UUID(int=1),
        "d": datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.timezone.utc),
        "di": {" t": 5}, "m": __import__("markupsafe").Markup("<b>x</b>")})
    out["remember_upper"] = out["remember"].split("|")[0] + "|" + out["remember"].split("|")[1].upper()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
