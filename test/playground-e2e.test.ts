// The playground (playground/, docs/playground.md) end to end: build it with Vite's JS API into a
// temporary folder, serve it with Vite's preview server, and drive it in headless Chromium with
// playwright-core: type a spec with an error and see the diagnostic at its line, fix it from the
// diagnostic, press Train, wait until the validation accuracy the worker reports is well above
// chance, check that the page answers while the worker trains, press Stop, take a screenshot.
// Skipped, with one line on stderr, when /usr/bin/chromium is absent.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import type { PreviewServer } from "vite";

const CHROMIUM = "/usr/bin/chromium";
const have = existsSync(CHROMIUM);
if (!have) process.stderr.write(`playground-e2e: skipped, ${CHROMIUM} not found (apt-get install -y chromium)\n`);

const root = fileURLToPath(new URL("../playground/", import.meta.url));
const configFile = join(root, "vite.config.ts");

// line 6 holds the error: `relu` misspelt
const BROKEN = [
  "# typed by test/playground-e2e.test.ts",
  "model e2e_mlp {",
  "  input [1, 28, 28]",
  "  flatten",
  "  dense(64)",
  "  reluu",
  "  dense(10)",
  "  loss softmax_cross_entropy",
  "}",
  "data {",
  '  source idx("data/fashion-mnist-small")',
  "  validation 0.1",
  "  scale 1/255",
  "}",
  "train {",
  "  seed 3",
  "  batch 64",
  "  epochs 1000", // never finishes within the test, even on a loaded machine: Stop ends it
  "  optimizer adam(lr=2e-3)",
  "}",
].join("\n");

describe.skipIf(!have)("playground in headless Chromium", () => {
  const work = mkdtempSync(join(tmpdir(), "dnnc-playground-"));
  const outDir = join(work, "dist");
  let server: PreviewServer | undefined;
  let browser: Browser | undefined;
  let url = "";

  beforeAll(async () => {
    const vite = await import("vite");
    await vite.build({ configFile, logLevel: "error", build: { outDir, emptyOutDir: true } });
    server = await vite.preview({ configFile, logLevel: "error", build: { outDir }, preview: { host: "127.0.0.1", port: 0, strictPort: false } });
    url = server.resolvedUrls?.local[0] ?? "";
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("builds without node:* modules in the bundle", () => {
    const assets = join(outDir, "assets");
    const js = readdirSync(assets).filter((f) => f.endsWith(".js"));
    for (const f of js) {
      const text = readFileSync(join(assets, f), "utf8");
      // module imports only: the wasm backend carries a Node worker's source as a string
      const hit = /\b(?:from|import)\s*\(?\s*["']node:[\w/]+["']/.exec(text);
      expect(hit?.[0], f).toBeUndefined();
    }
    // the datasets are served from the public folder
    expect(statSync(join(outDir, "fashion-mnist-small", "train-images-idx3-ubyte.gz")).size).toBeGreaterThan(100_000);
  });

  it("shows diagnostics as you type, trains in a worker, stays responsive, stops", async () => {
    const page: Page = await browser!.newPage({ viewport: { width: 1400, height: 900 } });
    const problems: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console.error: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    const requested: string[] = [];
    page.on("request", (r) => requested.push(r.url()));
    await page.goto(url);
    await page.waitForFunction(() => document.querySelector("#diag-count")?.textContent?.startsWith("no errors"));

    // type the spec with the error (replacing the default one)
    await page.click("#editor");
    await page.keyboard.press("Control+A");
    await page.keyboard.press("Delete");
    await page.keyboard.type(BROKEN);
    const item = page.locator("#diagnostics li", { hasText: "reluu" });
    await item.waitFor({ timeout: 10_000 });
    expect(await item.getAttribute("data-line")).toBe("6");
    expect(await item.textContent()).toMatch(/^6:3: error E0201: unknown layer `reluu`/);
    expect(await page.locator("#highlight mark.diag-error").textContent()).toBe("reluu");
    expect(await page.getAttribute("#diag-count", "data-errors")).toBe("1");

    // fix it: clicking the diagnostic selects its span in the editor; type over it
    await item.click();
    await page.keyboard.type("relu");
    await page.waitForFunction(() => document.querySelector("#diag-count")?.getAttribute("data-errors") === "0");
    expect(await page.locator("#diagnostics li.error").count()).toBe(0);
    expect(await page.locator("#highlight .tm-entity-name", { hasText: /^dense$/ }).count()).toBe(2);

    // train: the accuracy the worker reports rises well above chance (10 classes: 0.1)
    const heartbeat = page.evaluate(() => {
      const w = window as unknown as { __gap: number; __last: number };
      w.__gap = 0;
      w.__last = performance.now();
      setInterval(() => {
        const t = performance.now();
        w.__gap = Math.max(w.__gap, t - w.__last);
        w.__last = t;
      }, 20);
    });
    await heartbeat;
    await page.click("#train");
    await page.waitForFunction(() => document.body.dataset.state === "training", undefined, { timeout: 30_000 });
    // the page answers while the worker trains
    const t0 = Date.now();
    expect(await page.evaluate(() => 6 * 7)).toBe(42);
    const answerMs = Date.now() - t0;
    expect(answerMs).toBeLessThan(2000);
    const rose = await page
      .waitForFunction(() => Number(document.querySelector("#m-acc")?.getAttribute("data-value") || 0) > 0.6, undefined, { timeout: 40_000, polling: 100 })
      .then(
        () => true,
        () => false,
      );
    if (!rose)
      throw new Error(
        `accuracy did not rise: ${await page.evaluate(() => `${document.body.dataset.state}: ${document.querySelector("#status")?.textContent}; ${(document.querySelector("#metrics") as HTMLElement).innerText}`)}`,
      );
    const acc = Number(await page.getAttribute("#m-acc", "data-value"));
    expect(acc).toBeGreaterThan(0.6);
    expect(await page.evaluate(() => document.body.dataset.state)).toBe("training");
    expect(Number(await page.textContent("#m-step"))).toBeGreaterThan(0);
    await page.screenshot({ path: join(work, "playground.png") });

    // stop: the worker answers within a slice
    await page.click("#stop");
    await page.waitForFunction(() => document.body.dataset.state === "stopped", undefined, { timeout: 10_000 });
    expect(await page.textContent("#status")).toMatch(/^stopped after \d+ steps/);
    const gap = await page.evaluate(() => (window as unknown as { __gap: number }).__gap);
    // the generated trainer was shown, and the Node-only adapter never loaded
    expect(await page.textContent("#trainer-code")).toContain("export const program: Program");
    expect(requested.filter((u) => /node-adapter/.test(u))).toEqual([]);
    expect(problems).toEqual([]);
    expect(statSync(join(work, "playground.png")).size).toBeGreaterThan(10_000);
    process.stderr.write(
      `playground-e2e: val acc ${acc.toFixed(3)} reached; page answered in ${answerMs} ms during training; longest main-thread gap ${gap.toFixed(0)} ms; screenshot ${join(work, "playground.png")}\n`,
    );
    await page.close();
  }, 90_000);
});
