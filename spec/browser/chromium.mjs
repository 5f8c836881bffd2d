// Debian's Chromium, headless, for the browser checks (flow.mjs,
// new_user.mjs): a fresh profile, screenshots numbered in ARTIFACTS_DIR.
import { chromium } from "playwright-core";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// { context, page, shot(name), expect(cond, what) }; options go to
// launchPersistentContext (a viewport, say).
export async function open(artifacts, options = {}) {
  mkdirSync(artifacts, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), "fsec-chromium-"));
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
