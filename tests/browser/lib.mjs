// What every browser scenario shares: Debian's Chromium driven by playwright-core (both
// resolved from web/node_modules, pinned by web/package-lock.json), a screenshot and an axe-core
// check of every page, and one JSON line of results on stdout.
//
// A scenario is `node tests/browser/<scenario>.mjs <base-url> <screenshot-dir> …`; it exits 0
// when every check held, 1 otherwise, and prints {"ok", "pages", "violations", "failures", …}.
import { createRequire } from "node:module";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(new URL("../../web/package.json", import.meta.url));
const { chromium } = require("playwright-core");
const AXE = require.resolve("axe-core/axe.min.js");

/// How long any one observable condition may take before the scenario gives up.
export const PATIENCE_MS = 120_000;

export class Scenario {
  constructor(name, base, shots) {
    this.name = name;
    this.base = base.replace(/\/$/, "");
    this.shots = shots;
    this.count = 0;
    this.pages = [];
    this.violations = [];
    this.failures = [];
    this.facts = {};
    mkdirSync(shots, { recursive: true });
  }

  async launch() {
    // A fresh profile per run; Playwright takes it as the persistent context's directory
    // (it passes it on as --user-data-dir).
    this.profile = mkdtempSync(join(tmpdir(), "sportello-chromium-"));
    this.context = await chromium.launchPersistentContext(this.profile, {
      executablePath: process.env.SPORTELLO_CHROMIUM || "/usr/bin/chromium",
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      locale: "it-IT",
      viewport: { width: 1280, height: 900 },
    });
    this.context.setDefaultTimeout(PATIENCE_MS);
  }

  /// A new page with no cookies: a new visitor (the previous pages' sessions are forgotten).
  async page() {
    await this.context.clearCookies();
    return this.context.newPage();
  }

  /// Says on stdout that the scenario waits for `what`, and waits for the test's line on
  /// stdin (the test watches what the browser cannot see without changing it).
  async waitFor(what) {
    process.stdout.write(JSON.stringify({ waiting: what }) + "\n");
    if (!this.lines) {
      const { createInterface } = await import("node:readline");
      this.lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
    }
    const answer = await Promise.race([
      this.lines.next(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer about ${what}`)), PATIENCE_MS)),
    ]);
    if (answer.done) {
      throw new Error(`stdin closed while waiting for ${what}`);
    }
  }

  url(path) {
    return this.base + path;
  }

  /// Screenshot and axe-core check of the page as it is now, under `label`.
  async check(page, label) {
    this.count += 1;
    const file = join(this.shots, `${this.name}-${String(this.count).padStart(2, "0")}-${label}.png`);
    await page.screenshot({ path: file, fullPage: true });
    await page.addScriptTag({ path: AXE });
    const result = await page.evaluate(async () => {
      // eslint-disable-next-line no-undef
      const r = await axe.run(document, { resultTypes: ["violations"] });
      return r.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
      }));
    });
    const serious = result.filter((v) => v.impact === "serious" || v.impact === "critical");
    this.pages.push({ label, path: new URL(page.url()).pathname, screenshot: file, violations: serious.length });
    for (const v of serious) {
      this.violations.push({ page: label, ...v });
    }
  }

  /// Records a failed expectation (the scenario goes on where it can).
  expect(condition, what) {
    if (!condition) {
      this.failures.push(what);
    }
    return condition;
  }

  async finish(error) {
    if (error) {
      this.failures.push(`stopped: ${error && error.stack ? error.stack : error}`);
    }
    if (this.context) {
      await this.context.close().catch(() => {});
    }
    if (this.profile) {
      rmSync(this.profile, { recursive: true, force: true });
    }
    const ok = this.failures.length === 0 && this.violations.length === 0;
    if (this.lines) {
      process.stdin.destroy();
    }
    process.stdout.write(
      JSON.stringify({ ok, scenario: this.name, pages: this.pages, violations: this.violations, failures: this.failures, facts: this.facts }) + "\n",
    );
    process.exit(ok ? 0 : 1);
  }
}

/// Runs `body(scenario, args)` with a launched browser; always prints the JSON line.
export async function run(name, body) {
  const [base, shots, ...args] = process.argv.slice(2);
  if (!base || !shots) {
    process.stderr.write(`usage: node ${name}.mjs <base-url> <screenshot-dir> …\n`);
    process.exit(2);
  }
  const scenario = new Scenario(name, base, shots);
  try {
    await scenario.launch();
    await body(scenario, args);
    await scenario.finish();
  } catch (error) {
    await scenario.finish(error);
  }
}

/// Waits for the element's `data-state` to be `state`, without reloading the page.
export async function waitForState(page, state) {
  await page.waitForFunction(
    (s) => document.getElementById("stato")?.getAttribute("data-state") === s,
    state,
    { timeout: PATIENCE_MS, polling: 200 },
  );
}
