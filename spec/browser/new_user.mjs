// A real browser (Debian's Chromium, headless) on a phone-sized screen
// through what a new user meets (spec/76-new_user_spec.lua runs it):
// a typed /logout's sign-out page, a mailed long link that must wrap,
// an unknown path's page and its Home link. Screenshots go to ARTIFACTS_DIR.
// Usage: node new_user.mjs BASE_URL ARTIFACTS_DIR ADMIN_EMAIL ADMIN_PASSWORD
import { open } from "./chromium.mjs";

const [base, artifacts, email, password] = process.argv.slice(2);
// a phone: long links must wrap here
const { context, page, shot, expect } = await open(artifacts, { viewport: { width: 360, height: 740 } });
// Nothing wider than the screen: no sideways scrolling.
const fits = async (what) => {
  const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  expect(scroll <= width, `${what} fits the screen (${scroll}px wide on ${width}px)`);
};

try {
  await page.goto(base + "/login");
  await page.fill("#email", email);
  await page.fill("#password", password);
  await page.click("button[type=submit]");
  await page.waitForLoadState();
  // A typed /logout: a page with the button; the GET signed nobody out.
  const res = await page.goto(base + "/logout");
  expect(res.status() === 405, "GET /logout answers 405, got " + res.status());
  expect((await page.textContent("main")).includes("Signed in as " + email), "the sign-out page names the user");
  await fits("the sign-out page");
  await shot("logout-page");
  await page.click("button[type=submit]"); // a POST with the page's CSRF token
  await page.waitForLoadState();
  expect(new URL(page.url()).pathname === "/", "signed out: back home, got " + page.url());
  expect((await page.textContent("main")).includes("Welcome"), "the home page of a signed-out visitor");
  await shot("signed-out");
  // A mailed reset link (long: a signed token) on the message page.
  await page.goto(base + "/reset");
  await page.fill("#email", email);
  await page.click("button[type=submit]");
  await page.waitForLoadState();
  await page.goto(base + "/mail");
  await page.click("li:first-child a");
  const link = await page.getAttribute("#mail-link", "href");
  expect(link && link.length > 60, "a long reset link, got " + link);
  await fits("the mail with a long link");
  await shot("long-link");
  // An unknown path: fsec's page style, and Home leads back.
  const nf = await page.goto(base + "/no/such/page");
  expect(nf.status() === 404, "404, got " + nf.status());
  expect((await page.textContent("h1")) === "Not found", "a Not found page");
  await fits("the 404 page");
  await shot("not-found");
  await page.click("#home");
  await page.waitForLoadState();
  expect(new URL(page.url()).pathname === "/", "Home leads to /, got " + page.url());
  console.log("new user browser ok");
} catch (e) {
  await shot("failure").catch(() => {});
  console.error("new user browser failed:", e.message, "at", page.url());
  process.exitCode = 1;
} finally {
  await context.close();
}
