// A real browser (Debian's Chromium, headless) through the example app's
// WebAuthn pages with Chromium's virtual authenticators (CDP's WebAuthn
// domain): register a passkey, sign in with it alone (no identity: a
// discoverable key), re-authenticate at /wan-verify, register a second
// key as a second factor and sign in with a password and then that key,
// delete the passkey, and a cloned key (the same private key in another
// authenticator, its counter behind) refused. Screenshots go to the
// artifacts folder.
// Usage: node webauthn.mjs BASE_URL ARTIFACTS_DIR EMAIL PASSWORD
// (a confirmed user without keys; BASE_URL's 127.0.0.1 becomes localhost:
// an RP ID is a domain, never an IP address)
import { open, patient, signIn as signInAs, signOut as signOutOf } from "./chromium.mjs";

const [rawBase, artifacts, email, password] = process.argv.slice(2);
const base = rawBase.replace("127.0.0.1", "localhost");
const { context, page, shot, expect } = await open(artifacts);
// nginx's per-address limit: wait, as a person would; and every page under
// a Content-Security-Policy that allows no inline script (fsec's pages
// need none: the ceremony runs from fsec's script file)
const CSP = "script-src 'self'; frame-ancestors 'none'"; // fsec's pages keep their inline styles
const waits = await patient(page, { "content-security-policy": CSP });
const violations = [];
page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
const cdp = await context.newCDPSession(page);
await cdp.send("WebAuthn.enable", { enableUI: false });

const path = () => new URL(page.url()).pathname;
const main = async () => (await page.textContent("main")) || "";

// A USB security key that keeps discoverable credentials and verifies its user.
async function authenticator() {
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", ctap2Version: "ctap2_1", transport: "usb", hasResidentKey: true,
               hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return authenticatorId;
}

const signIn = () => signInAs(page, base, email, password);
const signOut = () => signOutOf(page, base);

async function expectSignedIn(what) {
  await page.goto(base + "/profile");
  expect(path() === "/profile" && (await page.textContent("#email")) === email, what + ": signed in, got " + page.url());
}

// A ceremony page: fsec's script calls navigator.credentials and posts
// the answer to /wan-*/<state>; wait for that post and the page after it.
async function ceremony(click) {
  const posted = page.waitForRequest((r) => r.method() === "POST" && /^\/wan-[a-z]+\/[^/]+$/.test(new URL(r.url()).pathname));
  await click();
  await posted.catch(async (e) => {
    const shown = await page.$("#wan-error");
    throw new Error("no credential posted: " + (shown ? await shown.textContent() : e.message));
  });
  await page.waitForSelector("#wan-response", { state: "detached" });
  await page.waitForLoadState();
}

// Register a key on /wan-register: the form, then the ceremony.
async function register(name, usage) {
  await page.goto(base + "/wan-register");
  await page.fill("#name", name);
  await page.check(`input[name=usage][value=${usage}]`);
  await ceremony(() => page.click("form:has(#name) button[type=submit]"));
  const text = await main();
  expect(text.includes("Successfully added WebAuthn credential with name: " + name), "registered " + name + ": " + text);
}

// /wan-signin's or /wan-verify's button, then the ceremony; where it ended.
async function useKey() {
  await ceremony(() => page.click("main form button[type=submit]"));
  return path();
}

try {
  await signIn();
  await expectSignedIn("password only (no key yet)");

  // 1. A passkey, to sign in without a password.
  const first = await authenticator();
  await page.goto(base + "/wan-register");
  expect((await main()).includes("You have no keys yet"), "no keys listed yet");
  await shot("wan-register-empty");
  await register("laptop", "first");
  expect((await main()).includes("laptop"), "the key listed");
  await shot("wan-registered-passkey");
  const [passkey] = (await cdp.send("WebAuthn.getCredentials", { authenticatorId: first })).credentials;
  expect(passkey && passkey.isResidentCredential, "a discoverable credential in the authenticator");

  // 2. Sign out, sign in with the passkey alone (no identity typed).
  await signOut();
  await page.goto(base + "/login");
  await page.click("a[href='/wan-signin']");
  await page.waitForLoadState();
  await shot("wan-signin");
  await useKey();
  await expectSignedIn("passkey, first factor");
  await shot("wan-signed-in");

  // 3. Re-authenticate with it at /wan-verify.
  await page.goto(base + "/wan-verify");
  expect(await useKey() === "/", "/wan-verify goes on to post_login_view, got " + page.url());
  expect((await page.content()).includes("Reauthentication successful"), "the reauthentication flash");
  await shot("wan-verified");

  // 4. A second key, as a second factor (another authenticator).
  await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: first });
  const second = await authenticator();
  await register("backup", "secondary");
  await shot("wan-registered-second-factor");
  await signOut();
  await signIn();
  expect(path() === "/wan-signin", "a password sign-in goes on to the key, got " + page.url());
  expect(!(await page.$("#identity")), "no identity asked for a second factor");
  await shot("wan-second-factor");
  await useKey();
  await expectSignedIn("password, then the key");

  // 5. Delete the passkey (fresh sign-in).
  await page.goto(base + "/wan-register");
  await page.click("#wan-credentials li:has-text('laptop') button");
  await page.waitForLoadState();
  const listed = await main();
  expect(listed.includes("Successfully deleted WebAuthn credential with name: laptop"), "deleted: " + listed);
  expect(!(await page.textContent("#wan-credentials")).includes("laptop"), "laptop no longer listed");
  await shot("wan-deleted");

  // 6. A clone: the second key's private key in a third authenticator,
  // its counter back at 0. Its assertion counts below the stored count.
  const [backup] = (await cdp.send("WebAuthn.getCredentials", { authenticatorId: second })).credentials;
  expect(backup && backup.signCount >= 2, "the key was used (count " + (backup && backup.signCount) + ")");
  await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: second });
  const clone = await authenticator();
  await cdp.send("WebAuthn.addCredential", { authenticatorId: clone, credential: {
    credentialId: backup.credentialId, isResidentCredential: backup.isResidentCredential, rpId: backup.rpId,
    privateKey: backup.privateKey, userHandle: backup.userHandle, signCount: 0 } });
  await signOut();
  await signIn();
  expect(path() === "/wan-signin", "the key again after the password, got " + page.url());
  await useKey();
  const refused = await main();
  expect(path() === "/wan-signin" && refused.includes("Could not verify WebAuthn credential: clone"),
         "the clone refused, got " + page.url() + ": " + refused);
  await shot("wan-clone-refused");
  await page.goto(base + "/profile");
  expect(page.url().includes("/login"), "not signed in after the clone, got " + page.url());

  expect(violations.length === 0, "no Content-Security-Policy violation: " + violations.join("; "));
  console.log("browser webauthn ok:", email, "waits", waits());
} catch (e) {
  await shot("failure").catch(() => {});
  console.error("browser webauthn failed:", e.message, "at", page.url());
  process.exitCode = 1;
} finally {
  await context.close();
}
