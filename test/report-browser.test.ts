// report.html driven in headless Chromium (playwright-core, Debian's chromium), checking what a
// reader sees: the per-step curve has one point per step and the smoothing slider changes it (0:
// the raw losses), the log-scale checkbox swaps the loss axes' labels for decades, the learning-rate
// plot marks the warm-up's end, the confusion matrix and the precision/recall table name the
// classes, the gallery shows the misclassified images (pixels checked in a screenshot), regression
// gets its scatter plots, and a live report reloads itself. One browser for the file. Skipped, with
// one line on stderr, when /usr/bin/chromium is absent.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, Page } from "playwright-core";
import { writeReport } from "../compiler/report";
import { decodePng } from "../runtime/node/png";

const CHROMIUM = "/usr/bin/chromium";
const have = existsSync(CHROMIUM);
if (!have) process.stderr.write(`report-browser: skipped, ${CHROMIUM} not found (apt-get install -y chromium)\n`);

const STEPS = 137;
const CLASSES = ["t-shirt", "trouser", "sneaker"];
const loss = (i: number) => 2 * Math.exp(-i / 30) + 0.1 + 0.15 * Math.sin(i * 1.7); // noisy, positive

function runDir(work: string, name: string, files: Record<string, string | Buffer>): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, t] of Object.entries(files)) writeFileSync(join(dir, f), t);
  return dir;
}

/** A 28×28 image: black, with a white 10×10 square in the middle. */
function squareImage(): string {
  const px = new Uint8Array(28 * 28);
  for (let y = 9; y < 19; y++) for (let x = 9; x < 19; x++) px[y * 28 + x] = 255;
  return Buffer.from(px).toString("base64");
}

function classificationRun(work: string): string {
  const metrics = [1, 2, 3].map((e) =>
    JSON.stringify({
      epoch: e,
      train_loss: loss(45 * e),
      train_acc: 0.5 + 0.1 * e,
      val_loss: loss(45 * e) + 0.05,
      val_acc: 0.5 + 0.1 * e,
      lr: 0.002,
      seconds: 1,
    }),
  );
  metrics.push(JSON.stringify({ test_loss: 0.4, test_acc: 0.8 }));
  const trace = Buffer.alloc(8 * STEPS);
  for (let i = 0; i < STEPS; i++) trace.writeDoubleLE(loss(i), 8 * i);
  return runDir(work, "cls", {
    "metrics.jsonl": metrics.join("\n") + "\n",
    "loss-trace.f64": trace,
    "run.json": JSON.stringify({ name: "cls", steps: STEPS, seed: 11 }),
    "run-info.json": JSON.stringify({
      started: "2026-12-08T01:02:03.000Z",
      finished: "2026-12-08T01:04:05.000Z",
      train: { seed: 11, epochs: 3, batch: 64, optimizer: { kind: "adam", lr: 0.002, beta1: 0.9, beta2: 0.999, eps: 1e-8, momentum: 0.5 } },
      data: { validation: 0.1, source: { kind: "idx", path: "data/x" } },
      lr_steps: [
        [1, 0.00005],
        [40, 0.002],
        [137, 0.0001],
      ],
    }),
    "confusion.json": JSON.stringify({
      matrix: [
        [8, 2, 0],
        [1, 9, 0],
        [0, 3, 7],
      ],
      classes: CLASSES,
    }),
    "predictions.json": JSON.stringify({
      kind: "classification",
      seen: 30,
      wrong: 6,
      shape: [1, 28, 28],
      samples: [
        { row: 3, true: 2, pred: 1, prob: 0.7, pixels: squareImage() },
        { row: 8, true: 0, pred: 1, prob: 0.55, pixels: squareImage() },
      ],
    }),
    "spec.dnn": "model cls {\n  input [1, 28, 28]\n}\n",
  });
}

describe.skipIf(!have)("report.html in headless Chromium (content)", () => {
  const work = mkdtempSync(join(tmpdir(), "dnnc-report-browser-"));
  let browser: Browser | undefined;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
    page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    const { html } = writeReport([classificationRun(work)], join(work, "cls"));
    await page.goto(pathToFileURL(html).href);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  /** The points of the visible polylines of `fig` whose data-key is `key`. */
  const points = (fig: string, key: string) =>
    page.$$eval(`${fig} polyline[data-key="${key}"]`, (ls) =>
      ls.flatMap((l) =>
        (l.getAttribute("points") ?? "")
          .split(" ")
          .filter((p) => p !== "")
          .map((p) => p.split(",").map(Number)),
      ),
    );
  const visibleTicks = (fig: string) =>
    page.$$eval(`${fig} g.axes text[text-anchor="end"]`, (ts) =>
      ts.filter((t) => (t as SVGElement).getBoundingClientRect().width > 0).map((t) => t.textContent),
    );

  it("draws one point per step, raw and smoothed; smoothing 0 gives the raw curve, 0.9 a smoother one", async () => {
    expect(errors).toEqual([]);
    const raw = await points("#loss-steps", "raw-0");
    expect(raw.length).toBe(STEPS);
    const roughness = (pts: number[][]) => pts.slice(2).reduce((a, p, i) => a + Math.abs(p[1] - 2 * pts[i + 1][1] + pts[i][1]), 0);
    await page.locator("#smoothing").fill("0");
    const s0 = await points("#loss-steps", "smooth-0");
    expect(s0.length).toBe(STEPS);
    s0.forEach((p, i) => expect(Math.abs(p[1] - raw[i][1])).toBeLessThan(0.02));
    await page.locator("#smoothing").fill("0.9");
    expect(await page.locator("#smoothing-value").textContent()).toBe("0.90");
    const s9 = await points("#loss-steps", "smooth-0");
    expect(s9.length).toBe(STEPS);
    expect(roughness(s9)).toBeLessThan(roughness(raw) / 4);
    expect(await page.evaluate(() => location.hash)).toBe("#s=0.9");
  });

  it("a drag across the per-step plot zooms into those steps (axis and curves), a double click zooms out", async () => {
    const svg = page.locator("#loss-steps svg");
    const box = (await svg.boundingBox())!;
    const d = await page.$eval("#loss-steps g.plot", (g) => ({ ...(g as SVGGElement).dataset }));
    const W = Number(await svg.getAttribute("width"));
    const k = box.width / W;
    const at = (step: number) => box.x + (Number(d.left) + ((step - Number(d.xMin)) / (Number(d.xMax) - Number(d.xMin))) * Number(d.width)) * k;
    const y = box.y + (Number(d.top) + Number(d.height) / 2) * k;
    await page.mouse.move(at(30.4), y);
    await page.mouse.down();
    await page.mouse.move(at(45), y);
    await page.mouse.move(at(59.6), y);
    await page.mouse.up();
    expect(await page.evaluate(() => location.hash)).toBe("#s=0.9&z=30-60");
    expect((await points("#loss-steps", "smooth-0")).length).toBe(31);
    expect((await points("#loss-steps", "raw-0")).length).toBe(31);
    const xt = (await page.$$eval("#loss-steps g.xticks text", (ts) => ts.map((t) => Number(t.textContent)))).sort((a, b) => a - b);
    expect(xt[0]).toBeGreaterThanOrEqual(30);
    expect(xt[xt.length - 1]).toBeLessThanOrEqual(60);
    expect(xt.length).toBeGreaterThanOrEqual(3);
    // the first raw point sits at the plot's left edge (step 30 is the range's start)
    expect((await points("#loss-steps", "raw-0"))[0][0]).toBeCloseTo(Number(d.left), 1);
    await svg.dblclick();
    expect((await points("#loss-steps", "smooth-0")).length).toBe(STEPS);
    expect(await page.evaluate(() => location.hash)).toBe("#s=0.9");
  });

  it("the log-scale checkbox swaps the loss plots for ones with decade labels", async () => {
    const lin = await visibleTicks("#loss-steps");
    expect(lin.length).toBeGreaterThan(2);
    expect(lin.some((t) => /e-?\d/.test(t ?? ""))).toBe(false);
    expect(await visibleTicks("#loss-steps-log")).toEqual([]);
    await page.locator("#log-toggle").check();
    const log = await visibleTicks("#loss-steps-log");
    expect(log.filter((t) => /^1e-?\d+$/.test(t ?? "")).length).toBeGreaterThanOrEqual(2);
    expect(await visibleTicks("#loss-steps")).toEqual([]);
    expect(await visibleTicks("#loss-log")).toContain("1e0");
    // the smoothed curve is redrawn on the log axes too, one point per step
    expect((await points("#loss-steps-log", "smooth-0")).length).toBe(STEPS);
    expect(await page.evaluate(() => location.hash)).toBe("#s=0.9&log=1");
    await page.locator("#log-toggle").uncheck();
  });

  it("marks the warm-up's end on the per-step learning rate", async () => {
    const title = await page.$eval("#lr line.vline title", (t) => t.textContent);
    expect(title).toBe("cls — warm-up ends at step 40");
    expect(await page.$eval("#lr svg", (s) => s.getAttribute("aria-label"))).toBe("Learning rate per step");
  });

  it("names the classes in the confusion matrix and the precision/recall/F1 table", async () => {
    const labels = await page.$$eval("[id^=confusion] text", (ts) => ts.map((t) => t.textContent));
    for (const c of CLASSES) expect(labels.filter((l) => l === c).length).toBe(2); // row and column
    const rows = await page.$$eval("table.scores tbody tr", (trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td"), (td) => td.textContent)));
    // sneaker: 7 of 10 recalled, and every sneaker prediction right
    expect(rows[2]).toEqual(["sneaker", "100.0", "70.0", "82.4", "10"]);
    // trouser: 9 of 14 predictions right
    expect(rows[1].slice(0, 3)).toEqual(["trouser", "64.3", "90.0"]);
    expect(rows[3][0]).toBe("macro average");
  });

  it("shows the misclassified images with their classes, and their pixels are the images'", async () => {
    const captions = await page.$$eval("figure.sample figcaption", (fs) => fs.map((f) => f.textContent));
    expect(captions).toEqual(["sneaker → trouser 70%", "t-shirt → trouser 55%"]);
    expect(await page.$eval("figure.sample img", (i) => [(i as HTMLImageElement).naturalWidth, (i as HTMLImageElement).width])).toEqual([28, 84]);
    const shot = decodePng(await page.locator("figure.sample img").first().screenshot());
    const at = (x: number, y: number) => shot.pixels[(y * shot.width + x) * shot.channels];
    // drawn 3× (84 px): the square spans 27..56, the corners are black
    expect(at(42, 42)).toBeGreaterThan(240);
    expect(at(30, 52)).toBeGreaterThan(240);
    expect(at(5, 5)).toBeLessThan(15);
    expect(at(78, 78)).toBeLessThan(15);
  });

  it("shades the confusion matrix's diagonal in a screenshot", async () => {
    const fig = page.locator("[id^=confusion] svg").first();
    const box = (await fig.boundingBox())!;
    const shot = decodePng(await fig.screenshot());
    const rect = async (r: number, c: number) => {
      const b = (await page.locator(`[id^=confusion] rect.cell[data-row="${r}"][data-col="${c}"]`).boundingBox())!;
      const x = Math.round(b.x - box.x + 4);
      const y = Math.round(b.y - box.y + 4); // a corner, away from the count's digits
      const i = (y * shot.width + x) * shot.channels;
      return [shot.pixels[i], shot.pixels[i + 1], shot.pixels[i + 2]];
    };
    const diag = await rect(1, 1); // 90% of the row: dark blue
    const off = await rect(0, 2); // 0: white
    expect(diag[2]).toBeGreaterThan(diag[0] + 40);
    expect(diag[0]).toBeLessThan(80);
    expect(off).toEqual([255, 255, 255]);
  });

  it("shows the dates, the seed, the optimizer's own settings and the spec", async () => {
    const rows = Object.fromEntries(
      await page.$$eval("table.settings tr", (trs) => trs.map((tr) => [tr.querySelector("th")!.textContent, tr.querySelector("td")!.textContent])),
    );
    expect(rows.started).toBe("2026-12-08 01:02:03 UTC");
    expect(rows.seed).toBe("11");
    expect(rows["train.optimizer"]).toBe("adam");
    expect(rows["train.optimizer.beta2"]).toBe("0.999");
    expect(rows["train.optimizer.momentum"]).toBeUndefined(); // not an Adam setting
    expect(rows["data.source.path"]).toBe("data/x");
    expect(await page.locator("pre.spec").textContent()).toBe("model cls {\n  input [1, 28, 28]\n}");
    expect(errors).toEqual([]);
  });

  it("gives regression runs predicted-vs-true and residual plots with their scores", async () => {
    const pairs = Array.from({ length: 50 }, (_, i) => [i / 10, i / 10 + (i % 2 ? 0.2 : -0.2)]);
    const metrics = JSON.stringify({ epoch: 1, train_loss: 0.5, train_acc: null, val_loss: 0.4, val_acc: null, lr: 0.01, seconds: 1 }) + "\n";
    const dir = runDir(work, "reg", { "metrics.jsonl": metrics, "predictions.json": JSON.stringify({ kind: "regression", seen: 80, pairs }) });
    const { html } = writeReport([dir], dir);
    await page.goto(pathToFileURL(html).href);
    expect(await page.locator("[id^=predicted-vs-true] circle.point").count()).toBe(50);
    const res = await page.$$eval("[id^=residuals] circle.point", (cs) => cs.map((c) => Number(c.getAttribute("data-y"))));
    expect(res.map((r) => Math.abs(r))).toEqual(pairs.map(() => expect.closeTo(0.2, 6)));
    const cells = await page.$$eval("table.regression td", (tds) => tds.map((t) => t.textContent));
    expect(cells).toEqual(["reg", "0.2000", "0.2000", expect.stringMatching(/^0\.9/), "50 of 80"]);
    expect(errors).toEqual([]);
  });

  it("a live report says so and reloads itself; the final one does not", async () => {
    const dir = join(work, "cls");
    const { html } = writeReport([dir], dir, { live: true, liveReloadMs: 400 });
    let loads = 0;
    page.on("load", () => loads++);
    await page.goto(pathToFileURL(html).href + "#s=0.3");
    expect(await page.locator("#live").textContent()).toContain("Training in progress");
    await page.waitForEvent("load", { timeout: 4000 });
    expect(loads).toBeGreaterThanOrEqual(2);
    expect(await page.locator("#smoothing").inputValue()).toBe("0.3"); // the fragment survives the reload
    writeReport([dir], dir);
    await page.waitForEvent("load", { timeout: 4000 }); // the reload that picks up the final report
    expect(await page.locator("#live").count()).toBe(0);
    const before = loads;
    await page.waitForTimeout(1200);
    expect(loads).toBe(before);
  }, 20_000);
});
