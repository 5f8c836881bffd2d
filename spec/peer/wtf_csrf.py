#!/usr/bin/python3
"""Flask-WTF's CSRF tokens and the Flask sessions they go with, made by
the real libraries (Debian's python3-flaskext.wtf, Flask, itsdangerous)
at a fixed time, with Flask-WTF's own verdict on each pair, for
spec/08-flask_credentials_spec.lua: fsec must agree with every verdict.

Usage: wtf_csrf.py SECRET_KEY WTF_CSRF_SECRET_KEY USER_ID TIME
Prints JSON: { sessions = { name = Flask session cookie },
  tokens = { name = token }, verdicts = { { session, token, key, limit,
  age, verdict } } } where verdict is "ok" or Flask-WTF's message, key
"secret" (WTF_CSRF_SECRET_KEY unset) or "wtf" (set), limit the
WTF_CSRF_TIME_LIMIT (0 for None) and age the seconds after TIME.
"""
import hashlib
import json
import sys
import time

from flask import Flask, session
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms.validators import ValidationError

KEY, WTF_KEY, USER_ID, TS = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

# itsdangerous reads time.time(): the tokens and cookies carry TS, and
# each verdict is given at TS + age
NOW = [TS]
time.time = lambda: NOW[0]

VALUES = {"one": hashlib.sha1(b"one").hexdigest(), "two": hashlib.sha1(b"two").hexdigest()}


def app(wtf_key=None, limit=3600):
    a = Flask("wtf_csrf")
    a.config.update(SECRET_KEY=KEY, WTF_CSRF_TIME_LIMIT=limit or None)
    if wtf_key:
        a.config["WTF_CSRF_SECRET_KEY"] = wtf_key
    return a


def cookie(data):
    a = app()
    return a.session_interface.get_signing_serializer(a).dumps(data)


SESSIONS = {
    "one": cookie({"_user_id": USER_ID, "_fresh": True, "csrf_token": VALUES["one"]}),
    "two": cookie({"_user_id": USER_ID, "_fresh": True, "csrf_token": VALUES["two"]}),
    "none": cookie({"_user_id": USER_ID, "_fresh": True}),
}


def token(session_name, wtf_key=None):
    """What the Flask app's form carries: generate_csrf in a request
    signed in by that session."""
    a = app(wtf_key)
    with a.test_request_context(headers={"Cookie": "session=" + SESSIONS[session_name]}):
        return generate_csrf()


def tamper(tok, i):
    c = "A" if tok[i] != "A" else "B"
    return tok[:i] + c + tok[i + 1:]


TOKENS = {"one": token("one"), "two": token("two"), "one_wtf": token("one", WTF_KEY)}
TOKENS["one_tampered_value"] = tamper(TOKENS["one"], 1)
TOKENS["one_tampered_sig"] = tamper(TOKENS["one"], len(TOKENS["one"]) - 2)
TOKENS["one_other_salt"] = __import__("itsdangerous").URLSafeTimedSerializer(
    KEY, salt="wtf-csrf-tokem").dumps(VALUES["one"])


def verdict(session_name, token_name, key, limit, age):
    a = app(WTF_KEY if key == "wtf" else None, limit)
    NOW[0] = TS + age
    try:
        with a.test_request_context(headers={"Cookie": "session=" + SESSIONS[session_name]}):
            assert "_user_id" in session
            validate_csrf(TOKENS[token_name])
        return "ok"
    except ValidationError as e:
        return str(e)
    finally:
        NOW[0] = TS


CASES = [
    ("one", "one", "secret", 3600, 10),
    ("one", "one", "secret", 3600, 3600),
    ("one", "one", "secret", 3600, 3601),  # expired
    ("one", "one", "secret", 0, 10 ** 6),  # no limit (the session lasts 31 days)
    ("one", "one", "secret", 60, 61),
    ("one", "two", "secret", 3600, 10),  # another session's value
    ("two", "one", "secret", 3600, 10),
    ("two", "two", "secret", 3600, 10),
    ("none", "one", "secret", 3600, 10),  # no csrf_token in the session
    ("one", "one_tampered_value", "secret", 3600, 10),
    ("one", "one_tampered_sig", "secret", 3600, 10),
    ("one", "one_other_salt", "secret", 3600, 10),
    ("one", "one_wtf", "secret", 3600, 10),  # signed with the other key
    ("one", "one_wtf", "wtf", 3600, 10),
    ("one", "one", "wtf", 3600, 10),
]

print(json.dumps({
    "values": VALUES,
    "sessions": SESSIONS,
    "tokens": TOKENS,
    "verdicts": [{"session": s, "token": t, "key": k, "limit": l, "age": g, "verdict": verdict(s, t, k, l, g)}
                 for s, t, k, l, g in CASES],
}))
