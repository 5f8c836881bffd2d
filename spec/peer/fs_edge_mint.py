#!/usr/bin/python3
"""Flask credentials made outside the app, for spec/45-flask_edge_spec.lua:
what an attacker could make with another key, or what the app made long
ago, signed the way Flask-Security 5.1.2, Flask 2.2 and Flask-Login 0.6
sign them (itsdangerous and Flask's own serializer).

Usage: fs_edge_mint.py token KEY UNIQUIFIER [AGE]   an auth token, AGE seconds old
       fs_edge_mint.py session KEY UNIQUIFIER       a session cookie naming the user
       fs_edge_mint.py remember KEY UNIQUIFIER      a remember cookie
"""
import hashlib
import hmac
import sys
import time

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

kind, key, uq = sys.argv[1], sys.argv[2], sys.argv[3]
age = int(sys.argv[4]) if len(sys.argv) > 4 else 0

if kind == "token":
    class Aged(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - age
    print(URLSafeTimedSerializer(key, salt="remember-salt", signer=Aged).dumps([uq]))
elif kind == "session":
    app = Flask("mint")
    app.secret_key = key
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    print(serializer.dumps({"_fresh": True, "_id": "x" * 128, "_user_id": uq}))
elif kind == "remember":
    digest = hmac.new(key.encode("latin-1"), uq.encode(), hashlib.sha512).hexdigest()
    print(f"{uq}|{digest}")
else:
    sys.exit(__doc__)
