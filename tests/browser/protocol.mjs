// The protocol officer: signs in, opens a practice, follows its incoming registration to the
// registration's page, downloads the signed segnatura, tries an annulment without its measure
// (refused, with the reason), then annuls it with reason and measure: the page shows the
// registration annulled, with the officer and the measure.
//
// node tests/browser/protocol.mjs <base-url> <screenshot-dir> <operator-id> <password> <practice-id>
import { run } from "./lib.mjs";

run("protocollo", async (s, [operator, password, id]) => {
  const page = await s.page();
  await page.goto(s.url("/accesso"));
  await page.fill("#operatore", operator);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL("**/cruscotto"), page.click("button[type=submit]:has-text('Accedi')")]);
  await page.goto(s.url(`/cruscotto/pratiche/${id}`));
  const registration = page.locator("a[href^='/cruscotto/protocollo/']").first();
  s.expect((await registration.count()) === 1, "the practice page has no link to its registration");
  await Promise.all([page.waitForURL("**/cruscotto/protocollo/**"), registration.click()]);
  s.facts.registration_path = new URL(page.url()).pathname;
  await s.check(page, "registrazione");

  const segnatura = await page.request.get(s.url(await page.getAttribute("#scarica-segnatura", "href")));
  s.expect(segnatura.status() === 200, `the segnatura: HTTP ${segnatura.status()}`);
  s.facts.segnatura = await segnatura.text();

  // Without the measure: refused, the page says why, the registration still valid.
  await page.fill("#motivo", "Registrazione di prova");
  await page.evaluate(() => document.querySelector("#provvedimento").removeAttribute("required"));
  const [missing] = await Promise.all([page.waitForNavigation(), page.click("form#annullamento button[type=submit]")]);
  s.expect(missing.status() === 422, `an annulment without measure: HTTP ${missing.status()}`);
  s.expect(/provvedimento/.test(await page.textContent("#errori")), "the refusal does not name the measure");
  await s.check(page, "annullamento-incompleto");

  await page.fill("#motivo", "Protocollata per errore due volte");
  await page.fill("#provvedimento", "Decreto del responsabile n. 12/2026");
  await Promise.all([page.waitForURL((url) => url.searchParams.get("annullata") === "1"), page.click("form#annullamento button[type=submit]")]);
  const status = await page.textContent("#stato-registrazione");
  s.facts.annulled = /Annullata/.test(status) && /Decreto del responsabile n\. 12\/2026/.test(status);
  s.expect(s.facts.annulled, `the registration's page after the annulment: «${status}»`);
  s.expect((await page.locator("form#annullamento").count()) === 0, "an annulled registration still offers the annulment");
  await s.check(page, "registrazione-annullata");
});
