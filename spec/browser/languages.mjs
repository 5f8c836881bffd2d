// A real browser (Debian's Chromium, headless) asking for French: the
// example's sign-in page comes from its template override (a language
// switcher above fsec's form) in French, a failed sign-in says why in
// French, the switcher turns it German, and a page without an override
// is French too. Screenshots go to the artifacts folder.
// Usage: node languages.mjs BASE_URL ARTIFACTS_DIR EMAIL (an account's)
import { open } from "./chromium.mjs";

const [base, artifacts, email] = process.argv.slice(2);
// locale: Chromium's Accept-Language (fr-FR,fr;q=0.9)
const { context, page, shot, expect } = await open(artifacts, { locale: "fr-FR" });

const lang = () => page.getAttribute("html", "lang");

try {
  await page.goto(base + "/login");
  expect(await lang() === "fr", "<html lang=fr>, got " + await lang());
  expect(await page.isVisible("#languages"), "the example's override: the language links");
  expect((await page.textContent("label[for=email]")) === "Adresse e-mail", "the French email label");
  expect((await page.textContent("h1")) === "Connexion", "the French title");
  expect(await page.getAttribute("input[name=csrf_token]", "value"), "the CSRF field kept by the override");
  await shot("login-fr-override");
  await page.fill("#email", email);
  await page.fill("#password", "not the password");
  await page.click("button[type=submit]");
  await page.waitForLoadState();
  expect((await page.textContent("#password-error")).includes("Mot de passe incorrect"),
         "fsec's message in French, got " + await page.textContent("main"));
  expect(await page.inputValue("#email") === email, "the email kept");
  await shot("login-error-fr");
  await page.click("text=Deutsch");
  await page.waitForLoadState();
  expect(await lang() === "de", "<html lang=de> after the switcher, got " + await lang());
  expect((await page.textContent("label[for=email]")) === "E-Mail-Adresse", "the German email label");
  await shot("login-de");
  await page.goto(base + "/register");
  expect(await lang() === "fr", "the register page (no override) in French");
  expect((await page.textContent("h1")) === "Créer un compte", "the French register title");
  expect(!(await page.isVisible("#languages")), "the override is the sign-in page's only");
  await shot("register-fr");
  console.log("browser languages ok");
} catch (e) {
  await shot("failure").catch(() => {});
  console.error(e.stack || String(e));
  process.exitCode = 1;
} finally {
  await context.close();
}
