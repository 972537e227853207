// The playground's features beyond editing and training (docs/playground.md), in headless Chromium
// (playwright-core) against a Vite build: an edit survives a reload (localStorage) and travels in
// a link (#spec=...) to a browser that never saw it; the network diagram lists the layers with
// their shapes and parameters; an uploaded CSV replaces the spec's source (its row count shows in
// the status); two-moons gets a decision boundary whose colours put the test points on their
// class's side (checked on the canvas's pixels); the accuracy axis zooms to the data; the trainer
// and the weights (a safetensors file, parsed) can be downloaded; image data gets a grid of test
// images with the predicted class names. One build, one browser. Skipped, with one line on stderr,
// when /usr/bin/chromium is absent.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import type { PreviewServer } from "vite";

const CHROMIUM = "/usr/bin/chromium";
const have = existsSync(CHROMIUM);
if (!have) process.stderr.write(`playground-features: skipped, ${CHROMIUM} not found (apt-get install -y chromium)\n`);

const root = fileURLToPath(new URL("../playground/", import.meta.url));
const configFile = join(root, "vite.config.ts");

const MOONS = `# two moons
model moons {
  input [2]
  dense(16) -> tanh
  dense(16) -> tanh
  dense(2)
  loss softmax_cross_entropy
}
data {
  source csv("data/two-moons", label="label")
  validation 0.1
}
train {
  seed 1
  batch 16
  epochs 40
  optimizer adam(lr=0.03)
}
`;

const FASHION = `model tiny_mlp {
  input [1, 28, 28]
  flatten
  dense(32) -> relu
  dense(10)
  loss softmax_cross_entropy
}
data {
  source idx("data/fashion-mnist-small")
  validation 0.1
  scale 1/255
}
train {
  seed 3
  batch 128
  epochs 1
  optimizer adam(lr=3e-3)
}
`;

describe.skipIf(!have)("playground features in headless Chromium", () => {
  const work = mkdtempSync(join(tmpdir(), "dnnc-playground-f-"));
  const outDir = join(work, "dist");
  let server: PreviewServer | undefined;
  let browser: Browser | undefined;
  let url = "";
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    const vite = await import("vite");
    await vite.build({ configFile, logLevel: "error", build: { outDir, emptyOutDir: true } });
    server = await vite.preview({ configFile, logLevel: "error", build: { outDir }, preview: { host: "127.0.0.1", port: 0, strictPort: false } });
    url = server.resolvedUrls?.local[0] ?? "";
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console.error: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const setSpec = async (text: string) => {
    await page.locator("#editor").fill(text);
    await page.waitForFunction(() => document.querySelector("#diag-count")?.getAttribute("data-errors") === "0");
  };
  const train = async (timeout: number) => {
    await page.click("#train");
    await page.waitForFunction(() => document.body.dataset.state === "done" || document.body.dataset.state === "error", undefined, { timeout, polling: 100 });
    const state = await page.evaluate(() => document.body.dataset.state);
    if (state !== "done") throw new Error(`training ended in ${state}: ${await page.textContent("#status")}`);
  };

  it("keeps edits across a reload, and a shared link opens the spec in a fresh browser", async () => {
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset.specFrom === "default");
    await setSpec(MOONS);
    await page.waitForTimeout(400); // the debounced save
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.specFrom === "saved");
    expect(await page.inputValue("#editor")).toBe(MOONS);
    await page.click("#share");
    const link = await page.inputValue("#share-url");
    expect(link).toMatch(/#spec=[A-Za-z0-9_-]+$/);
    const other = await browser!.newContext(); // no localStorage of ours
    const p2 = await other.newPage();
    await p2.goto(link);
    await p2.waitForFunction(() => document.body.dataset.specFrom === "link");
    expect(await p2.inputValue("#editor")).toBe(MOONS);
    await other.close();
  });

  it("draws the network: one box per layer with its output shape and parameters", async () => {
    await page.waitForSelector("#diagram g.layer");
    const layers = await page.$$eval("#diagram g.layer", (gs) =>
      gs.map((g) => [g.getAttribute("data-op"), g.getAttribute("data-shape"), g.getAttribute("data-params")]),
    );
    expect(layers[0]).toEqual(["input", "[2]", "0"]);
    expect(layers[layers.length - 1]).toEqual([expect.stringMatching(/^dense/), "[2]", String(16 * 2 + 2)]);
    expect(layers.some(([op, shape, params]) => /^dense/.test(op!) && shape === "[16]" && params === String(2 * 16 + 16))).toBe(true);
    expect(await page.locator("#diagram line.edge").count()).toBe(layers.length - 1);
  });

  it("trains two-moons from an uploaded CSV: the boundary separates the classes, the axes zoom, trainer and weights download", async () => {
    // the bundled train and test files as one upload (600 rows): 20% held out, 10% of the rest for validation
    const csv =
      readFileSync(resolve("specs/data/two-moons/train.csv"), "utf8") +
      readFileSync(resolve("specs/data/two-moons/test.csv"), "utf8").split("\n").slice(1).join("\n");
    await page.setInputFiles("#csv-file", { name: "moons.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
    await page.waitForFunction(() => /^moons\.csv: 601 lines/.test(document.querySelector("#csv-name")?.textContent ?? ""));
    await page.click("#train");
    await page.waitForFunction(() => /training on \d+ rows/.test(document.querySelector("#status")?.textContent ?? ""), undefined, { timeout: 60_000 });
    expect(await page.textContent("#status")).toMatch(/^training on 432 rows/); // 600 - 120 test - 48 validation
    await page.waitForFunction(() => document.body.dataset.state === "done" || document.body.dataset.state === "error", undefined, {
      timeout: 60_000,
      polling: 100,
    });
    expect(await page.evaluate(() => document.body.dataset.state)).toBe("done");

    const canvas = page.locator("#boundary");
    expect(await canvas.isVisible()).toBe(true);
    expect(await canvas.getAttribute("data-points")).toBe("120");
    expect(Number(await canvas.getAttribute("data-agree"))).toBeGreaterThan(0.9);
    // pixels: the region around each class's test points is tinted with that class's colour
    const tints = await page.evaluate(() => {
      const c = document.querySelector("#boundary") as HTMLCanvasElement;
      const g = c.getContext("2d")!;
      const d = g.getImageData(0, 0, c.width, c.height).data;
      // blue (class 0) has b > r, vermillion (class 1) r > b: count pixels of each
      let blue = 0;
      let red = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 2] > d[i] + 30) blue++;
        if (d[i] > d[i + 2] + 30) red++;
      }
      return { blue, red, total: d.length / 4 };
    });
    expect(tints.blue / tints.total).toBeGreaterThan(0.2);
    expect(tints.red / tints.total).toBeGreaterThan(0.2);

    await page.screenshot({ path: join(work, "moons.png"), fullPage: true });
    // accuracy axis: spans the data, not 0..1
    const yMin = Number(await page.getAttribute("#acc-chart", "data-y-min"));
    expect(yMin).toBeGreaterThan(0.3);

    // downloads: the trainer's TypeScript and a safetensors file of the model's tensors
    expect(await page.getAttribute("#dl-trainer", "download")).toBe("moons.trainer.ts");
    expect(await page.getAttribute("#dl-weights", "download")).toBe("model.safetensors");
    const header = await page.evaluate(async () => {
      const href = (document.querySelector("#dl-weights") as HTMLAnchorElement).href;
      const b = new Uint8Array(await (await fetch(href)).arrayBuffer());
      const n = new DataView(b.buffer).getUint32(0, true);
      return { json: new TextDecoder().decode(b.subarray(8, 8 + n)), size: b.length, n };
    });
    const h = JSON.parse(header.json) as Record<string, { shape: number[]; data_offsets: [number, number] }>;
    const params = Object.entries(h).filter(([k]) => k !== "__metadata__");
    expect(params.map(([, v]) => v.shape)).toContainEqual([16, 2]);
    expect(header.size).toBe(8 + header.n + (2 * 16 + 16 + 16 * 16 + 16 + 16 * 2 + 2) * 4);
    const trainer = await page.evaluate(async () => (await fetch((document.querySelector("#dl-trainer") as HTMLAnchorElement).href)).text());
    expect(trainer).toContain("export const program");
    await page.click("#csv-clear");
  }, 90_000);

  it("shows the first test images with their predicted class names", async () => {
    await setSpec(FASHION);
    await train(90_000);
    const figs = page.locator("#samples figure");
    expect(await figs.count()).toBe(24);
    const caps = await page.$$eval("#samples figure", (fs) =>
      fs.map((f) => [f.className, f.getAttribute("data-label"), f.getAttribute("data-pred"), f.textContent]),
    );
    const names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
    for (const [cls, label, pred, text] of caps) {
      expect(cls).toBe(label === pred ? "right" : "wrong");
      expect(text).toContain(names[Number(pred)]);
    }
    expect(caps.filter(([cls]) => cls === "right").length).toBeGreaterThan(12); // better than chance by far
    // the first test image of Fashion-MNIST is an ankle boot: its canvas holds its pixels
    expect(caps[0][1]).toBe("9");
    const ink = await page.evaluate(() => {
      const c = document.querySelector("#samples canvas") as HTMLCanvasElement;
      const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
      let bright = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] > 100) bright++;
      return [c.width, c.height, bright];
    });
    expect(ink.slice(0, 2)).toEqual([28, 28]);
    expect(ink[2]).toBeGreaterThan(100);
    await page.screenshot({ path: join(work, "features.png"), fullPage: true });
    process.stderr.write(`playground-features: screenshot ${join(work, "features.png")}\n`);
    expect(problems).toEqual([]);
  }, 120_000);
});
