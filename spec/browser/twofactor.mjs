// A real browser (Debian's Chromium, headless) through the example app's
// two-factor pages: sign in, set up an authenticator on /tf-setup (the QR
// code rendered, and decoded from the screenshot with zbarimg: the
// otpauth:// URI of the key the page shows), the code computed with
// Debian's oathtool, sign out, sign in again with a code on the
// /tf-validate page, make recovery codes, and sign in with one of them.
// Screenshots go to the artifacts folder.
// Usage: node twofactor.mjs BASE_URL ARTIFACTS_DIR EMAIL PASSWORD
// (a confirmed user without a second factor yet)
import { open, patient, signIn as signInAs, signOut as signOutOf } from "./chromium.mjs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";

const [base, artifacts, email, password] = process.argv.slice(2);
const { context, page, shot, expect } = await open(artifacts);
const waits = await patient(page); // nginx's per-address limit: wait, as a person would

// The TOTP code of a base32 key at unix time t, by oathtool.
const oath = (key, t) =>
  execFileSync("oathtool", ["--totp", "-b", key.replace(/-/g, ""), "-N", "@" + t]).toString().trim();
const now = () => Math.floor(Date.now() / 1000);
const path = () => new URL(page.url()).pathname;

const signIn = () => signInAs(page, base, email, password);
const signOut = () => signOutOf(page, base);

async function expectSignedIn(what) {
  await page.goto(base + "/profile");
  expect(path() === "/profile" && (await page.textContent("#email")) === email, what + ": signed in, got " + page.url());
}

try {
  await signIn();
  await expectSignedIn("password only (no second factor yet)");

  // The setup page: the methods, then the authenticator's QR code and key.
  await page.goto(base + "/tf-setup");
  expect((await page.textContent("main")).includes("Authenticator app"), "the methods offered");
  await shot("tf-setup");
  await page.check("input[name=setup][value=authenticator]");
  await page.click("form:has(input[name=setup]) button[type=submit]");
  await page.waitForLoadState();
  const src = await page.getAttribute("img#qrcode", "src");
  expect(src && src.startsWith("data:image/svg+xml"), "the QR code is an inline SVG, got " + (src || "").slice(0, 40));
  const width = await page.$eval("img#qrcode", (img) => img.complete && img.naturalWidth);
  expect(width > 0, "the QR code image rendered, naturalWidth " + width);
  const key = (await page.textContent("#authr-key")).trim();
  expect(/^[A-Z2-7]+(-[A-Z2-7]+)*$/.test(key), "a base32 key, got " + key);
  await shot("tf-setup-qrcode");
  // What a phone's camera reads: the QR code decoded from the screenshot.
  const qrShot = join(artifacts, "qrcode.png");
  await page.locator("img#qrcode").screenshot({ path: qrShot });
  let uri = "";
  try {
    uri = execFileSync("zbarimg", ["--raw", "-q", qrShot]).toString().trim();
  } catch (e) {
    throw new Error("zbarimg decoded no QR code from the page: " + e.message);
  }
  const want = `otpauth://totp/fsec%20example:${encodeURIComponent(email).replace(/%40/g, "@")}` +
    `?secret=${key.replace(/-/g, "")}&issuer=fsec%20example`;
  expect(uri === want, "the QR code holds " + want + ", got " + uri);
  console.log("qr code:", uri.replace(/secret=[A-Z2-7]+/, "secret=..."));

  // A wrong code first: the form says so, nothing is set up.
  await page.fill("#code", "000000");
  await page.click("form:has(#code) button[type=submit]");
  await page.waitForLoadState();
  expect((await page.textContent("#code-error")).includes("Invalid code"), "an invalid code message");
  await shot("tf-setup-wrong-code");
  await page.goto(base + "/tf-setup");
  expect(!(await page.textContent("main")).includes("Two-factor sign-in is on"), "nothing set up after a wrong code");
  // Again, with the code of the key shown.
  await page.check("input[name=setup][value=authenticator]");
  await page.click("form:has(input[name=setup]) button[type=submit]");
  await page.waitForLoadState();
  const key2 = (await page.textContent("#authr-key")).trim();
  expect(key2 !== key, "a new key for a new setup");
  const t0 = now();
  await page.fill("#code", oath(key2, t0));
  await page.click("form:has(#code) button[type=submit]");
  await page.waitForLoadState();
  expect((await page.textContent("body")).includes("Two-factor sign-in is on"), "set up, got " + page.url());
  await shot("tf-setup-done");

  // Sign out, and in again: the password leads to the code page.
  await signOut();
  await signIn();
  expect(path() === "/tf-validate", "the code page after the password, got " + page.url());
  await page.goto(base + "/profile");
  expect(path() === "/login", "nothing granted before the code, got " + page.url());
  await page.goto(base + "/tf-validate");
  await shot("tf-validate");
  await page.fill("#code", oath(key2, t0 + 30)); // the setup's step is spent
  await page.click("form:has(#code) button[type=submit]");
  await page.waitForLoadState();
  await expectSignedIn("with the authenticator's code");
  await shot("signed-in-with-code");

  // Recovery codes: made on their page, shown once.
  await page.goto(base + "/mf-recovery-codes");
  await shot("recovery-codes-none");
  await page.click("form button[type=submit]:text('Generate new recovery codes')");
  await page.waitForLoadState();
  const codes = (await page.$$eval("#recovery-codes code", (els) => els.map((e) => e.textContent)));
  expect(codes.length === 5 && codes.every((c) => /^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}$/.test(c)),
         "5 recovery codes, got " + JSON.stringify(codes));
  await shot("recovery-codes");
  await page.goto(base + "/mf-recovery-codes");
  expect((await page.textContent("main")).includes("You have 5 recovery codes left"), "kept hashed: only counted");

  // Sign in with a recovery code instead of the authenticator.
  await signOut();
  await signIn();
  expect(path() === "/tf-validate", "the code page, got " + page.url());
  await page.check("input[name=help_setup][value=recovery_code]");
  await shot("tf-validate-rescue");
  await page.click("form:has(input[name=help_setup]) button[type=submit]");
  await page.waitForLoadState();
  expect(path() === "/mf-recovery", "the recovery code page, got " + page.url());
  await page.fill("#code", "0000-0000-0000");
  await page.click("form:has(#code) button[type=submit]");
  await page.waitForLoadState();
  expect((await page.textContent("#code-error")).includes("Recovery code invalid"), "a wrong recovery code refused");
  await page.fill("#code", codes[0]);
  await shot("mf-recovery");
  await page.click("form:has(#code) button[type=submit]");
  await page.waitForLoadState();
  await expectSignedIn("with a recovery code");
  await page.goto(base + "/mf-recovery-codes");
  expect((await page.textContent("main")).includes("You have 4 recovery codes left"), "the code used is gone");
  await shot("recovery-codes-left");
  console.log("browser two-factor ok:", email, "(waits for the rate limit: " + waits() + ")");
} catch (e) {
  await shot("failure").catch(() => {});
  console.error("browser two-factor failed:", e.message, "at", page.url());
  process.exitCode = 1;
} finally {
  await context.close();
}
