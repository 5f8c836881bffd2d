#!/usr/bin/python3
"""Make a Flask-Security database with the real library (Debian's
python3-flask-security 5.1.2): users with hashes of several schemes,
roles with permissions, links and tracking fields. A SQLite file, or a
PostgreSQL database through SQLAlchemy's URL (psycopg2, Debian's
python3-psycopg2), e.g. postgresql://fsec@127.0.0.1:5432/db?passfile=F
(spec/52-import_postgres_spec.lua).

Usage: fs_make_db.py OUT.db|URL SALT [--v3] [--argon2]
  --v3      drop fs_uniquifier afterwards (the Flask-Security 3.0 layout)
  --argon2  a fourth user, dave, hashed with argon2 (small parameters)
"""
import datetime
import sys

from sqlalchemy import text

from flask_security import hash_password

from fs_peer import make_app

out, salt = sys.argv[1], sys.argv[2]
app, db, ds = make_app(dict(
    SECURITY_PASSWORD_SALT=salt,
    SECURITY_PASSWORD_HASH="bcrypt",
    SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS={"bcrypt__rounds": 4, "argon2__rounds": 1,
                                            "argon2__memory_cost": 1024, "argon2__parallelism": 1},
), out if "://" in out else "sqlite:///" + out)
with app.app_context():
    db.create_all()
    admin = ds.create_role(name="admin", description="Administrators", permissions="user-read,user-write")
    ds.create_role(name="editor", permissions="post-write")
    u = ds.create_user(email="alice@example.com", password=hash_password("alice-password"), roles=[admin])
    u.confirmed_at = datetime.datetime(2024, 1, 31, 12, 34, 56)
    u.last_login_at = datetime.datetime(2024, 2, 1, 8, 0, 0)
    u.current_login_at = datetime.datetime(2024, 2, 2, 9, 30, 0)
    u.last_login_ip, u.current_login_ip, u.login_count = "192.0.2.1", "192.0.2.2", 7
    ds.create_user(email="bob@example.com", password=hash_password("bob-password"), roles=["editor"], active=False)
    # another scheme, the way Flask-Security writes it (pre-hash, then passlib)
    from flask_security.utils import get_hmac
    from passlib.hash import pbkdf2_sha512
    ds.create_user(email="carol@example.com",
                   password=pbkdf2_sha512.using(rounds=1000).hash(get_hmac("carol-password")))
    if "--argon2" in sys.argv:
        # Flask-Security's own context (the passlib options above), argon2
        hashed = app.extensions["security"].pwd_context.hash(get_hmac("dave-password"), scheme="argon2")
        ds.create_user(email="dave@example.com", password=hashed)
    db.session.commit()

if "--v3" in sys.argv:
    # the 3.0 user table: no fs_uniquifier (nor the later columns); on
    # PostgreSQL roles_users' foreign key goes with the old table
    with app.app_context(), db.engine.begin() as con:
        drop = 'DROP TABLE "user" CASCADE' if con.dialect.name == "postgresql" else 'DROP TABLE "user"'
        for stmt in ('CREATE TABLE user3 AS SELECT id, email, username, password, active, confirmed_at,'
                     ' last_login_at, current_login_at, last_login_ip, current_login_ip, login_count FROM "user"',
                     drop, 'ALTER TABLE user3 RENAME TO "user"'):
            con.execute(text(stmt))
