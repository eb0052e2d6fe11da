// The refusals, in the browser: a wrong password (401, the sign-in form again with its
// error), a form posted without its CSRF token (403), a session that expired (back to the
// sign-in page, saying so). Run against a service whose sessions expire after seconds idle.
//
// node tests/browser/refusals.mjs <base-url> <screenshot-dir> <operator-id> <password>
import { run } from "./lib.mjs";

async function fill(page, s, id, password) {
  await page.goto(s.url("/accesso"));
  await page.fill("#operatore", id);
  await page.fill("#password", password);
}

run("rifiuti", async (s, [id, password]) => {
  // A wrong password.
  let page = await s.page();
  await fill(page, s, id, password + "-sbagliata");
  const [wrong] = await Promise.all([page.waitForNavigation(), page.click("button[type=submit]:has-text('Accedi')")]);
  s.expect(wrong.status() === 401, `wrong password: HTTP ${wrong.status()}, expected 401`);
  const error = await page.textContent("#errore-accesso").catch(() => "");
  s.expect(/non corretti/.test(error || ""), `wrong password: the page says «${error}»`);
  s.expect(new URL(page.url()).pathname === "/accesso", `wrong password: at ${page.url()}`);
  await s.check(page, "password-errata");

  // The form without its CSRF token.
  page = await s.page();
  await fill(page, s, id, password);
  await page.evaluate(() => document.querySelector("input[name=csrf]").remove());
  const [forged] = await Promise.all([page.waitForNavigation(), page.click("button[type=submit]:has-text('Accedi')")]);
  s.expect(forged.status() === 403, `no CSRF token: HTTP ${forged.status()}, expected 403`);
  s.expect((await page.getAttribute("[data-refusal]", "data-refusal")) === "403", "no CSRF token: not the refusal page");
  const cookies = await page.context().cookies();
  s.expect(!cookies.some((c) => c.name === "sportello_sessione" && c.value), "no CSRF token: a session cookie was set");
  await s.check(page, "csrf-mancante");

  // The right password, then the session runs out.
  page = await s.page();
  await fill(page, s, id, password);
  await Promise.all([page.waitForURL("**/cruscotto"), page.click("button[type=submit]:has-text('Accedi')")]);
  s.expect((await page.textContent("h1")).includes("Oggi allo sportello"), "signed in: not the cruscotto");
  // Left idle: the test watches the session in the database (any request here would restart
  // its idle clock) and answers once it has been idle long enough.
  await s.waitFor("idle");
  await page.goto(s.url("/cruscotto"));
  const expired = new URL(page.url()).search.includes("scaduta=1");
  s.expect(expired, "the session never expired");
  const notice = await page.textContent("[role=status]").catch(() => "");
  s.expect(/sessione è scaduta/.test(notice || ""), `expired: the page says «${notice}»`);
  await s.check(page, "sessione-scaduta");
});
