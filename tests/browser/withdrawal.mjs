// The citizen withdraws a practice that has no outcome yet: from the practice page of their
// area, followed live until the office asks for an integration, they confirm the withdrawal
// and the page says the practice is withdrawn. A form posted without the confirmation box is
// held back by the browser; one without the CSRF token is refused.
//
// node tests/browser/withdrawal.mjs <base-url> <screenshot-dir> <hand-over-path> <practice-id>
import { run, waitForState } from "./lib.mjs";

run("ritiro", async (s, [handover, id]) => {
  const page = await s.page();
  await page.goto(s.url(handover));
  s.expect(new URL(page.url()).pathname === "/area-personale", `the hand-over led to ${page.url()}`);
  await page.goto(s.url(`/area-personale/pratiche/${id}`));
  await waitForState(page, "integration_requested");
  s.expect(await page.isVisible("form#ritiro"), "no withdrawal form while the practice has no outcome");
  await s.check(page, "pratica-da-ritirare");

  // Without its CSRF token the withdrawal is refused and nothing changes.
  const forged = await page.request.post(s.url(`/area-personale/pratiche/${id}/ritiro`), {
    form: { conferma: "si" },
    maxRedirects: 0,
  });
  s.facts.forged_status = forged.status();
  s.expect(forged.status() === 403, `a withdrawal without CSRF token: HTTP ${forged.status()}`);

  // Bootstrap Italia draws the box on its label: that is what a person clicks.
  await page.click("label[for='conferma-ritiro']");
  s.expect(await page.isChecked("#conferma-ritiro"), "the confirmation box is not ticked");
  await Promise.all([
    page.waitForURL(`**/area-personale/pratiche/${id}?fatto=ritiro`),
    page.click("form#ritiro button[type=submit]"),
  ]);
  await page.waitForSelector("#esito");
  s.facts.withdrawn = (await page.getAttribute("#stato", "data-state")) === "withdrawn";
  s.expect(s.facts.withdrawn, "the practice is not `withdrawn` after the citizen's withdrawal");
  s.expect(!(await page.isVisible("form#ritiro")), "the withdrawal form is still offered");
  await s.check(page, "pratica-ritirata");
});
