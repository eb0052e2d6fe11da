// The citizen: comes from the portal through the hand-over link, sees their own practices and
// no one else's, follows a practice live until the office asks for an integration, answers it
// by uploading what is missing, and sees the practice complete.
//
// node tests/browser/citizen.mjs <base-url> <screenshot-dir> <hand-over-path> <own-practice-id> <other-practice-id> <document>
import { run, waitForState } from "./lib.mjs";

run("area-personale", async (s, [handover, own, other, document]) => {
  const page = await s.page();
  await page.goto(s.url(handover));
  s.expect(new URL(page.url()).pathname === "/area-personale", `the hand-over led to ${page.url()}`);
  await page.waitForSelector(`tr[data-practice='${own}']`);
  s.expect((await page.locator(`tr[data-practice='${other}']`).count()) === 0, "another citizen's practice is listed");
  s.facts.listed = await page.$$eval("tr[data-practice]", (rows) => rows.map((r) => r.getAttribute("data-practice")));
  await s.check(page, "le-mie-pratiche");

  // Another's practice, by its address: not found, as if it did not exist.
  const stranger = await page.goto(s.url(`/area-personale/pratiche/${other}`));
  s.expect(stranger.status() === 404, `another citizen's practice: HTTP ${stranger.status()}`);
  await s.check(page, "pratica-di-altri");

  // The link works once.
  const second = await fetch(s.url(handover), { redirect: "manual" });
  s.expect(second.status === 409, `the hand-over link a second time: HTTP ${second.status}`);

  await page.goto(s.url("/area-personale"));
  await Promise.all([page.waitForURL(`**/area-personale/pratiche/${own}`), page.click(`tr[data-practice='${own}'] a`)]);
  await page.evaluate(() => { window.sportelloNotReloaded = true; });
  await waitForState(page, "integration_requested");
  s.facts.integration_live = await page.evaluate(() => window.sportelloNotReloaded === true);
  await s.check(page, "integrazione-richiesta");

  // The receipt of presentation, from the practice's page.
  const receipt = await page.request.get(s.url(await page.getAttribute("#scarica-ricevuta", "href")));
  s.facts.receipt_pdf = receipt.status() === 200 && (await receipt.body()).subarray(0, 5).toString() === "%PDF-";

  const form = page.locator("form#integrazione");
  if ((await form.count()) === 0) {
    s.facts.integrated = false;
    return;
  }
  await page.setInputFiles("#doc_integrazione", document);
  await page.fill("#oggetto", "Integrazione: ricevuta dei diritti di segreteria");
  await s.check(page, "integrazione-compilata");
  await Promise.all([page.waitForURL(`**/area-personale/pratiche/${own}**`), form.locator("button[type=submit]").click()]);
  await waitForState(page, "completed");
  s.facts.integrated = true;
  await s.check(page, "pratica-conclusa");
});
