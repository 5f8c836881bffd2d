"""The peer for bench/compare_flask.sh: Flask-Security-Too (Debian's
python3-flask-security 5.1.2) doing the HTTP work of fsec's example app
(examples/openresty/), on a SQLite file, served by gunicorn sync workers.

Same work as the fsec side:
  * argon2id t=2, m=65536 KiB, p=1 over Flask-Security's HMAC pre-hash
    (SECURITY_PASSWORD_SINGLE_HASH off, a password salt), as fsec's default;
  * registerable + confirmable (a confirmation message is rendered and
    written to a file, like fsec's development mailer), trackable logins,
    an audit line per login (the example app's user_authenticated hook);
  * CSRF on (Flask-WTF's CSRFProtect: a JSON POST carries X-CSRF-Token,
    fetched from GET /login or /register, as fsec requires);
  * the SQLite file in WAL mode with synchronous=FULL (fsec's store
    default), connections pooled (QueuePool) rather than SQLAlchemy 1.4's
    NullPool default for SQLite files, which would open a file per request;
  * or, with BENCH_DATABASE_URI=postgresql+psycopg2://..., PostgreSQL
    through psycopg2 (Debian's python3-psycopg2), pooled (SQLAlchemy's
    QueuePool), for the comparison on the same PostgreSQL as fsec's
    (bench/compare_flask.sh with FSEC_BENCH_PG). The password stays in the
    passfile the URI names (libpq reads it), never in the URI.

Usage (run with /usr/bin/python3, Debian's packages):
  BENCH_DIR=/tmp/x /usr/bin/python3 app.py init N PASSWORD   database, role, N users
  BENCH_DIR=/tmp/x /usr/bin/python3 app.py count             number of users
  BENCH_DIR=/tmp/x /usr/bin/python3 app.py hash PASSWORD     a hash as stored
  BENCH_DIR=/tmp/x /usr/bin/python3 -m gunicorn -w 2 -k sync --chdir bench/flask app:app
"""
import datetime
import os
import sys
import uuid

import sqlalchemy as sa
from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from flask_security import (Security, SQLAlchemyUserDatastore, MailUtil,
                            auth_required, auth_token_required,
                            hash_password, user_authenticated)
from flask_security.models import fsqla_v3 as fsqla

DIR = os.environ.get("BENCH_DIR", "/tmp/fsec-flask-bench")  # database, mail, audit log
DATABASE_URI = os.environ.get("BENCH_DATABASE_URI") or "sqlite:///" + os.path.join(DIR, "auth.db")
SQLITE = DATABASE_URI.startswith("sqlite:")
os.makedirs(os.path.join(DIR, "mail"), exist_ok=True)

app = Flask(__name__)
app.config.update(
    SECRET_KEY=os.environ.get("BENCH_SECRET_KEY", "bench-secret-key-0123456789abcdef0123456789"),
    SECURITY_PASSWORD_SALT=os.environ.get("BENCH_PASSWORD_SALT", "bench-password-salt-0123456789abcdef"),
    SECURITY_PASSWORD_SINGLE_HASH=False,
    SECURITY_PASSWORD_HASH="argon2",
    # Flask-Security 5.1 builds its passlib CryptContext with these keyword
    # arguments (PASSWORD_HASH_OPTIONS is the pre-1.7 per-call form).
    SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS={
        "argon2__type": "ID",
        "argon2__rounds": 2,
        "argon2__memory_cost": 65536,
        "argon2__parallelism": 1,
        "argon2__digest_size": 32,  # libsodium's length, as fsec stores
    },
    SECURITY_REGISTERABLE=True,
    SECURITY_CONFIRMABLE=True,
    SECURITY_TRACKABLE=True,
    SECURITY_SEND_REGISTER_EMAIL=True,
    # No DNS lookups of the address's domain (fsec checks syntax only).
    SECURITY_EMAIL_VALIDATOR_ARGS={"check_deliverability": False},
    SQLALCHEMY_DATABASE_URI=DATABASE_URI,
    SQLALCHEMY_ENGINE_OPTIONS={"poolclass": sa.pool.QueuePool, "pool_size": 5,
                               "connect_args": {"timeout": 5}} if SQLITE else
                              {"pool_size": 5, "pool_pre_ping": False},
    SQLALCHEMY_TRACK_MODIFICATIONS=False,
)

db = SQLAlchemy(app)
CSRFProtect(app)
fsqla.FsModels.set_db_info(db)


class Role(db.Model, fsqla.FsRoleMixin):
    pass


class User(db.Model, fsqla.FsUserMixin):
    pass


if SQLITE:
    with app.app_context():
        @sa.event.listens_for(db.engine, "connect")
        def _pragmas(conn, _record):
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()


class FileMail(MailUtil):
    """The development mailer: the rendered message lands in a file."""
    def send_mail(self, template, subject, recipient, sender, body, html, **kwargs):
        name = f"{datetime.datetime.utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}-{template}.eml"
        with open(os.path.join(DIR, "mail", name), "w") as f:
            f.write(f"To: {recipient}\nFrom: {sender}\nSubject: {subject}\n\n{body}\n\n{html or ''}\n")


user_datastore = SQLAlchemyUserDatastore(db, User, Role)
security = Security(app, user_datastore, mail_util_cls=FileMail)


@user_authenticated.connect_via(app)
def _audit(sender, user, authn_via, **kwargs):
    with open(os.path.join(DIR, "audit.log"), "a") as f:
        f.write(f"{datetime.datetime.utcnow():%Y-%m-%dT%H:%M:%SZ} login {user.email} via {','.join(authn_via)}\n")


@app.route("/hello")
def hello():
    return "hello\n"


@app.route("/bench/token")
@auth_token_required
def bench_token():
    return "hello\n"


@app.route("/bench/session")
@auth_required("session")
def bench_session():
    return "hello\n"


@app.route("/api/me")
@auth_required("token", "session")
def api_me():
    from flask_security import current_user
    return jsonify(id=current_user.id, email=current_user.email,
                   roles=[r.name for r in current_user.roles])


def _init(n, password):
    with app.app_context():
        db.create_all()
        user_datastore.find_or_create_role("member", description="Benchmark users")
        user_datastore.find_or_create_role("admin", description="Administrators",
                                           permissions={"user-read", "user-write"})
        now = datetime.datetime.utcnow()
        if not user_datastore.find_user(email="admin@example.org"):
            user_datastore.create_user(email="admin@example.org", password=hash_password(password),
                                       roles=["admin"], confirmed_at=now)
        for i in range(1, n + 1):
            email = f"user{i:05d}@example.org"
            if not user_datastore.find_user(email=email):
                user_datastore.create_user(email=email, password=hash_password(password),
                                           roles=["member"], confirmed_at=now)
        db.session.commit()


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "init":
        _init(int(sys.argv[2]), sys.argv[3])
    elif cmd == "count":
        with app.app_context():
            print(db.session.query(User).count())
    elif cmd == "hash":
        with app.app_context():
            print(hash_password(sys.argv[2]))
    else:
        sys.exit(__doc__)
