#!/usr/bin/python3
"""Print, as JSON, password hashes made by Flask-Security's own
hash_password() for each scheme it supports, with a password salt (double
hash) and with SECURITY_PASSWORD_SINGLE_HASH. Used by
spec/04-flask_security_hashes_spec.lua; run with Debian's python3 and
python3-flask-security installed.

Usage: fs_hashes.py hash SALT PASSWORD
       fs_hashes.py verify SALT PASSWORD HASH   (prints true or false)
"""
import json
import sys
import unicodedata

from flask_security.utils import hash_password, verify_password

from fs_peer import make_app as make_peer_app

SCHEMES = ["argon2", "bcrypt", "pbkdf2_sha256", "pbkdf2_sha512",
           "sha256_crypt", "sha512_crypt"]
# Cheap parameters so the test runs in seconds; the formats are the same.
OPTIONS = {
    "argon2": {"rounds": 2, "memory_cost": 8192, "parallelism": 4},
    "bcrypt": {"rounds": 5},
    "pbkdf2_sha256": {"rounds": 2000},
    "pbkdf2_sha512": {"rounds": 2000},
    "sha256_crypt": {"rounds": 5000},
    "sha512_crypt": {"rounds": 6000},
}


def make_app(scheme, salt):
    settings = dict(
        SECURITY_PASSWORD_HASH=scheme,
        SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS={
            "%s__%s" % (scheme, k): v for k, v in OPTIONS[scheme].items()},
    )
    if salt is None:
        settings["SECURITY_PASSWORD_SINGLE_HASH"] = True
    else:
        settings["SECURITY_PASSWORD_SALT"] = salt
    return make_peer_app(settings)[0]


def main():
    cmd, salt, password = sys.argv[1], sys.argv[2], sys.argv[3]
    # Flask-Security-Too's forms normalize before hashing; do the same.
    password = unicodedata.normalize("NFKD", password)
    if cmd == "verify":
        with make_app("argon2", salt).app_context():
            print("true" if verify_password(password, sys.argv[4]) else "false")
        return
    out = []
    for scheme in SCHEMES:
        for mode, s in (("double", salt), ("single", None)):
            app = make_app(scheme, s)
            with app.app_context():
                out.append({"scheme": scheme, "mode": mode,
                            "hash": hash_password(password)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
