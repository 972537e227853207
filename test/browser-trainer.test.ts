// `dnnc compile --target browser` in headless Chromium (playwright-core with Debian's chromium, as
// test/playground-e2e.test.ts): a page imports the compiled module with <script type="module">,
// makes its arrays (a CSV string through fromCsv, and fetchCsv from the server), trains in a Web
// Worker with the WebAssembly backend, predicts on the page, and reports the backend and thread
// count: two threads on a cross-origin isolated page (COOP/COEP headers), one on a plain page.
// The module imports no Node built-in. Skipped, with one line on stderr, when /usr/bin/chromium is absent.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
const have = (() => {
  try {
    readFileSync(CHROMIUM);
    return true;
  } catch {
    return false;
  }
})();
if (!have) process.stderr.write(`browser-trainer: skipped, ${CHROMIUM} not found (apt-get install -y chromium)\n`);

const repo = fileURLToPath(new URL("..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "dnnc-browser-"));

const SPEC = `model quad {
  input [2]
  dense(64) -> relu
  dense(2)
  loss softmax_cross_entropy
}
data {
  source csv("never-read.csv", label="label")
  validation 0.2
}
train {
  seed 4
  batch 16
  epochs 3
  optimizer adam(lr=2e-2)
}
`;

// the page: a CSV string made here, fit in a worker, predict on the page; results on window.__result
const PAGE = `<!doctype html><meta charset="utf-8"><title>dnnc browser test</title>
<script type="module">
import { fit, predict, evaluate, fromCsv, fetchCsv, fromImages } from "./quad.browser.mjs";
try {
  // images: a solid red 4x4 canvas (scaled to 2x2) and 2x2 ImageData of gray 200, as [1, 2, 2] gray bytes
  const c = document.createElement("canvas");
  c.width = c.height = 4;
  const g = c.getContext("2d");
  g.fillStyle = "rgb(255,0,0)";
  g.fillRect(0, 0, 4, 4);
  const gray = new ImageData(new Uint8ClampedArray(16).fill(200), 2, 2);
  const img = fromImages([c, gray], [1, 0], [1, 2, 2]);
  const rows = ["a,b,label"];
  for (let i = 0; i < 200; i++) { const a = Math.sin(i * 1.3), b = Math.cos(i * 0.7); rows.push(a + "," + b + "," + (a * b > 0 ? 1 : 0)); }
  const data = await fromCsv(rows.join("\\n"));
  const steps = [];
  const threads = new URLSearchParams(location.search).get("threads");
  const model = await fit(data, { epochs: 3, onStep: (s) => steps.push(s), ...(threads ? { threads: Number(threads) } : {}) });
  const fetched = await fetchCsv("./test.csv");
  // a bad label: the worker's error reaches the page as fit's rejection
  const bad = await fit({ x: [0.1, 0.2], y: [7] }).then(() => "resolved", (e) => e.message);
  // the data helpers' errors name what is wrong
  const message = (f) => f().then(() => "resolved", (e) => e.message);
  const helperErrors = [
    await message(() => fetchCsv("./missing.csv")),
    await message(() => fromCsv("a,label\\n1,0\\nx,1")),
    await message(async () => fromImages([c], [0], [2])),
  ];
  // an AbortSignal stops the worker after the step it sees the abort in
  const ac = new AbortController();
  const stopped = await fit(data, { epochs: 2000, signal: ac.signal, onStep: (s) => s.step >= 5 && ac.abort() });
  const out = predict(model, fetched.x);
  window.__result = {
    trainedOn: model.trainedOn,
    pageBackend: model.backend,
    steps: steps.length,
    last: steps[steps.length - 1],
    outputs: out.length,
    evaluate: evaluate(model, data),
    isolated: self.crossOriginIsolated,
    images: { x: Array.from(img.x), y: Array.from(img.y) },
    bad,
    helperErrors,
    stopped: stopped.history,
  };
} catch (e) {
  window.__result = { error: String(e && e.stack || e) };
}
</script>`;

describe.skipIf(!have)("a browser trainer module in headless Chromium", () => {
  let server: Server | undefined;
  let browser: Browser | undefined;
  let base = "";
  let mjs = "";

  beforeAll(async () => {
    writeFileSync(join(work, "quad.dnn"), SPEC);
    execFileSync(process.execPath, [join(repo, "bin", "dnnc.mjs"), "compile", join(work, "quad.dnn"), "--target", "browser", "-o", work], { stdio: "pipe" });
    mjs = readFileSync(join(work, "quad.browser.mjs"), "utf8");
    // docs/browser.md's page, as written, with docs/library.md's moons.dnn compiled beside it
    const block = (file: string, lang: string) => new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(readFileSync(join(repo, "docs", file), "utf8"))![1];
    writeFileSync(join(work, "moons.dnn"), block("library.md", "dnn"));
    execFileSync(process.execPath, [join(repo, "bin", "dnnc.mjs"), "compile", join(work, "moons.dnn"), "--target", "browser", "-o", work], { stdio: "pipe" });
    writeFileSync(join(work, "moons.html"), block("browser.md", "html"));
    writeFileSync(join(work, "index.html"), PAGE);
    writeFileSync(join(work, "test.csv"), "a,b,label\n0.5,0.5,1\n-0.5,0.5,0\n0.25,-0.75,0\n");
    const types: Record<string, string> = { html: "text/html", mjs: "text/javascript", csv: "text/csv" };
    // /iso/...: cross-origin isolated (COOP + COEP on every response); /plain/...: not
    server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      const [, mode, file] = url.pathname.split("/");
      let body: Buffer;
      try {
        body = readFileSync(join(work, file || "index.html"));
      } catch {
        res.writeHead(404).end();
        return;
      }
      const headers: Record<string, string> = { "content-type": types[(file || "index.html").split(".").pop()!] ?? "application/octet-stream" };
      if (mode === "iso") Object.assign(headers, { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" });
      res.writeHead(200, headers).end(body);
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    const addr = server.address() as { port: number };
    base = `http://127.0.0.1:${addr.port}`;
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
    rmSync(work, { recursive: true, force: true });
  });

  it("is one ES module with no Node built-in", () => {
    const hit = /\b(?:from|import)\s*\(?\s*["']node:[\w/]+["']/.exec(mjs);
    expect(hit?.[0]).toBeUndefined();
    expect(mjs).not.toMatch(/\brequire\(["'](?!node:worker_threads)/); // the Node worker's source is a string, never run here
    expect(mjs).toMatch(/export\s*\{[^}]*\bfit\b/);
  });

  async function run(path: string): Promise<Record<string, any>> {
    const page = await browser!.newPage();
    try {
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(base + path);
      await page.waitForFunction(() => (window as { __result?: unknown }).__result !== undefined, undefined, { timeout: 60_000 });
      const r = (await page.evaluate(() => (window as { __result?: unknown }).__result)) as Record<string, any>;
      expect(errors).toEqual([]);
      return r;
    } finally {
      await page.close();
    }
  }

  it("trains in a worker on 2 threads on a cross-origin isolated page, and predicts on the page", async () => {
    const r = await run("/iso/index.html?threads=2");
    expect(r.error).toBeUndefined();
    expect(r.isolated).toBe(true);
    expect(r.trainedOn).toEqual({ name: expect.stringMatching(/^wasm-(relaxed-simd|simd128) x2$/), threads: 2, worker: true, crossOriginIsolated: true });
    expect(r.pageBackend.threads).toBe(1);
    expect(r.steps).toBe(30); // 160 training rows (200 less 20% validation), batch 16, 3 epochs
    expect(r.last).toMatchObject({ step: 30, epoch: 3, epochs: 3, totalSteps: 30, samples: 160, epochSamples: 160 });
    expect(r.last.samplesPerSec).toBeGreaterThan(0);
    expect(r.last.eta).toBe(0);
    expect(r.outputs).toBe(6);
    expect(r.evaluate.acc).toBeGreaterThan(0.5);
    // fromImages: red by luma (PIL's convert("L"): (255 * 19595 + 2^15) >> 16 = 76), gray 200 as is
    expect(r.images).toEqual({ x: [76, 76, 76, 76, 200, 200, 200, 200], y: [1, 0] });
    expect(r.bad).toBe("fit.y: row 0 has label 7; the model takes class ids 0..1");
    expect(r.helperErrors[0]).toBe("./missing.csv: HTTP 404 Not Found");
    expect(r.helperErrors[1]).toMatch(/^csv:3:1: .*x/);
    expect(r.helperErrors[2]).toBe("fromImages: the model input is [2], not an image [C, H, W] of 1 or 3 channels");
    expect(r.stopped.aborted).toBe(true);
    expect(r.stopped.steps).toBeGreaterThanOrEqual(5);
    expect(r.stopped.steps).toBeLessThan(20000);
  }, 90_000);

  it("trains on 1 thread on a page that is not isolated, and says so", async () => {
    const r = await run("/plain/index.html");
    expect(r.error).toBeUndefined();
    expect(r.isolated).toBe(false);
    expect(r.trainedOn).toMatchObject({ threads: 1, worker: true, crossOriginIsolated: false, name: expect.stringMatching(/^wasm-/) });
    expect(r.steps).toBe(30);
  }, 90_000);

  it("runs docs/browser.md's page as written", async () => {
    const page = await browser!.newPage();
    try {
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(base + "/iso/moons.html");
      await page.waitForFunction(() => /\ndone$/.test(document.getElementById("log")?.textContent ?? ""), undefined, { timeout: 60_000 });
      const text = await page.evaluate(() => document.getElementById("log")!.textContent!);
      expect(errors).toEqual([]);
      expect(text).toMatch(/step 20\/65 loss \d\.\d{3} \d+ rows\/s, \d+\.\d s left/);
      expect(text).toMatch(/trained on wasm-\S+, 1 thread\(s\), in a worker: true, isolated: true/);
      expect(text).toContain("predict: 8 outputs");
    } finally {
      await page.close();
    }
  }, 90_000);
});
