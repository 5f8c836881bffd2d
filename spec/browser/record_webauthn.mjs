// Record WebAuthn objects from real Chromium (Debian's, headless) and its
// virtual authenticator (the CDP WebAuthn domain): a registration and an
// assertion each for ES256 (attestation "direct": packed with Chromium's
// x5c), EdDSA and RS256 (attestation "none"), written as
// spec/fixtures/webauthn/chromium_*.json in the fixtures' shape
// (spec/tools/make_webauthn_fixtures.py says it). A page on
// http://localhost:<port>/ (a secure context) runs
// navigator.credentials.create and .get; this script serves it.
// Usage, from the project root after `cd spec/browser && npm ci`:
//   node spec/browser/record_webauthn.mjs
// then /usr/bin/python3 spec/tools/make_webauthn_fixtures.py (it adds the
// recorded objects to the C vectors and the fuzz corpus).
import { createServer } from "node:http";
import { writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { open } from "./chromium.mjs";

const OUT = "spec/fixtures/webauthn/";

const b64u = (buf) => Buffer.from(buf).toString("base64url");
const seed = (name) => createHash("sha256").update("fsec-chromium-" + name).digest();

const server = createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/html" });
  res.end("<!doctype html><title>webauthn</title><p>recording</p>");
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://localhost:${server.address().port}`;

const { context, page } = await open("build/record-webauthn");
await page.goto(origin + "/");
const cdp = await context.newCDPSession(page);
await cdp.send("WebAuthn.enable", { enableUI: false });
const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
  options: {
    protocol: "ctap2", ctap2Version: "ctap2_1", transport: "internal",
    hasResidentKey: true, hasUserVerification: true, isUserVerified: true,
    automaticPresenceSimulation: true,
  },
});

// In the page: create() then get(), every ArrayBuffer as base64url.
async function record(alg, attestation, name) {
  const args = {
    alg, attestation,
    challenge: b64u(seed(name + "-create")),
    challenge2: b64u(seed(name + "-get")),
    // as Flask-Security-Too: the user handle is a hex string, user.id its bytes
    handle: seed(name + "-user").subarray(0, 16).toString("hex"),
  };
  args.user = b64u(Buffer.from(args.handle));
  return page.evaluate(async (a) => {
    const dec = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
    const enc = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
      .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    const made = await navigator.credentials.create({ publicKey: {
      rp: { id: "localhost", name: "fsec" },
      user: { id: dec(a.user), name: "chromium@example.org", displayName: "Chromium" },
      challenge: dec(a.challenge),
      pubKeyCredParams: [{ type: "public-key", alg: a.alg }],
      attestation: a.attestation,
      authenticatorSelection: { residentKey: "required", userVerification: "required" },
    } });
    const got = await navigator.credentials.get({ publicKey: {
      challenge: dec(a.challenge2), rpId: "localhost", userVerification: "required",
      allowCredentials: [{ type: "public-key", id: made.rawId }],
    } });
    return {
      reg: { id: made.id, rawId: enc(made.rawId), type: made.type,
             authenticatorAttachment: made.authenticatorAttachment,
             clientExtensionResults: made.getClientExtensionResults(),
             response: { clientDataJSON: enc(made.response.clientDataJSON),
                         attestationObject: enc(made.response.attestationObject),
                         transports: made.response.getTransports() } },
      authData: enc(made.response.getAuthenticatorData()),
      asrt: { id: got.id, rawId: enc(got.rawId), type: got.type,
              authenticatorAttachment: got.authenticatorAttachment,
              clientExtensionResults: got.getClientExtensionResults(),
              response: { clientDataJSON: enc(got.response.clientDataJSON),
                          authenticatorData: enc(got.response.authenticatorData),
                          signature: enc(got.response.signature),
                          userHandle: enc(got.response.userHandle) } },
    };
  }, args).then((r) => ({ ...r, args }));
}

// The COSE key: what follows the credential id in the registration's
// authData (Chromium sends no extensions there).
function coseKey(authData) {
  const ad = Buffer.from(authData, "base64url");
  if (ad[32] & 0x80) throw new Error("registration authData with extensions");
  const idLen = ad.readUInt16BE(53);
  return b64u(ad.subarray(55 + idLen));
}

const ALL = [-7, -8, -257];
for (const [alg, attestation, name] of [[-7, "direct", "es256"], [-8, "none", "eddsa"], [-257, "none", "rs256"]]) {
  const r = await record(alg, attestation, name);
  const common = { rp_id: "localhost", origin, opts: { require_uv: true, algs: ALL } };
  const regName = `chromium_reg_${name}`;
  writeFileSync(OUT + regName + ".json", JSON.stringify({
    ...common, kind: "registration", challenge: r.args.challenge, credential: r.reg,
    expect: { core: "ok", client_data: "ok" },
    note: `recorded from Chromium's virtual authenticator (ctap2_1, internal, UV), alg ${alg}, attestation ${attestation}`,
  }, null, 1) + "\n");
  writeFileSync(OUT + `chromium_asrt_${name}.json`, JSON.stringify({
    ...common, kind: "assertion", challenge: r.args.challenge2, credential: r.asrt,
    public_key: coseKey(r.authData), stored_sign_count: 1,
    user_handle: r.args.handle,
    expect: { core: "ok", client_data: "ok", sign_count: "ok" },
    note: `recorded from Chromium: the assertion of ${regName}`,
  }, null, 1) + "\n");
  console.log(`recorded ${name}`);
}
await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId });
await context.close();
server.close();
