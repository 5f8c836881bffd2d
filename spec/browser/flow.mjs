// A real browser (Debian's Chromium, headless) through the example app's
// HTML flow: register, follow the emailed link and confirm on its page,
// sign in, see the profile, sign out. Screenshots go to the artifacts folder.
// Usage: node flow.mjs BASE_URL ARTIFACTS_DIR
import { open } from "./chromium.mjs";

const [base, artifacts] = process.argv.slice(2);
const { context, page, shot, expect } = await open(artifacts);
const email = `browser-${Date.now()}@example.org`;
const password = "correct horse battery";

try {
  await page.goto(base + "/");
  await shot("home");
  await page.click("text=Register");
  await page.fill("#email", email);
  await page.fill("#password", password);
  await page.fill("#password_confirm", password);
  await shot("register-form");
  await page.click("button[type=submit]");
  await page.waitForLoadState();
  // The development mailbox: the newest message carries the link.
  await page.goto(base + "/mail");
  await shot("mailbox");
  await page.click("li:first-child a");
  await shot("confirmation-mail");
  const link = await page.getAttribute("#mail-link", "href");
  // Another site's page that posts the link itself (a forged consent,
  // with a made-up token): refused, and nothing confirmed.
  const evil = `<form method="post" action="${link}"><input type="hidden" name="csrf_token" value="forged"></form>`
    + "<script>document.forms[0].submit()</script>";
  await page.goto("data:text/html," + encodeURIComponent(evil));
  await page.waitForURL(link);
  expect((await page.content()).includes("The CSRF token is"), "the forged post refused, got " + (await page.content()));
  await shot("forged-consent-refused");
  await page.goto(base + "/mail");
  await page.click("li:first-child a");
  await page.click("#mail-link");
  await page.waitForLoadState();
  // The link asks first (its GET acts on nothing; the forged post did
  // not confirm): the address, and a button that posts the CSRF token.
  expect((await page.textContent("main")).includes("Confirm the address " + email),
         "a page asking to confirm the address, got " + page.url());
  await shot("confirm-consent");
  await page.click("button[type=submit]");
  await page.waitForLoadState();
  expect(page.url().endsWith("/login"), "the confirmation leads to the login page, got " + page.url());
  expect((await page.content()).includes("Your email has been confirmed"), "a confirmation flash");
  await shot("confirmed");
  // A wrong password first: the form says so and keeps the email.
  await page.fill("#email", email);
  await page.fill("#password", "not the password");
  await page.click("button[type=submit]");
  await page.waitForLoadState();
  expect((await page.textContent("#password-error")).includes("Invalid password"), "an invalid password message");
  expect(await page.inputValue("#email") === email, "the email kept");
  await shot("login-error");
  await page.fill("#password", password);
  await page.click("button[type=submit]");
  await page.waitForLoadState();
  await page.goto(base + "/profile");
  expect((await page.textContent("#email")) === email, "the profile shows the email");
  expect((await page.textContent("#login-count")) === "1", "one login tracked");
  await shot("profile");
  await page.click("#sign-out button"); // a POST with the CSRF token
  await page.waitForLoadState();
  expect(new URL(page.url()).pathname === "/", "signed out: back home, got " + page.url());
  await page.goto(base + "/profile");
  expect(page.url().includes("/login?next=/profile"), "signed out: the profile sends to login, got " + page.url());
  await shot("signed-out");
  console.log("browser flow ok:", email);
} catch (e) {
  await shot("failure").catch(() => {});
  console.error("browser flow failed:", e.message, "at", page.url());
  process.exitCode = 1;
} finally {
  await context.close();
}
