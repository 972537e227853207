// The run report: SVG/HTML well-formedness (a small checker below), escaping of user text, the
// numbers behind every polyline, gaps, best-epoch markers, the confusion matrix, nice ticks, and
// loading run directories with errors that name the file and line.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { disambiguate, loadRun, niceScale, logScale, parseMetrics, renderReport, writeReport, type Run } from "../compiler/report";
import { PAGE_SCRIPT } from "../compiler/report/page-script";
import type { EpochMetrics } from "../runtime/train-loop";

// ---- a small XML well-formedness checker ------------------------------------------------------
interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  /** Raw text directly after the start tag (up to the next tag). */
  text: string;
}

const VOID_HTML = new Set(["meta", "link", "br", "img", "hr", "input"]);
const ENTITY = /&(?:amp|lt|gt|quot|#39|#\d+|#x[0-9a-fA-F]+);/g;

function checkText(s: string, where: string): void {
  const stripped = s.replace(ENTITY, "");
  if (stripped.includes("&")) throw new Error(`unescaped & ${where}: ${JSON.stringify(s.slice(0, 80))}`);
  if (stripped.includes("<")) throw new Error(`raw < ${where}: ${JSON.stringify(s.slice(0, 80))}`);
}

function checkWellFormed(doc: string, opts: { html?: boolean } = {}): XmlElement[] {
  const out: XmlElement[] = [];
  const stack: string[] = [];
  let i = 0;
  const src = doc.replace(/^<\?xml[^>]*\?>\s*/, "").replace(/^<!DOCTYPE html>\s*/i, "");
  // <style> holds CSS and <script> the page's constant script or JSON numbers, neither checked as XML text
  const body = src.replace(/<style>[\s\S]*?<\/style>/g, "<style></style>").replace(/(<script[^>]*>)[\s\S]*?<\/script>/g, "$1</script>");
  while (i < body.length) {
    const lt = body.indexOf("<", i);
    const text = lt < 0 ? body.slice(i) : body.slice(i, lt);
    checkText(text, `in text at ${i}`);
    if (out.length > 0 && out[out.length - 1].text === "" && stack.length > 0) out[out.length - 1].text = text;
    if (lt < 0) break;
    const gt = body.indexOf(">", lt);
    if (gt < 0) throw new Error(`unterminated tag at ${lt}`);
    const tag = body.slice(lt + 1, gt);
    if (tag.startsWith("/")) {
      const name = tag.slice(1).trim();
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}> at ${lt}`);
    } else {
      const selfClosing = tag.endsWith("/");
      const m = /^([A-Za-z][\w:-]*)([\s\S]*?)\/?$/.exec(tag);
      if (!m) throw new Error(`bad tag <${tag.slice(0, 40)}> at ${lt}`);
      const name = m[1];
      const attrs: Record<string, string> = {};
      let rest = m[2];
      const attrRe = /^\s+([A-Za-z_:][\w:.-]*)="([^"]*)"/;
      for (;;) {
        const a = attrRe.exec(rest);
        if (!a) break;
        checkText(a[2], `in attribute ${a[1]} of <${name}>`);
        if (a[1] in attrs) throw new Error(`duplicate attribute ${a[1]} on <${name}>`);
        attrs[a[1]] = a[2];
        rest = rest.slice(a[0].length);
      }
      if (rest.trim() !== "") throw new Error(`unparsable attributes in <${name}>: ${JSON.stringify(rest.slice(0, 60))}`);
      out.push({ name, attrs, text: "" });
      if (!selfClosing && !(opts.html && VOID_HTML.has(name))) stack.push(name);
    }
    i = gt + 1;
  }
  if (stack.length > 0) throw new Error(`unclosed elements: ${stack.join(" > ")}`);
  return out;
}

/** Decode the five XML entities (and numeric ones). */
function unescapeXml(s: string): string {
  return s.replace(ENTITY, (e) =>
    e === "&amp;"
      ? "&"
      : e === "&lt;"
        ? "<"
        : e === "&gt;"
          ? ">"
          : e === "&quot;"
            ? '"'
            : e === "&#39;"
              ? "'"
              : String.fromCodePoint(e[2] === "x" ? parseInt(e.slice(3, -1), 16) : parseInt(e.slice(2, -1), 10)),
  );
}

// ---- fixtures -----------------------------------------------------------------------------------

function epochs(n: number, f: (i: number) => Partial<EpochMetrics> = () => ({})): EpochMetrics[] {
  return Array.from({ length: n }, (_, i) => ({
    epoch: i + 1,
    train_loss: 2 / (i + 1) + 0.1,
    train_acc: 0.5 + 0.04 * i,
    val_loss: 2.2 / (i + 1) + 0.15,
    val_acc: 0.48 + 0.035 * i,
    lr: 0.1 * 0.5 ** Math.floor(i / 3),
    seconds: 0.5,
    ...f(i),
  }));
}

const EVIL = `bn <script>alert("x")</script> & 'co'`;

/** Polyline points of one series, mapped back from pixels to data through the plot's data-* attributes. */
function seriesData(svg: string, series: string): { x: number; y: number }[][] {
  const els = checkWellFormed(svg);
  const plot = els.find((e) => e.name === "g" && e.attrs.class === "plot");
  if (!plot) throw new Error("no plot group");
  const a = (k: string) => Number(plot.attrs[k]);
  const log = plot.attrs["data-y-log"] === "1";
  const [x0, x1, y0, y1] = [a("data-x-min"), a("data-x-max"), a("data-y-min"), a("data-y-max")];
  const [left, top, w, h] = [a("data-left"), a("data-top"), a("data-width"), a("data-height")];
  return els
    .filter((e) => e.name === "polyline" && unescapeXml(e.attrs["data-series"]) === series)
    .map((e) =>
      e.attrs.points.split(" ").map((pt) => {
        const [px, py] = pt.split(",").map(Number);
        const x = x0 + ((px - left) / w) * (x1 - x0);
        const f = (top + h - py) / h;
        const y = log ? 10 ** (Math.log10(y0) + f * (Math.log10(y1) - Math.log10(y0))) : y0 + f * (y1 - y0);
        return { x, y };
      }),
    );
}

/** Pixel rounding is 0.01 px over a ~240 px axis: relative error about 1e-4 of the axis range. */
function expectClose(got: { x: number; y: number }[], want: { x: number; y: number }[], yRange: number): void {
  expect(got.length).toBe(want.length);
  got.forEach((p, i) => {
    expect(Math.abs(p.x - want[i].x)).toBeLessThan(1e-3 * Math.max(1, want[i].x));
    expect(Math.abs(p.y - want[i].y)).toBeLessThan(2e-4 * yRange);
  });
}

// ---- tests --------------------------------------------------------------------------------------

describe("niceScale", () => {
  it("covers the data with evenly spaced ticks at 1, 2 or 5 × 10^k", () => {
    fc.assert(
      fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: 1e-6, max: 1e6, noNaN: true }), (lo, span) => {
        fc.pre(span >= 1e-6 * Math.abs(lo)); // below that, doubles cannot space the ticks evenly
        const hi = lo + span;
        const s = niceScale(lo, hi, 6);
        const step0 = s.ticks[1] - s.ticks[0];
        expect(s.lo).toBeLessThanOrEqual(lo + 1e-6 * step0);
        expect(s.hi).toBeGreaterThanOrEqual(hi - 1e-6 * step0);
        expect(s.ticks.length).toBeGreaterThanOrEqual(2);
        expect(s.ticks.length).toBeLessThanOrEqual(12);
        const step = s.ticks[1] - s.ticks[0];
        const mant = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
        expect([1, 2, 5, 10].some((m) => Math.abs(mant - m) < 1e-6)).toBe(true);
        for (let i = 1; i < s.ticks.length; i++) expect(Math.abs(s.ticks[i] - s.ticks[i - 1] - step)).toBeLessThan(1e-6 * step + 1e-12);
      }),
    );
  });
  it("gives textbook ticks", () => {
    expect(niceScale(0.23, 0.91, 6).ticks).toEqual([0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceScale(0.23, 0.91, 10).ticks).toEqual([0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    expect(niceScale(1, 10, 8, 1).ticks).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(niceScale(1, 15, 8, 1).ticks).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16]);
    expect(niceScale(1, 3, 8, 1).ticks).toEqual([1, 2, 3]); // epochs stay integral
    expect(niceScale(5, 5).ticks).toEqual([4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6]); // a single value gets a range
    expect(logScale(1e-4, 0.1).ticks).toEqual([1e-4, 1e-3, 1e-2, 0.1]);
    expect(logScale(0.01, 0.05).ticks).toEqual([0.01, 0.02, 0.05, 0.1]);
  });
});

describe("renderReport", () => {
  const runA: Run = { name: "mlp", metrics: epochs(8), final: { test_loss: 0.41, test_acc: 0.87 }, bestEpoch: 6 };
  const runB: Run = {
    name: EVIL,
    metrics: epochs(10, (i) => ({ train_loss: 1.5 / (i + 1) })),
    confusion: [
      [5, 1],
      [2, 7],
    ],
    classes: ["cat", "<dog>"],
  };
  const rep = renderReport([runA, runB]);

  it("writes well-formed SVG and HTML with no script but the page's constant one, and every user string escaped", () => {
    expect(Object.keys(rep.svgs).sort()).toEqual(["accuracy", "confusion-bn-script-alert-x-script-co", "loss", "lr"]);
    for (const svg of Object.values(rep.svgs)) {
      checkWellFormed(svg);
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      expect(svg).not.toContain("<script");
    }
    const els = checkWellFormed(rep.html, { html: true });
    expect(rep.html).not.toMatch(/src=|href="http|@import|url\(/i);
    // the one script is the constant PAGE_SCRIPT: no user string reaches it
    expect(rep.html.match(/<script[^>]*>/g)).toEqual(["<script>"]);
    expect(rep.html).toContain(`<script>${PAGE_SCRIPT}</script>`);
    expect(rep.html).toContain("bn &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;");
    expect(els.filter((e) => e.name === "svg").length).toBe(5); // loss (linear and log), accuracy, lr, confusion
    const titles = els.filter((e) => e.name === "title").map((e) => unescapeXml(e.text));
    expect(titles).toContain(EVIL);
    expect(titles).toContain("best epoch (weights kept)");
    expect(titles).toContain("mlp — best epoch 6");
  });

  it("plots every training and validation number where it belongs", () => {
    for (const [key, tk, vk] of [
      ["loss", "train_loss", "val_loss"],
      ["accuracy", "train_acc", "val_acc"],
    ] as const) {
      const svg = rep.svgs[key];
      const all = [...runA.metrics, ...runB.metrics].flatMap((m) => [m[tk]!, m[vk]!]);
      const range = Math.max(...all) - Math.min(...all);
      for (const r of [runA, runB]) {
        const tr = seriesData(svg, `${r.name} — training`);
        const va = seriesData(svg, `${r.name} — validation`);
        expect(tr.length).toBe(1);
        expect(va.length).toBe(1);
        expectClose(
          tr[0],
          r.metrics.map((m) => ({ x: m.epoch, y: m[tk]! })),
          range,
        );
        expectClose(
          va[0],
          r.metrics.map((m) => ({ x: m.epoch, y: m[vk]! })),
          range,
        );
      }
    }
  });

  it("marks the best epoch with a vertical line at its x", () => {
    const els = checkWellFormed(rep.svgs.loss);
    const plot = els.find((e) => e.attrs.class === "plot")!;
    const vl = els.filter((e) => e.attrs.class === "vline");
    expect(vl.length).toBe(1);
    const x =
      Number(plot.attrs["data-x-min"]) +
      ((Number(vl[0].attrs.x1) - Number(plot.attrs["data-left"])) / Number(plot.attrs["data-width"])) *
        (Number(plot.attrs["data-x-max"]) - Number(plot.attrs["data-x-min"]));
    expect(x).toBeCloseTo(6, 3);
  });

  it("draws the confusion matrix's counts cell by cell with escaped class names", () => {
    const svg = rep.svgs["confusion-bn-script-alert-x-script-co"];
    const cells = checkWellFormed(svg).filter((e) => e.attrs.class === "cell");
    expect(cells.map((c) => [Number(c.attrs["data-row"]), Number(c.attrs["data-col"]), Number(c.attrs["data-count"])])).toEqual([
      [0, 0, 5],
      [0, 1, 1],
      [1, 0, 2],
      [1, 1, 7],
    ]);
    expect(svg).toContain("&lt;dog&gt;");
    expect(svg).toContain("accuracy 80.00% of 15");
  });

  it("leaves gaps for missing and non-finite values and skips charts with nothing to show", () => {
    const run: Run = {
      name: "regression",
      metrics: epochs(6, (i) => ({ train_acc: null, val_acc: null, val_loss: i === 2 ? null : i === 3 ? Number.NaN : 1 / (i + 1) })),
    };
    const r = renderReport([run]);
    expect(r.svgs.accuracy).toBeUndefined();
    const segs = seriesData(r.svgs.loss, "regression — validation");
    expect(segs.map((s) => s.map((p) => p.x))).toEqual(
      [
        [1, 2],
        [5, 6],
      ].map((xs) => xs.map((x) => expect.closeTo(x, 3))),
    );
    const none = renderReport([{ name: "no val", metrics: epochs(3, () => ({ val_loss: null, val_acc: null })) }]);
    expect(seriesData(none.svgs.loss, "no val — validation")).toEqual([]);
    expect(none.svgs.loss).not.toContain("no val — validation");
  });

  it("spreads per-step learning rates over the epochs and puts staircases on a log axis", () => {
    const lrs = Array.from({ length: 40 }, (_, j) => 0.1 * 0.1 ** Math.floor(j / 10));
    const r = renderReport([{ name: "steps", metrics: epochs(4), lrs }]);
    const els = checkWellFormed(r.svgs.lr);
    expect(els.find((e) => e.attrs.class === "plot")!.attrs["data-y-log"]).toBe("1");
    const pts = seriesData(r.svgs.lr, "steps")[0];
    expect(pts.length).toBe(40);
    pts.forEach((p, j) => {
      expect(p.x).toBeCloseTo(1 + j / 10, 3);
      expect(Math.abs(p.y / lrs[j] - 1)).toBeLessThan(1e-3);
    });
    // a smooth schedule stays linear
    const smooth = renderReport([{ name: "cos", metrics: epochs(10, (i) => ({ lr: 0.05 * (1 + Math.cos((Math.PI * i) / 10)) })) }]);
    expect(checkWellFormed(smooth.svgs.lr).find((e) => e.attrs.class === "plot")!.attrs["data-y-log"]).toBe("0");
  });

  it("is deterministic", () => {
    expect(renderReport([runA, runB])).toEqual(rep);
  });
});

// ---- run directories ----------------------------------------------------------------------------

function runDir(files: Record<string, string>, name = "run"): string {
  const dir = join(mkdtempSync(join(tmpdir(), "dnnc-report-")), name);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

/** metrics.jsonl as runtime/node/main.ts writes it (JSON.stringify per epoch, then the final line). */
function metricsJsonl(ms: EpochMetrics[], final = { test_loss: 0.5 as number | null, test_acc: 0.8 as number | null }): string {
  return [...ms.map((m) => JSON.stringify(m)), JSON.stringify(final)].join("\n") + "\n";
}

describe("loadRun / writeReport", () => {
  it("tells runs with the same name apart by their directories", () => {
    const runs = (names: string[]): Run[] => names.map((name) => ({ name, metrics: [] }));
    const a = runs(["mlp", "mlp", "cnn"]);
    disambiguate(a, ["/r/bn", "/r/nobn", "/r/cnn"]);
    expect(a.map((r) => r.name)).toEqual(["mlp (bn)", "mlp (nobn)", "cnn"]);
    const b = runs(["mlp", "mlp"]);
    disambiguate(b, ["/x/a/out", "/x/b/out"]);
    expect(b.map((r) => r.name)).toEqual(["mlp (a/out)", "mlp (b/out)"]);
  });

  it("reads metrics.jsonl, run.json and confusion.json", () => {
    const ms = epochs(5, (i) => ({ train_loss: i === 4 ? Number.NaN : 1 / (i + 1) }));
    const dir = runDir({
      "metrics.jsonl": metricsJsonl(ms),
      "run.json": JSON.stringify({ name: "with bn", bestEpoch: 3, stoppedEarly: true, steps: 40, lrs: [0.1, 0.1, 0.05] }),
      "confusion.json": JSON.stringify({
        matrix: [
          [3, 1],
          [0, 4],
        ],
        classes: ["no", "yes"],
      }),
    });
    const r = loadRun(dir);
    expect(r.name).toBe("with bn");
    expect(r.bestEpoch).toBe(3);
    expect(r.stoppedEarly).toBe(true);
    expect(renderReport([r]).html).toContain("<td>3 <small>(stopped early)</small></td>");
    expect(r.lrs).toEqual([0.1, 0.1, 0.05]);
    expect(r.classes).toEqual(["no", "yes"]);
    expect(r.confusion).toEqual([
      [3, 1],
      [0, 4],
    ]);
    expect(r.final).toEqual({ test_loss: 0.5, test_acc: 0.8 });
    expect(r.metrics.map((m) => m.train_loss)).toEqual([1, 0.5, 1 / 3, 0.25, null]); // NaN was written as null
    expect(r.metrics[2]).toMatchObject({ epoch: 3, val_acc: ms[2].val_acc, lr: ms[2].lr });
  });

  it("names the run after its directory and takes best_epoch from the final line", () => {
    const dir = runDir({ "metrics.jsonl": metricsJsonl(epochs(2)).replace(/\}\n$/, ',"best_epoch":2}\n') }, "dropout-0.3");
    const r = loadRun(dir);
    expect(r.name).toBe("dropout-0.3");
    expect(r.bestEpoch).toBe(2);
  });

  it("reports corrupt input with the file and line", () => {
    const bad = (text: string) => () => parseMetrics(text, "m.jsonl");
    expect(bad('{"epoch":1,"train_loss":1}\n{"epoch":2,"train_lo')).toThrow(/^m\.jsonl:2: not valid JSON/);
    expect(bad('{"epoch":1,"train_loss":1}\n\n[1,2]')).toThrow(/^m\.jsonl:3: expected a JSON object/);
    expect(bad('{"epoch":1,"train_loss":"high"}')).toThrow(/^m\.jsonl:1: "train_loss" must be a number or null/);
    expect(bad('{"epoch":2,"train_loss":1}\n{"epoch":2,"train_loss":1}')).toThrow(/^m\.jsonl:2: epoch 2 does not follow epoch 2/);
    expect(bad('{"epoch":0,"train_loss":1}')).toThrow(/^m\.jsonl:1: "epoch" must be a positive integer/);
    expect(bad('{"loss":1}')).toThrow(/^m\.jsonl:1: neither an epoch line/);
    expect(bad('{"test_loss":1,"test_acc":0.5}\n{"epoch":1,"train_loss":1}')).toThrow(/^m\.jsonl:2: an epoch line after the final/);
    const ok = metricsJsonl(epochs(2));
    expect(() => loadRun(runDir({ "metrics.jsonl": ok, "confusion.json": "[[1,2],[3]]" }))).toThrow(/confusion\.json: row 1 must be a list of 2 counts/);
    expect(() => loadRun(runDir({ "metrics.jsonl": ok, "confusion.json": "[[1,2],[3,-1]]" }))).toThrow(/confusion\.json: entry \[1\]\[1\] must be a count/);
    expect(() => loadRun(runDir({ "metrics.jsonl": ok, "run.json": "{name: 1}" }))).toThrow(/run\.json: not valid JSON/);
    expect(() => loadRun(runDir({ "metrics.jsonl": ok, "run.json": '{"classes":["a"]}', "confusion.json": "[[1,2],[3,4]]" }))).toThrow(
      /"classes" has 1 names for a 2×2/,
    );
    expect(() => loadRun(runDir({ "metrics.jsonl": "\n" }))).toThrow(/metrics\.jsonl: no epoch lines/);
    expect(() => loadRun(runDir({}))).toThrow(/no metrics\.jsonl/);
    expect(() => loadRun(join(tmpdir(), "no-such-run-dir-xyz"))).toThrow(/no such directory/);
  });

  it("writes report.html and one SVG per plot, naming runs with the same directory name by path", () => {
    const base = mkdtempSync(join(tmpdir(), "dnnc-report-"));
    const a = join(base, "bn", "out");
    const b = join(base, "nobn", "out");
    for (const [d, n] of [
      [a, 4],
      [b, 6],
    ] as const) {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, "metrics.jsonl"), metricsJsonl(epochs(n)));
    }
    const outDir = join(base, "report");
    const w = writeReport([a, b], outDir);
    expect(w.html).toBe(join(outDir, "report.html"));
    expect(w.svgs.map((p) => p.slice(outDir.length + 1)).sort()).toEqual(["accuracy.svg", "loss.svg", "lr.svg"]);
    for (const p of w.svgs) {
      expect(existsSync(p)).toBe(true);
      checkWellFormed(readFileSync(p, "utf8"));
    }
    const html = readFileSync(w.html, "utf8");
    checkWellFormed(html, { html: true });
    // both directories are called `out`: the runs are named by the shortest tails that differ
    const series = checkWellFormed(readFileSync(join(outDir, "loss.svg"), "utf8"))
      .filter((e) => e.name === "polyline")
      .map((e) => unescapeXml(e.attrs["data-series"]));
    expect(series.sort()).toEqual(["out (bn/out) — training", "out (bn/out) — validation", "out (nobn/out) — training", "out (nobn/out) — validation"]);
    expect(() => writeReport([], outDir)).toThrow(/no run directories/);
  });
});
