#!/usr/bin/python3
"""Make a Flask-Security database with the real library (Debian's
python3-flask-security 5.1.2): users with hashes of several schemes,
roles with permissions, links and tracking fields. A SQLite file, or a
PostgreSQL database through SQLAlchemy's URL (psycopg2, Debian's
python3-psycopg2), e.g. postgresql://fsec@127.0.0.1:5432/db?passfile=F
(spec/52-import_postgres_spec.lua).

Usage: fs_make_db.py OUT.db|URL SALT [--v3] [--argon2] [--factors]
  --v3      drop fs_uniquifier afterwards (the Flask-Security 3.0 layout)
  --argon2  a fourth user, dave, hashed with argon2 (small parameters)
  --factors two-factor, unified sign-in and recovery codes on, and users
            who set them up through Flask-Security's own API
            (spec/53-import_factors_spec.lua): prints, as JSON, the
            application's TOTP_SECRETS and MULTI_FACTOR_RECOVERY_CODES_KEYS,
            and each such user's original key (base32) and codes
"""
import datetime
import json
import sys

from sqlalchemy import text

from flask_security import hash_password

from fs_peer import make_app


def make_factor_users():
    """Users with second factors, set up by Flask-Security's own calls
    (datastore.tf_set / us_set, the Totp factory, MfRecoveryCodesUtil),
    as its /tf-setup, /us-setup and /mf-recovery-codes views do. Returns
    what the spec checks the import against: each user's original key,
    read back through passlib, and codes computed from it with pyotp."""
    import pyotp
    from flask_security.totp import Totp
    sec = app.extensions["security"]
    factory = sec._totp_factory
    codes_util = sec._mf_recovery_codes_util
    now = int(datetime.datetime.now(datetime.timezone.utc).timestamp())
    users = {}

    def new_user(email):
        return ds.create_user(email=email, password=hash_password(email.split("@")[0] + "-password"))

    def describe(stored):
        key = factory._totp.from_source(stored).base32_key
        return {"key": key, "now": now, "code": pyotp.TOTP(key).at(now)}

    erin = new_user("erin@example.com")  # authenticator, plain recovery codes
    ds.tf_set(erin, "authenticator", totp_secret=factory.generate_totp_secret())
    users["erin@example.com"] = dict(describe(erin.tf_totp_secret), method="authenticator",
                                     codes=codes_util.create_recovery_codes(erin))
    frank = new_user("frank@example.com")  # codes by email
    ds.tf_set(frank, "email", totp_secret=factory.generate_totp_secret())
    users["frank@example.com"] = dict(describe(frank.tf_totp_secret), method="email")
    heidi = new_user("heidi@example.com")  # unified sign-in: authenticator and email codes
    ds.us_set(heidi, "authenticator", totp_secret=factory.generate_totp_secret())
    ds.us_set(heidi, "email", totp_secret=factory.generate_totp_secret())
    users["heidi@example.com"] = {"us": {m: describe(s) for m, s in ds.us_get_totp_secrets(heidi).items()}}
    # an authenticator set up while the source had only the key "1"
    ivan = new_user("ivan@example.com")
    old = Totp({"1": TOTP_SECRETS["1"]}, "fsec-test").generate_totp_secret()
    ds.tf_set(ivan, "authenticator", totp_secret=old)
    # recovery codes encrypted, as with MULTI_FACTOR_RECOVERY_CODES_KEYS set
    codes_util.setup_cryptor([RECOVERY_KEY.encode()])
    users["ivan@example.com"] = dict(describe(old), method="authenticator",
                                     codes=codes_util.create_recovery_codes(ivan))
    grace = new_user("grace@example.com")  # codes by SMS, encrypted recovery codes
    ds.tf_set(grace, "sms", totp_secret=factory.generate_totp_secret(), phone="+15555550100")
    users["grace@example.com"] = dict(describe(grace.tf_totp_secret), method="sms",
                                      phone="+15555550100", codes=codes_util.create_recovery_codes(grace))
    db.session.commit()
    return {"totp_secrets": TOTP_SECRETS, "recovery_keys": [RECOVERY_KEY], "users": users}

out, salt = sys.argv[1], sys.argv[2]
FACTORS = "--factors" in sys.argv
# The source application's secrets: two TOTP tags (passlib encrypts with
# the largest, "2"; a user set up while only "1" existed keeps "1"), and
# one Fernet key for the recovery codes.
TOTP_SECRETS = {"1": "old-totp-secret-of-the-source-app", "2": "new-totp-secret-of-the-source-app"}
RECOVERY_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
settings = dict(
    SECURITY_PASSWORD_SALT=salt,
    SECURITY_PASSWORD_HASH="bcrypt",
    SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS={"bcrypt__rounds": 4, "argon2__rounds": 1,
                                            "argon2__memory_cost": 1024, "argon2__parallelism": 1},
)
if FACTORS:
    settings.update(SECURITY_TWO_FACTOR=True, SECURITY_TOTP_SECRETS=TOTP_SECRETS,
                    SECURITY_TOTP_ISSUER="fsec-test", SECURITY_UNIFIED_SIGNIN=True,
                    SECURITY_US_ENABLED_METHODS=["password", "email", "authenticator"],
                    SECURITY_TWO_FACTOR_ENABLED_METHODS=["email", "authenticator", "sms"],
                    SECURITY_MULTI_FACTOR_RECOVERY_CODES=True, SECURITY_SMS_SERVICE="test")
app, db, ds = make_app(settings, out if "://" in out else "sqlite:///" + out)
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
    if FACTORS:
        print(json.dumps(make_factor_users()))

if "--v3" in sys.argv:
    # the 3.0 user table: no fs_uniquifier (nor the later columns); on
    # PostgreSQL roles_users' foreign key goes with the old table
    with app.app_context(), db.engine.begin() as con:
        drop = 'DROP TABLE "user" CASCADE' if con.dialect.name == "postgresql" else 'DROP TABLE "user"'
        for stmt in ('CREATE TABLE user3 AS SELECT id, email, username, password, active, confirmed_at,'
                     ' last_login_at, current_login_at, last_login_ip, current_login_ip, login_count FROM "user"',
                     drop, 'ALTER TABLE user3 RENAME TO "user"'):
            con.execute(text(stmt))
