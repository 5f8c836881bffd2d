#!/usr/bin/python3
"""A Flask-Security-Too (5.1.2) app served by gunicorn behind nginx + fsec
(examples/flask-edge/README.md). Users sign in with Flask: /login (form or
JSON), /logout, /register. The routes under /api/ and /dashboard are
protected at the edge: fsec (fsec.openresty.protect in nginx) verifies
the Flask auth token, session cookie or remember cookie, and passes the
user's id in X-Fsec-User-Id. Those routes trust that header only, never
Flask's own session or token, so they serve only requests fsec
authenticated; and every request must carry the edge's secret
(X-Fsec-Edge), so that no other local process that reaches gunicorn
directly can claim a user.

Configuration: FLASK_EDGE_VAR, the folder holding app.db and the secrets
(flask_secret_key, password_salt, edge_secret), made by
scripts/run-flask-edge.sh. Commands: `app.py init` (the tables and two
demo users), `app.py deactivate EMAIL` (Flask-Security's
deactivate_user); gunicorn serves `app:app`.
"""
import functools
import hmac
import os
import sys

from flask import Flask, abort, g, jsonify, request
from markupsafe import escape
from flask_security import Security, SQLAlchemyUserDatastore, hash_password
from flask_security.models import fsqla_v3 as fsqla
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms.validators import ValidationError

VAR = os.environ["FLASK_EDGE_VAR"]
USER_HEADER = "X-Fsec-User-Id"  # set by fsec (protect's user_header)
EDGE_HEADER = "X-Fsec-Edge"     # set by nginx on every request it passes


def secret(name):
    with open(os.path.join(VAR, name), encoding="utf-8") as f:
        return f.read().strip()


app = Flask(__name__)
app.config.update(
    SECRET_KEY=secret("flask_secret_key"),
    SECURITY_PASSWORD_SALT=secret("password_salt"),
    SQLALCHEMY_DATABASE_URI="sqlite:///" + os.path.join(VAR, "app.db"),
    SQLALCHEMY_TRACK_MODIFICATIONS=False,
    # fsec's token_max_age says the same (flask_edge.lua): keep them equal
    SECURITY_TOKEN_MAX_AGE=3600,
    # JSON clients sign in without a CSRF token (Too's SPA setting)
    SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS=True,
    SECURITY_REGISTERABLE=True,
    # the demo's addresses are @example.com, which receives no mail
    SECURITY_EMAIL_VALIDATOR_ARGS={"check_deliverability": False},
    SECURITY_SEND_REGISTER_EMAIL=False,
    # bcrypt at a modest cost: a demo, and the spec signs in often
    SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS={"bcrypt__rounds": 10},
)
EDGE_SECRET = secret("edge_secret").encode()

db = SQLAlchemy(app)
fsqla.FsModels.set_db_info(db)


class Role(db.Model, fsqla.FsRoleMixin):
    pass


class User(db.Model, fsqla.FsUserMixin):
    # Too signs auth tokens with it when the model has it: a token can then
    # be revoked without signing the user out of its sessions
    fs_token_uniquifier = db.Column(db.String(64), unique=True, nullable=True)


user_datastore = SQLAlchemyUserDatastore(db, User, Role)
security = Security(app, user_datastore)


@app.before_request
def from_the_edge_only():
    """Every request came through nginx: it carries the edge's secret."""
    sent = request.headers.get(EDGE_HEADER, "").encode()
    if not hmac.compare_digest(sent, EDGE_SECRET):
        abort(403)


def edge_user():
    """The user fsec authenticated (its id in USER_HEADER), if active."""
    uid = request.headers.get(USER_HEADER, "")
    if not uid.isascii() or not uid.isdigit() or len(uid) > 19:
        return None
    user = db.session.get(User, int(uid))
    return user if user is not None and user.active else None


def edge_required(view):
    """The route serves only requests fsec authenticated: Flask's own
    session and token are not consulted here."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        user = edge_user()
        if user is None:
            return jsonify(error="not authenticated by the edge"), 401
        g.edge_user = user
        return view(*args, **kwargs)
    return wrapped


@app.route("/healthz")
def healthz():
    return "ok\n"


@app.route("/api/me", methods=["GET", "POST"])
@edge_required
def api_me():
    # POST: a state-changing call. fsec lets it through signed in by an
    # auth token; signed in by Flask's session it needs a CSRF token:
    # Flask-WTF's (what /login's JSON answers, or /dashboard's form
    # carries) or fsec's (README: "Writes")
    u = g.edge_user
    return jsonify(id=u.id, email=u.email, roles=sorted(r.name for r in u.roles))


@app.route("/api/admin")
@edge_required
def api_admin():
    if not g.edge_user.has_role("admin"):  # fsec checked it too, at the edge
        return jsonify(error="forbidden"), 403
    return jsonify(users=User.query.count())


@app.route("/dashboard", methods=["GET", "POST"])
@edge_required
def dashboard():
    # The page's form carries Flask-WTF's CSRF token of the browser's Flask
    # session; fsec checks it at the edge (a POST without a valid one never
    # gets here), and the app checks it again, as its own forms would
    if request.method == "POST":
        try:
            # where Flask-WTF's CSRFProtect looks: the field, then its headers
            validate_csrf(request.form.get("csrf_token") or request.headers.get("X-CSRFToken")
                          or request.headers.get("X-CSRF-Token"))
        except ValidationError as e:
            return jsonify(error=str(e)), 400
        note = escape(request.form.get("note", ""))
        return f"<!doctype html><title>Saved</title><p>Saved for {escape(g.edge_user.email)}: {note}</p>\n"
    return (f"<!doctype html><title>Dashboard</title><p>Hello {escape(g.edge_user.email)}</p>\n"
            f'<form method="post"><input type="hidden" name="csrf_token" value="{generate_csrf()}">'
            '<input name="note"><button>Save</button></form>\n')


def init():
    """The tables, two roles and the demo users (passwords from the
    environment: ALICE_PASSWORD, BOB_PASSWORD)."""
    with app.app_context():
        db.create_all()
        if user_datastore.find_user(email="alice@example.com"):
            return
        admin = user_datastore.create_role(name="admin", permissions="user-read,user-write")
        user_datastore.create_user(email="alice@example.com", roles=[admin],
                                   password=hash_password(os.environ["ALICE_PASSWORD"]))
        user_datastore.create_user(email="bob@example.com",
                                   password=hash_password(os.environ["BOB_PASSWORD"]))
        db.session.commit()


def deactivate(email):
    with app.app_context():
        user = user_datastore.find_user(email=email)
        if user is None:
            sys.exit(f"no user {email}")
        user_datastore.deactivate_user(user)
        db.session.commit()


if __name__ == "__main__":
    if sys.argv[1:] == ["init"]:
        init()
    elif len(sys.argv) == 3 and sys.argv[1] == "deactivate":
        deactivate(sys.argv[2])
    else:
        sys.exit("usage: app.py init | deactivate EMAIL   (gunicorn serves app:app)")
