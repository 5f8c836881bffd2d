// A real browser (Debian's Chromium, headless) through the example app's
// unified sign-in pages: sign in on /us-signin with the password, set up
// an authenticator on /us-setup (the QR code rendered and decoded from the
// screenshot with zbarimg), the code computed with Debian's oathtool,
// sign out, and sign in on /us-signin with a code instead of the
// password; a spent code is refused. Screenshots go to the artifacts folder.
// Usage: node unified.mjs BASE_URL ARTIFACTS_DIR EMAIL PASSWORD
// (a confirmed user without unified sign-in methods yet)
import { open, patient } from "./chromium.mjs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";

const [base, artifacts, email, password] = process.argv.slice(2);
const { context, page, shot, expect } = await open(artifacts);
const waits = await patient(page); // nginx's per-address limit: wait, as a person would

const oath = (key, t) =>
  execFileSync("oathtool", ["--totp", "-b", key.replace(/-/g, ""), "-N", "@" + t]).toString().trim();
const now = () => Math.floor(Date.now() / 1000);
const path = () => new URL(page.url()).pathname;

async function usSignIn(passcode) {
  await page.goto(base + "/us-signin");
  await page.fill("#identity", email);
  await page.fill("#passcode", passcode);
  await page.click("form:has(#identity) button[type=submit]:not([formaction])");
  await page.waitForLoadState();
}

async function signedIn() {
  await page.goto(base + "/profile");
  return path() === "/profile" && (await page.textContent("#email")) === email;
}

async function signOut() {
  await page.goto(base + "/profile");
  await page.click("#sign-out button");
  await page.waitForLoadState();
  expect(!(await signedIn()), "signed out");
}

try {
  await page.goto(base + "/us-signin");
  await shot("us-signin");
  await usSignIn("not the password");
  expect((await page.textContent("#passcode-error")).includes("Password or code submitted is not valid"),
         "a wrong passcode refused");
  await usSignIn(password);
  expect(await signedIn(), "signed in with the password on /us-signin");

  // /us-setup: the authenticator, its QR code and key.
  await page.goto(base + "/us-setup");
  expect(!(await page.textContent("main p strong")).includes("Authenticator"), "no authenticator yet");
  await shot("us-setup");
  await page.check("input[name=chosen_method][value=authenticator]");
  await page.click("form:has(input[name=chosen_method]) button[type=submit]");
  await page.waitForLoadState();
  const src = await page.getAttribute("img#qrcode", "src");
  expect(src && src.startsWith("data:image/svg+xml"), "the QR code is an inline SVG");
  expect(await page.$eval("img#qrcode", (img) => img.complete && img.naturalWidth) > 0, "the QR code rendered");
  const key = (await page.textContent("#authr-key")).trim();
  await shot("us-setup-qrcode");
  const qrShot = join(artifacts, "us-qrcode.png");
  await page.locator("img#qrcode").screenshot({ path: qrShot });
  const uri = execFileSync("zbarimg", ["--raw", "-q", qrShot]).toString().trim();
  expect(uri.startsWith("otpauth://totp/") && uri.includes("secret=" + key.replace(/-/g, "") + "&"),
         "the QR code holds the key shown, got " + uri.replace(/secret=[A-Z2-7]+/, "secret=..."));
  const t0 = now();
  await page.fill("#passcode", oath(key, t0));
  await page.click("form:has(#passcode) button[type=submit]");
  await page.waitForLoadState();
  await page.goto(base + "/us-setup");
  const active = await page.textContent("main p strong"); // "You can sign in with: ..."
  expect(active.includes("Authenticator app"), "the authenticator set up, got " + active);
  await shot("us-setup-done");

  // Sign out, and in with a code instead of the password.
  await signOut();
  await usSignIn(oath(key, t0)); // the setup's code: spent
  expect(!(await signedIn()), "a spent code refused");
  const code = oath(key, t0 + 30);
  await usSignIn(code);
  expect(await signedIn(), "signed in with the authenticator's code");
  await shot("us-signed-in-with-code");
  await signOut();
  await usSignIn(code);
  expect(!(await signedIn()), "the same code again refused");
  console.log("browser unified sign-in ok:", email, "(waits for the rate limit: " + waits() + ")");
} catch (e) {
  await shot("failure").catch(() => {});
  console.error("browser unified sign-in failed:", e.message, "at", page.url());
  process.exitCode = 1;
} finally {
  await context.close();
}
