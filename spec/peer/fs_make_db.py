#!/usr/bin/python3
"""Make a Flask-Security database with the real library (Debian's
python3-flask-security 5.1.2): users with hashes of several schemes,
roles with permissions, links and tracking fields. A SQLite file, or a
PostgreSQL database through SQLAlchemy's URL (psycopg2, Debian's
python3-psycopg2), e.g. postgresql://fsec@127.0.0.1:5432/db?passfile=F
(spec/52-import_postgres_spec.lua).

Usage: fs_make_db.py OUT.db|URL SALT [--v3] [--argon2] [--factors]
                     [--webauthn[=TABLE]]
  --v3      drop fs_uniquifier afterwards (the Flask-Security 3.0 layout)
  --argon2  a fourth user, dave, hashed with argon2 (small parameters)
  --factors two-factor, unified sign-in and recovery codes on, and users
            who set them up through Flask-Security's own API
            (spec/53-import_factors_spec.lua): prints, as JSON, the
            application's TOTP_SECRETS and MULTI_FACTOR_RECOVERY_CODES_KEYS,
            and each such user's original key (base32) and codes
  --webauthn WebAuthn keys (spec/55-import_webauthn_spec.lua): the
            fsqla_v3 WebAuthn model (in TABLE; default Flask-SQLAlchemy's
            name for the class, web_authn), users with handles and keys
            made by a small software authenticator (P-256 and Ed25519
            keys, COSE_Key CBOR by python3-fido2), and for each key an
            assertion it signed; prints them as JSON (bytes in hex)
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

def make_webauthn_users(WebAuthn):
    """Users with WebAuthn keys, rows as Flask-Security-Too stores them
    (models/fsqla_v3.py: raw credential id, COSE_Key CBOR public key,
    transports as a comma list) without py_webauthn, which Debian lacks.
    Each key also signs an assertion for rp_id example.com (authenticator
    data: rpIdHash, flags UP|UV, the sign count + 1), for a verifier to
    check with the imported key. Returns what the spec compares."""
    import hashlib
    import os
    import uuid
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from fido2 import cbor
    from fido2.cose import ES256, EdDSA

    rp_hash = hashlib.sha256(b"example.com").digest()
    out = {"rp_id": "example.com", "users": {}}

    def key(user, name, usage, kind, count, transports, backup, when, used):
        if kind == "ES256":
            priv = ec.generate_private_key(ec.SECP256R1())
            cose = ES256.from_cryptography_key(priv.public_key())
        else:
            priv = ed25519.Ed25519PrivateKey.generate()
            cose = EdDSA.from_cryptography_key(priv.public_key())
        cid = os.urandom(32) if kind == "ES256" else b"\x00\xff" + os.urandom(62)
        row = WebAuthn(credential_id=cid, public_key=cbor.encode(dict(cose)), sign_count=count,
                       transports=transports, backup_state=backup,
                       device_type="multi_device" if backup else "single_device",
                       name=name, usage=usage, user_id=user.id,
                       create_datetime=when, lastuse_datetime=used)
        db.session.add(row)
        # an assertion of this key: authenticatorData || SHA-256(clientDataJSON)
        auth_data = rp_hash + bytes([0x05]) + (count + 1).to_bytes(4, "big")
        client = json.dumps({"type": "webauthn.get", "challenge": "Y2hhbGxlbmdl",
                             "origin": "https://example.com", "crossOrigin": False}).encode()
        signed = auth_data + hashlib.sha256(client).digest()
        sig = priv.sign(signed, ec.ECDSA(hashes.SHA256())) if kind == "ES256" else priv.sign(signed)
        return {"name": name, "usage": usage, "alg": cose.ALGORITHM, "credential_id": cid.hex(),
                "public_key": cbor.encode(dict(cose)).hex(), "sign_count": count,
                "transports": transports or [], "backup_state": backup,
                "create_datetime": when.isoformat(), "lastuse_datetime": used.isoformat(),
                "assertion": {"authenticator_data": auth_data.hex(), "client_data_json": client.hex(),
                              "signature": sig.hex()}}

    t0 = datetime.datetime(2025, 3, 4, 5, 6, 7)
    wendy = ds.create_user(email="wendy@example.com", password=hash_password("wendy-password"))
    xavier = ds.create_user(email="xavier@example.com", password=hash_password("xavier-password"))
    db.session.commit()
    wendy.fs_webauthn_user_handle = uuid.uuid4().hex
    xavier.fs_webauthn_user_handle = uuid.uuid4().hex
    out["users"]["wendy@example.com"] = {"handle": wendy.fs_webauthn_user_handle, "keys": [
        key(wendy, "YubiKey 5", "secondary", "ES256", 41, ["usb", "nfc"], False, t0,
            t0 + datetime.timedelta(days=3, seconds=5)),
        key(wendy, "Phone", "first", "EdDSA", 0, ["internal", "hybrid"], True,
            t0 + datetime.timedelta(hours=1), t0 + datetime.timedelta(hours=2)),
    ]}
    out["users"]["xavier@example.com"] = {"handle": xavier.fs_webauthn_user_handle, "keys": [
        # the same name as one of wendy's: names are unique per user only
        # a count near the top of Too's Integer column (32 bits, signed on
        # PostgreSQL), no transports
        key(xavier, "Phone", "first", "ES256", 2**31 - 2, None, False, t0, t0),
    ]}
    db.session.commit()
    return out

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
WAN = [a for a in sys.argv if a == "--webauthn" or a.startswith("--webauthn=")]
if WAN:
    from flask_security.models import fsqla_v3 as fsqla
    table = WAN[0].partition("=")[2]

    class WebAuthn(db.Model, fsqla.FsWebAuthnMixin):
        if table:
            __tablename__ = table
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
    if WAN:
        print(json.dumps(make_webauthn_users(WebAuthn)))

if "--v3" in sys.argv:
    # the 3.0 user table: no fs_uniquifier (nor the later columns); on
    # PostgreSQL roles_users' foreign key goes with the old table
    with app.app_context(), db.engine.begin() as con:
        drop = 'DROP TABLE "user" CASCADE' if con.dialect.name == "postgresql" else 'DROP TABLE "user"'
        for stmt in ('CREATE TABLE user3 AS SELECT id, email, username, password, active, confirmed_at,'
                     ' last_login_at, current_login_at, last_login_ip, current_login_ip, login_count FROM "user"',
                     drop, 'ALTER TABLE user3 RENAME TO "user"'):
            con.execute(text(stmt))
