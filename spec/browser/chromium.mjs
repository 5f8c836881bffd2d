// Debian's Chromium, headless, for the browser checks (flow.mjs,
// new_user.mjs): a fresh profile, screenshots numbered in ARTIFACTS_DIR.
import { chromium } from "playwright-core";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// { context, page, shot(name), expect(cond, what) }; options go to
// launchPersistentContext (a viewport, say).
export async function open(artifacts, options = {}) {
  mkdirSync(artifacts, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), "fsec-chromium-"));
  // the profile goes with the check (each check is its own node process;
  // Chromium has closed by then): every check left one in /tmp
  process.on("exit", () => rmSync(profile, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    ...options,
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(15000);
  let step = 0;
  const shot = async (name) =>
    page.screenshot({ path: join(artifacts, `${String(++step).padStart(2, "0")}-${name}.png`), fullPage: true });
  const expect = (cond, what) => { if (!cond) throw new Error("expected: " + what); };
  return { context, page, shot, expect };
}

// The example's nginx lets one address post 10 credentials at once and
// 20 a minute after that (429 with Retry-After past it): a flow that
// posts more from the one address a browser has waits as a person would,
// then sends the same request again. The browser sees the answer that
// came after the wait; the count of waits is returned by the function.
// headers (optional): added to every answer, GET too (a stricter
// Content-Security-Policy than the app's, say).
export async function patient(page, headers) {
  let waits = 0;
  const fulfill = (route, response) =>
    route.fulfill(headers ? { response, headers: { ...response.headers(), ...headers } } : { response });
  await page.route("**/*", async (route) => {
    if (route.request().method() !== "POST") {
      if (!headers) return route.fallback();
      return fulfill(route, await route.fetch({ maxRedirects: 0 }));
    }
    for (let i = 0; ; i++) {
      const response = await route.fetch({ maxRedirects: 0 }); // the browser follows them
      if (response.status() !== 429 || i === 20) return fulfill(route, response);
      waits++;
      const after = Number(response.headers()["retry-after"] || "2");
      await new Promise((resolve) => setTimeout(resolve, after * 1000));
    }
  });
  return () => waits;
}

// The example app's sign-in form with a password, then its sign-out
// button on /profile (a POST with the CSRF token).
export async function signIn(page, base, email, password) {
  await page.goto(base + "/login");
  await page.fill("#email", email);
  await page.fill("#password", password);
  await page.click("form:has(#password) button[type=submit]");
  await page.waitForLoadState();
}

export async function signOut(page, base) {
  await page.goto(base + "/profile");
  await page.click("#sign-out button");
  await page.waitForLoadState();
}
