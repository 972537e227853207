// report.html in a real browser: headless Chromium renders it to a PNG with no console errors, and
// its DOM holds the plots with the run names as text (not as markup). Skipped, with one line on
// stderr, when /usr/bin/chromium is absent (`apt-get install -y chromium` to run it).
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { writeReport } from "../compiler/report";

const CHROMIUM = "/usr/bin/chromium";
const have = existsSync(CHROMIUM);
if (!have) process.stderr.write(`report-chromium: skipped, ${CHROMIUM} not found (apt-get install -y chromium)\n`);

function chromium(args: string[], page: string, work: string): { stdout: string; stderr: string } {
  const r = spawnSync(
    CHROMIUM,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--user-data-dir=${join(work, "profile")}`,
      "--enable-logging=stderr",
      "--v=0",
      ...args,
      pathToFileURL(page).href,
    ],
    { encoding: "utf8", timeout: 60_000 },
  );
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr };
}

/** Console messages as Chromium logs them with --enable-logging: `...:INFO:CONSOLE:1] "msg", source: ...`. */
const consoleLines = (stderr: string) => stderr.split("\n").filter((l) => /:CONSOLE[:(]/.test(l));

describe.skipIf(!have)("report.html in headless Chromium", () => {
  const work = mkdtempSync(join(tmpdir(), "dnnc-chromium-"));
  const run = (name: string, n: number, extra: Record<string, string> = {}, k = 1) => {
    const dir = join(work, name);
    mkdirSync(dir, { recursive: true });
    const lines = Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        epoch: i + 1,
        train_loss: k / (i + 1),
        train_acc: 0.6 + 0.03 * i * k,
        val_loss: (1.1 * k) / (i + 1) + 0.05,
        val_acc: 0.58 + 0.025 * i,
        lr: 0.1 * 0.9 ** i,
        seconds: 1,
      }),
    );
    lines.push(JSON.stringify({ test_loss: 0.3, test_acc: 0.9 }));
    writeFileSync(join(dir, "metrics.jsonl"), lines.join("\n") + "\n");
    for (const [f, t] of Object.entries(extra)) writeFileSync(join(dir, f), t);
    return dir;
  };

  it("detects console errors (control page)", () => {
    const page = join(work, "bad.html");
    writeFileSync(page, `<!DOCTYPE html><html><body><script>console.error("control-error-17")</script></body></html>`);
    const { stderr } = chromium(["--dump-dom"], page, work);
    expect(consoleLines(stderr).join("\n")).toContain("control-error-17");
  });

  it("renders the report to a non-empty PNG with no console errors and the plots in the DOM", () => {
    const a = run("bn", 8, {
      "run.json": JSON.stringify({ name: `BN <img src=x onerror="console.error('xss')">`, bestEpoch: 6 }),
      "confusion.json": JSON.stringify({
        matrix: [
          [9, 1, 0],
          [2, 7, 1],
          [0, 1, 9],
        ],
        classes: ["cat", "dog", "<bird>"],
      }),
    });
    const b = run("nobn", 10, {}, 0.8);
    const out = join(work, "report");
    const { html } = writeReport([a, b], out);

    const png = join(work, "shot.png");
    const shot = chromium([`--screenshot=${png}`, "--window-size=1200,1600", "--hide-scrollbars"], html, work);
    expect(consoleLines(shot.stderr)).toEqual([]);
    expect(existsSync(png)).toBe(true);
    expect(statSync(png).size).toBeGreaterThan(10_000);
    const head = readFileSync(png).subarray(0, 8);
    expect([...head]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

    const dom = chromium(["--dump-dom"], html, work);
    expect(consoleLines(dom.stderr)).toEqual([]);
    expect((dom.stdout.match(/<svg /g) ?? []).length).toBe(5); // loss (linear and log), accuracy, lr, confusion
    expect(dom.stdout).not.toMatch(/<img/); // the run name stayed text
    expect((dom.stdout.match(/<script/g) ?? []).length).toBe(1); // the page's own, constant script
    expect(dom.stdout).toContain("BN &lt;img src=x onerror=\"console.error('xss')\"&gt;");
    expect((dom.stdout.match(/<polyline /g) ?? []).length).toBeGreaterThanOrEqual(4 + 4 + 2);
  });
});
