// A real browser (Debian's Chromium, headless) on the example's register
// page with its own field, display_name (spec/45-register_fields_openresty
// runs it): the field is labelled and hinted for assistive technology, a
// value the server refuses comes back with its error bound to the input,
// and a good one registers. Screenshots go to ARTIFACTS_DIR.
// Usage: node register_fields.mjs BASE_URL ARTIFACTS_DIR EMAIL
import { open } from "./chromium.mjs";

const [base, artifacts, email] = process.argv.slice(2);
const { context, page, shot, expect } = await open(artifacts, { viewport: { width: 480, height: 900 } });
const PW = "battery staple horse";

async function fillForm(name) {
  await page.fill("#email", email);
  await page.fill("#password", PW);
  await page.fill("#password_confirm", PW);
  await page.fill("#display_name", name);
}

try {
  await page.goto(base + "/register");
  // the label names the input; the hint is its description
  const input = page.getByLabel("Display name");
  expect(await input.count() === 1, "one input labelled Display name");
  expect(await input.getAttribute("maxlength") === "60", "maxlength 60");
  const hint = await page.textContent("#display_name-hint");
  expect(hint.includes("How other people see you"), "the hint, got " + hint);
  expect((await input.getAttribute("aria-describedby")).includes("display_name-hint"), "the hint bound");
  await shot("register-form");
  // over max_length (a script could send it; the page's maxlength aside):
  // the server refuses, the page says why at the field
  await fillForm("x");
  await page.evaluate(() => {
    const el = document.getElementById("display_name");
    el.removeAttribute("maxlength");
    el.value = "y".repeat(61);
  });
  await page.click("button[type=submit]");
  await page.waitForLoadState();
  const err = await page.textContent("#display_name-error");
  expect(err.includes("Field cannot be longer than 60 characters."), "the field's error, got " + err);
  const after = page.getByLabel("Display name");
  expect(await after.getAttribute("aria-invalid") === "true", "aria-invalid on the input");
  expect((await after.getAttribute("aria-describedby")).includes("display_name-error"), "the error bound");
  await shot("register-field-error");
  // a good one: registered (the example asks to confirm the address)
  await fillForm("Zoë");
  await page.click("button[type=submit]");
  await page.waitForLoadState();
  const main = await page.textContent("body");
  expect(main.includes("To confirm your email address"), "registered, got " + main.slice(0, 200));
  await shot("registered");
  console.log("register fields browser ok");
} catch (e) {
  await shot("failure").catch(() => {});
  console.error("register fields browser failed:", e.message, "at", page.url());
  process.exitCode = 1;
} finally {
  await context.close();
}
