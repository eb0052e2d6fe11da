// The operator at the counter: signs in, files a practice for a citizen with a document,
// watches it reach `dispatched` on the practice page without reloading it, sees the back
// office complete it, and finds it among the products to hand over.
//
// node tests/browser/operator.mjs <base-url> <screenshot-dir> <operator-id> <password> <document> <tax-code>
import { run, waitForState, PATIENCE_MS } from "./lib.mjs";

const TYPE = "elettorale.duplicato_tessera";

run("cruscotto", async (s, [id, password, document, cf]) => {
  const page = await s.page();
  await page.goto(s.url("/accesso"));
  await s.check(page, "accesso");
  await page.fill("#operatore", id);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL("**/cruscotto"), page.click("button[type=submit]:has-text('Accedi')")]);
  await s.check(page, "oggi-allo-sportello");

  await page.click("a:has-text('Nuova pratica')");
  await page.waitForURL("**/cruscotto/nuova");
  await s.check(page, "nuova-pratica");
  await page.click(`a[href='/cruscotto/nuova/${TYPE}']`);
  await page.waitForURL(`**/cruscotto/nuova/${TYPE}`);
  await page.fill("#cf", cf);
  await page.fill("#nome", "Elena");
  await page.fill("#cognome", "Carminati");
  await page.fill("#email", "elena.carminati@example.it");
  await page.fill("#oggetto", "Duplicato della tessera elettorale: spazi esauriti");
  await page.fill("#f_motivo", "spazi esauriti");
  await page.setInputFiles("#doc_documento_identita", document);
  await s.check(page, "modulo-compilato");
  await Promise.all([page.waitForURL("**/cruscotto/pratiche/**"), page.click("button:has-text('Invia la pratica')")]);
  const practiceId = new URL(page.url()).pathname.split("/").pop();
  s.facts.practice_id = practiceId;
  s.expect(/^[0-9a-f-]{36}$/.test(practiceId), `not a practice page: ${page.url()}`);

  // From here on the page is never reloaded: the timeline grows by itself.
  await page.evaluate(() => { window.sportelloNotReloaded = true; });
  await page.waitForSelector("#timeline li[data-state='dispatched']", { timeout: PATIENCE_MS });
  s.facts.dispatched_live = await page.evaluate(() => window.sportelloNotReloaded === true);
  s.expect(s.facts.dispatched_live, "the page was reloaded before `dispatched`");
  await s.check(page, "pratica-inviata");
  await waitForState(page, "completed");
  s.expect(await page.evaluate(() => window.sportelloNotReloaded === true), "the page was reloaded before `completed`");
  s.facts.states_seen = await page.$$eval("#timeline li", (items) => items.map((li) => li.getAttribute("data-state")));
  await s.check(page, "pratica-conclusa");

  // The desk lists it among the products to hand over; the citizen's folder has it.
  await page.goto(s.url("/cruscotto"));
  s.expect(
    (await page.locator(`section[aria-labelledby='ritiro'] a[href='/cruscotto/pratiche/${practiceId}']`).count()) === 1,
    "the completed practice is not among those ready for pickup",
  );
  await s.check(page, "pronte-per-il-ritiro");
  await page.fill("#q", cf);
  await Promise.all([page.waitForURL(`**/cruscotto/cittadini/${cf}`), page.click("button:has-text('Cerca')")]);
  s.expect((await page.locator(`tr[data-practice='${practiceId}']`).count()) === 1, "the folder lacks the practice");
  await s.check(page, "cartella-del-cittadino");
});

