// Operations at the error queues: signs in, finds the practice whose intake failed while the
// object store was down, opens the message, replays it with «Ripubblica», and follows the
// practice to its outcome.
//
// node tests/browser/errors.mjs <base-url> <screenshot-dir> <operator-id> <password> <practice-id>
import { run, waitForState } from "./lib.mjs";

run("code-errore", async (s, [operator, password, id]) => {
  const page = await s.page();
  await page.goto(s.url("/accesso"));
  await page.fill("#operatore", operator);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL("**/cruscotto"), page.click("button[type=submit]:has-text('Accedi')")]);
  await Promise.all([page.waitForURL("**/cruscotto/code-errore"), page.click("a:has-text('Code di errore')")]);
  const row = page.locator(`#messaggi tr:has(a[href='/cruscotto/pratiche/${id}'])`);
  s.expect((await row.count()) === 1, "the failed practice is not in the error queues' list");
  s.facts.reason = (await row.locator("td:nth-child(3)").textContent()).trim();
  await s.check(page, "elenco");
  await Promise.all([page.waitForURL("**/cruscotto/code-errore/*"), row.locator("td:first-child a").click()]);
  await s.check(page, "messaggio");
  await Promise.all([
    page.waitForURL((url) => url.searchParams.get("esito") === "ripubblicato"),
    page.click("form#ripubblica button[type=submit]"),
  ]);
  s.facts.replayed = (await page.getAttribute("#stato-messaggio", "data-status")) === "replayed";
  s.expect(s.facts.replayed, "the message is not marked replayed");
  await s.check(page, "ripubblicato");
  await page.goto(s.url(`/cruscotto/pratiche/${id}`));
  await waitForState(page, "completed");
  s.facts.completed = true;
  await s.check(page, "pratica-conclusa");
});
