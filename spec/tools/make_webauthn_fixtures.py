#!/usr/bin/python3
"""Write spec/fixtures/webauthn/*.json: WebAuthn registrations and
assertions as a browser posts them, made by a software authenticator
(python3-cryptography for the keys and signatures, fido2.cbor for CBOR),
and their tampered variants. Also writes core/tests/webauthn_vectors.h
(the same bytes for the C unit test) and the fuzz seeds in
fuzz/corpus/wan_*/, adding the objects spec/browser/record_webauthn.mjs
recorded from Chromium (chromium_*.json, not rewritten).

Run from the project root with Debian's Python:
    /usr/bin/python3 spec/tools/make_webauthn_fixtures.py
The keys are fixed (the RS256 and attestation keys are kept in
spec/fixtures/webauthn/keys/ once made), so a rerun changes only the
ECDSA signatures (random k) and the certificates' signatures.

Each fixture: { kind = "registration" | "assertion", rp_id, origin,
challenge (b64url), credential = { id, rawId, type, response = {...},
authenticatorAttachment, clientExtensionResults } (b64url bytes),
opts = { require_uv, algs } (what core.wan_* is given), expect = {
core = "ok" or the reason core.wan_* returns, client_data = "ok" or
"origin" / "challenge_reused" (what the Lua side must refuse),
sign_count = "ok" | "clone" (assertions) }, note }. Assertions also
carry public_key (b64url COSE_Key, as stored) and stored_sign_count.
"""
import base64
import datetime
import hashlib
import json
import os
import subprocess
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier
from fido2 import cbor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "spec", "fixtures", "webauthn")
KEYS = os.path.join(OUT, "keys")
RP_ID = "localhost"
ORIGIN = "http://localhost:8765"
AAGUID = hashlib.sha256(b"fsec-test-aaguid").digest()[:16]
UP, UV, AT, ED = 0x01, 0x04, 0x40, 0x80
ALL_ALGS = [-7, -8, -257]


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def seed(name):
    return hashlib.sha256(b"fsec-webauthn-" + name.encode()).digest()


# ---- keys ----------------------------------------------------------------

def ec_key(name):
    return ec.derive_private_key(int.from_bytes(seed(name), "big") % (2**255), ec.SECP256R1())


def ed_key(name):
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed(name))


def rsa_key(name):
    """RSA keys cannot be derived from a seed: made once, then kept."""
    path = os.path.join(KEYS, name + ".pem")
    if os.path.exists(path):
        with open(path, "rb") as f:
            return serialization.load_pem_private_key(f.read(), None)
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    os.makedirs(KEYS, exist_ok=True)
    with open(path, "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
    return k


def key_for(alg, name):
    return {-7: ec_key, -8: ed_key, -257: rsa_key}[alg](name)


def cose(alg, priv):
    pub = priv.public_key()
    if alg == -7:
        n = pub.public_numbers()
        return cbor.encode({1: 2, 3: -7, -1: 1, -2: n.x.to_bytes(32, "big"), -3: n.y.to_bytes(32, "big")})
    if alg == -8:
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cbor.encode({1: 1, 3: -8, -1: 6, -2: raw})
    n = pub.public_numbers()
    return cbor.encode({1: 3, 3: -257, -1: n.n.to_bytes(256, "big"), -2: n.e.to_bytes(3, "big")})


def sign(alg, priv, msg):
    if alg == -7:
        return priv.sign(msg, ec.ECDSA(hashes.SHA256()))
    if alg == -8:
        return priv.sign(msg)
    return priv.sign(msg, padding.PKCS1v15(), hashes.SHA256())


# ---- authenticator -------------------------------------------------------

def auth_data(rp_id, flags, count, cred_id=None, key=None, ext=None):
    out = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + count.to_bytes(4, "big")
    if cred_id is not None:
        out += AAGUID + len(cred_id).to_bytes(2, "big") + cred_id + key
    if ext is not None:
        out += cbor.encode(ext)
    return out


def client_data(kind, challenge, origin=ORIGIN):
    return json.dumps({"type": kind, "challenge": b64u(challenge), "origin": origin,
                       "crossOrigin": False}, separators=(",", ":")).encode()


def att_cert(ou="Authenticator Attestation", ca=False, aaguid=AAGUID):
    k = ec_key("attestation")
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fsec test"),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
                      x509.NameAttribute(NameOID.COMMON_NAME, "fsec Batch Certificate")])
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
         .public_key(k.public_key()).serial_number(4242)
         .not_valid_before(datetime.datetime(2024, 1, 1))
         .not_valid_after(datetime.datetime(2044, 1, 1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if aaguid is not None:
        b = b.add_extension(x509.UnrecognizedExtension(
            ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4"), b"\x04\x10" + aaguid), critical=False)
    return k, b.sign(k, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


FIXTURES = {}


def fixture(name, kind, challenge, credential, expect, opts=None, note="", **extra):
    f = {"kind": kind, "rp_id": RP_ID, "origin": ORIGIN, "challenge": b64u(challenge),
         "credential": credential, "opts": opts or {"require_uv": False, "algs": ALL_ALGS},
         "expect": expect, "note": note}
    f.update(extra)
    FIXTURES[name] = f


def registration(name, alg, fmt, expect="ok", client="ok", opts=None, note="",
                 flags=UP | UV | AT, rp_id=RP_ID, origin=ORIGIN, stmt=None,
                 trail_ad=b"", trail_att=b"", cert=None, stmt_alg=None):
    """A credential made under fmt ("none", "self", "x5c"), then changed as
    the keyword arguments say. Returns (cred_id, cose key, priv)."""
    priv = key_for(alg, "cred-" + str(alg))
    key = cose(alg, priv)
    cred_id = seed("id-" + name)
    challenge = seed("challenge-" + name)
    ad = auth_data(rp_id, flags, 1, cred_id, key) + trail_ad
    cdj = client_data("webauthn.create", challenge, origin)
    msg = ad + hashlib.sha256(cdj).digest()
    if stmt is not None:
        att_fmt, st = stmt
    elif fmt == "none":
        att_fmt, st = "none", {}
    elif fmt == "self":
        att_fmt, st = "packed", {"alg": stmt_alg or alg, "sig": sign(alg, priv, msg)}
    else:
        ak, der = cert or att_cert()
        att_fmt, st = "packed", {"alg": -7, "sig": sign(-7, ak, msg), "x5c": [der]}
    att = cbor.encode({"fmt": att_fmt, "attStmt": st, "authData": ad}) + trail_att
    cred = {"id": b64u(cred_id), "rawId": b64u(cred_id), "type": "public-key",
            "response": {"clientDataJSON": b64u(cdj), "attestationObject": b64u(att),
                         "transports": ["internal"]},
            "authenticatorAttachment": "platform", "clientExtensionResults": {}}
    fixture(name, "registration", challenge, cred, {"core": expect, "client_data": client},
            opts, note)
    return cred_id, key, priv


def assertion(name, alg, expect="ok", client="ok", opts=None, note="", flags=UP | UV,
              count=2, stored=1, rp_id=RP_ID, origin=ORIGIN, challenge=None,
              flip=False, trail=b"", signer=None, ad=None):
    priv = key_for(alg, "cred-" + str(alg))
    key = cose(alg, priv)
    cred_id = seed("id-reg_" + {-7: "es256", -8: "eddsa", -257: "rs256"}[alg] + "_none")
    challenge = challenge or seed("challenge-" + name)
    ad = (ad or auth_data(rp_id, flags, count)) + trail
    cdj = client_data("webauthn.get", challenge, origin)
    sig = bytearray(sign(alg, signer or priv, ad + hashlib.sha256(cdj).digest()))
    if flip:
        sig[len(sig) // 2] ^= 0x01
    handle = seed("user")[:16].hex()
    cred = {"id": b64u(cred_id), "rawId": b64u(cred_id), "type": "public-key",
            "response": {"clientDataJSON": b64u(cdj), "authenticatorData": b64u(ad),
                         "signature": b64u(bytes(sig)), "userHandle": b64u(handle.encode())},
            "authenticatorAttachment": "platform", "clientExtensionResults": {}}
    sc = "clone" if (count or stored) and count <= stored else "ok"
    fixture(name, "assertion", challenge, cred,
            {"core": expect, "client_data": client, "sign_count": sc}, opts, note,
            public_key=b64u(key), stored_sign_count=stored, user_handle=handle)


def make_all():
    for alg, a in ((-7, "es256"), (-8, "eddsa"), (-257, "rs256")):
        registration("reg_%s_none" % a, alg, "none", note="fmt none")
        registration("reg_%s_packed_self" % a, alg, "self", note="packed self attestation")
        registration("reg_%s_packed_x5c" % a, alg, "x5c",
                     note="packed with a self-made x5c certificate (ES256)")
    # tampered registrations
    registration("reg_wrong_origin", -7, "none", client="origin", origin="https://evil.test",
                 note="clientDataJSON origin is another site: the Lua side refuses it")
    registration("reg_wrong_rp_id", -7, "none", "rp_id", rp_id="evil.test",
                 note="rpIdHash of another RP ID")
    registration("reg_up_clear", -7, "none", "user_present", flags=UV | AT, note="UP clear")
    registration("reg_uv_clear", -7, "none", "user_verified", flags=UP | AT,
                 opts={"require_uv": True, "algs": ALL_ALGS}, note="UV clear, UV required")
    registration("reg_uv_clear_not_required", -7, "none", flags=UP | AT,
                 note="UV clear, UV not required: accepted")
    registration("reg_alg_not_allowed", -257, "none", "algorithm",
                 opts={"require_uv": False, "algs": [-7, -8]}, note="RS256 key, only ES256/EdDSA allowed")
    registration("reg_attstmt_alg_mismatch", -7, "self", "algorithm", stmt_alg=-257,
                 note="packed self: attStmt alg -257 with an ES256 key")
    registration("reg_trailing_authdata", -7, "none", "malformed", trail_ad=b"\x00",
                 note="one byte after the COSE key in authData (no ED flag)")
    registration("reg_trailing_object", -7, "none", "malformed", trail_att=b"\x00",
                 note="one byte after the attestation object")
    registration("reg_no_at", -7, "none", "malformed", flags=UP | UV,
                 stmt=("none", {}), note="no AT flag: the credential data is trailing bytes")
    # a packed self statement whose signature has a flipped byte
    priv = key_for(-7, "cred--7")
    registration("reg_self_bad_signature", -7, "none", "attestation",
                 stmt=("packed", {"alg": -7, "sig": sign(-7, priv, b"something else")}),
                 note="packed self: signature over other bytes")
    registration("reg_x5c_bad_ou", -7, "x5c", "attestation", cert=att_cert(ou="Something Else"),
                 note="x5c[0] OU is not Authenticator Attestation")
    registration("reg_x5c_ca", -7, "x5c", "attestation", cert=att_cert(ca=True),
                 note="x5c[0] is a CA certificate")
    registration("reg_x5c_aaguid_mismatch", -7, "x5c", "attestation",
                 cert=att_cert(aaguid=b"\x11" * 16), note="x5c[0] AAGUID extension differs")
    registration("reg_x5c_no_aaguid", -7, "x5c", cert=att_cert(aaguid=None),
                 note="x5c[0] without the AAGUID extension: accepted")
    registration("reg_fmt_tpm", -7, "none", "format", stmt=("tpm", {}), note="fmt tpm")
    registration("reg_fmt_case", -7, "none", "format", stmt=("None", {}),
                 note="fmt matched case-sensitively")
    registration("reg_none_with_stmt", -7, "none", "attestation",
                 stmt=("none", {"alg": -7}), note="fmt none with a non-empty attStmt")
    # assertions (the credentials of reg_*_none)
    assertion("asrt_es256", -7, note="ES256, DER signature")
    assertion("asrt_eddsa", -8, note="EdDSA")
    assertion("asrt_rs256", -257, note="RS256")
    assertion("asrt_wrong_origin", -7, client="origin", origin="https://evil.test",
              note="clientDataJSON origin is another site")
    assertion("asrt_reused_challenge", -7, client="challenge_reused",
              challenge=seed("challenge-asrt_es256"), count=3, stored=2,
              note="a second assertion under asrt_es256's challenge: valid on its own, "
                   "refused when the challenge was already used (Lua side)")
    assertion("asrt_wrong_rp_id", -7, "rp_id", rp_id="evil.test", note="rpIdHash of another RP ID")
    assertion("asrt_flipped_signature", -7, "signature", flip=True, note="one signature bit flipped")
    assertion("asrt_eddsa_flipped_signature", -8, "signature", flip=True, note="EdDSA, bit flipped")
    assertion("asrt_rs256_flipped_signature", -257, "signature", flip=True, note="RS256, bit flipped")
    assertion("asrt_wrong_key", -7, "signature", signer=ec_key("another"),
              note="signed by another key")
    assertion("asrt_up_clear", -7, "user_present", flags=UV, note="UP clear (signature valid)")
    assertion("asrt_uv_clear", -7, "user_verified", flags=UP,
              opts={"require_uv": True, "algs": ALL_ALGS}, note="UV clear, UV required")
    assertion("asrt_counter_backwards", -7, count=3, stored=7,
              note="sign count 3 after 7: core accepts, the clone rule (Lua) flags it")
    assertion("asrt_counter_zero", -7, count=0, stored=0,
              note="an authenticator without a counter (0 and 0): not a clone")
    assertion("asrt_trailing_bytes", -7, "malformed", trail=b"\x00",
              note="one byte after authData (signed over, still refused)")
    assertion("asrt_with_at", -7, "malformed",
              ad=auth_data(RP_ID, UP | UV | AT, 2, b"\x01" * 16, cose(-7, ec_key("cred--7"))),
              note="an assertion carrying attested credential data")
    assertion("asrt_extensions", -7,
              ad=auth_data(RP_ID, UP | UV | ED, 2, ext={"credProtect": 1}),
              note="ED flag with an extensions map: accepted")
    assertion("asrt_be_bs_flags", -7, flags=UP | UV | 0x08 | 0x10,
              note="BE and BS set (L3 bits): accepted, reported")


def c_bytes(b):
    return "".join("\\x%02x" % c for c in b)


def write_c_header(path):
    """The fixtures as C vectors for core/tests/test_webauthn.c."""
    def d(s):
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    lines = ["/* webauthn_vectors.h: written by spec/tools/make_webauthn_fixtures.py",
             " * from the fixtures in spec/fixtures/webauthn; do not edit. */",
             "typedef struct wan_vector {",
             "  const char *name;",
             "  int registration, require_uv, es256_only, es_eddsa_only;",
             "  const char *rp_id, *expect;",
             "  const char *a; unsigned a_len; /* attestationObject | authenticatorData */",
             "  const char *cdj; unsigned cdj_len; /* clientDataJSON */",
             "  const char *sig; unsigned sig_len;",
             "  const char *key; unsigned key_len;",
             "} wan_vector;",
             "static const wan_vector wan_vectors[] = {"]
    for name in sorted(FIXTURES):
        f = FIXTURES[name]
        r = f["credential"]["response"]
        reg = f["kind"] == "registration"
        a = d(r["attestationObject"] if reg else r["authenticatorData"])
        cdj = d(r["clientDataJSON"])
        sig = b"" if reg else d(r["signature"])
        key = b"" if reg else d(f["public_key"])
        algs = f["opts"]["algs"]
        lines.append('  {"%s", %d, %d, %d, %d, "%s", "%s",' % (
            name, reg, f["opts"]["require_uv"], algs == [-7], algs == [-7, -8], f["rp_id"],
            f["expect"]["core"]))
        for v in (a, cdj, sig, key):
            lines.append('   "%s", %d,' % (c_bytes(v), len(v)))
        lines[-1] = lines[-1].rstrip(",") + "},"
    lines.append("};")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    # as spec/check-format.sh wants every C file of the tree
    subprocess.run(["clang-format", "-i", path], check=True, cwd=ROOT)


def write_corpus():
    """Fuzz seeds: authData, COSE keys and attestation objects."""
    def d(s):
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    for t in ("wan_authdata", "wan_cose", "wan_attestation"):
        os.makedirs(os.path.join(ROOT, "fuzz", "corpus", t), exist_ok=True)
    for name, f in sorted(FIXTURES.items()):
        r = f["credential"]["response"]
        if f["kind"] == "registration":
            att = d(r["attestationObject"])
            seeds = {"wan_attestation": att}
            top = cbor.decode(att) if f["expect"]["core"] != "malformed" else None
            if top:
                seeds["wan_authdata"] = top["authData"]
        else:
            seeds = {"wan_authdata": d(r["authenticatorData"]), "wan_cose": d(f["public_key"])}
        for t, b in seeds.items():
            with open(os.path.join(ROOT, "fuzz", "corpus", t, name), "wb") as fh:
                fh.write(b)


def main():
    os.makedirs(OUT, exist_ok=True)
    make_all()
    for name, f in FIXTURES.items():
        with open(os.path.join(OUT, name + ".json"), "w") as fh:
            json.dump(f, fh, indent=1, sort_keys=True)
            fh.write("\n")
    # the objects recorded from Chromium (spec/browser/record_webauthn.mjs):
    # kept as recorded, and added to the C vectors and the corpus
    for fn in sorted(os.listdir(OUT)):
        if fn.startswith("chromium_") and fn.endswith(".json"):
            with open(os.path.join(OUT, fn)) as fh:
                FIXTURES[fn[:-5]] = json.load(fh)
    write_c_header(os.path.join(ROOT, "core", "tests", "webauthn_vectors.h"))
    write_corpus()
    print("wrote %d fixtures to %s" % (len(FIXTURES), OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
