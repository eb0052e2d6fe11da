// The operator at the counter: signs in, files a practice for a citizen with a document,
// watches it reach `dispatched` on the practice page without reloading it, sees the back
// office complete it, finds it among the products to hand over, opens the archived document
// (its bytes are those of its impronta) and hands the product over.
//
// node tests/browser/operator.mjs <base-url> <screenshot-dir> <operator-id> <password> <document> <tax-code>
import { createHash } from "node:crypto";
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

  // The practice again: times in Italian local time, the archived document as archived.
  await page.goto(s.url(`/cruscotto/pratiche/${practiceId}`));
  const times = await page.$$eval("#timeline li", (items) => items.map((li) => li.textContent));
  s.facts.local_times = times.every((t) => /\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d/.test(t) && !/T\d\d:\d\d/.test(t));
  s.expect(s.facts.local_times, `timeline times not in local time: ${JSON.stringify(times)}`);
  const row = page.locator("#documenti ~ div table tbody tr").first();
  const link = row.locator("a:has-text('Apri')");
  s.expect((await link.count()) === 1, "the archived document has no link");
  const impronta = (await row.locator("td:nth-child(3) code").textContent()).trim();
  const opened = await page.request.get(s.url(await link.getAttribute("href")));
  s.expect(opened.status() === 200, `opening the archived document: HTTP ${opened.status()}`);
  const bytes = await opened.body();
  s.facts.document_matches = createHash("sha256").update(bytes).digest("base64") === impronta;
  s.expect(s.facts.document_matches, "the archived document's bytes are not those of its impronta");
  s.expect(/attachment/.test(opened.headers()["content-disposition"] || ""), "the archived document is not a download");

  // The citizen comes to collect it: the operator records the hand-over.
  await s.check(page, "pratica-da-consegnare");
  await Promise.all([
    page.waitForURL(`**/cruscotto/pratiche/${practiceId}?fatto=consegna`),
    page.click("form#consegna button[type=submit]"),
  ]);
  await page.waitForSelector("#esito");
  s.facts.delivered = (await page.getAttribute("#stato", "data-state")) === "delivered";
  s.expect(s.facts.delivered, "the practice is not `delivered` after the hand-over");
  await s.check(page, "pratica-consegnata");
});
