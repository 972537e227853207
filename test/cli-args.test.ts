// The argument layer of `dnnc` (compiler/cli.ts on commander): help for every verb, exit code 2
// with one line naming the bad value for every kind of usage error, --json documents that parse,
// no escape codes under NO_COLOR or off a terminal, --quiet silent on success, --verbose timings.
// Help and usage errors run in process (main() rejects with the DnncError entry.ts prints); the
// rest spawns the built CLI (bin/dnnc.mjs → dist/cli.mjs; rebuild with `node scripts/build.mjs`).
import { afterEach, describe, expect, it, vi } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildProgram, main } from "../compiler/cli";
import { colorAllowed } from "../compiler/cli/io";
import { DnncError } from "../runtime/errors";
import { DNNC_VERSION } from "../compiler/version";

const VERBS = ["check", "compile", "train", "test", "generate", "predict", "evaluate", "augment-preview", "report", "runs", "search", "export", "lsp"];
const tmp = mkdtempSync(join(tmpdir(), "dnnc-cli-args-"));
const ESC = /\x1b\[/;

const dnnc = (args: string[], env: Record<string, string | undefined> = {}) =>
  spawnSync(process.execPath, ["bin/dnnc.mjs", ...args], { encoding: "utf8", env: { ...process.env, ...env } });

/** The same, without blocking: the --json tests run concurrently (each spawns a CLI). */
function dnncAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const p = spawn(process.execPath, ["bin/dnnc.mjs", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    p.on("error", fail);
    p.on("close", (status) => done({ status, stdout, stderr }));
  });
}

/** main(argv) in process; stdout captured. Resolves to the exit code, or the usage error. */
async function run(argv: string[]): Promise<{ code: number; out: string; error?: DnncError }> {
  let out = "";
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  try {
    return { code: await main(argv), out };
  } catch (e) {
    if (!(e instanceof DnncError)) throw e;
    return { code: e.exitCode, out, error: e };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe("help", () => {
  it("the program lists every verb, and every verb documents each of its options", () => {
    const program = buildProgram(() => {});
    const names = program.commands.map((c) => c.name());
    expect(names).toEqual(VERBS);
    for (const c of program.commands) {
      expect(c.description().length, c.name()).toBeGreaterThan(10);
      for (const o of c.options) expect(o.description.length, `${c.name()} ${o.flags}`).toBeGreaterThan(3);
      for (const a of c.registeredArguments) expect(a.description.length, `${c.name()} <${a.name()}>`).toBeGreaterThan(3);
    }
  });

  it.each(VERBS)("dnnc %s --help, and dnnc help VERB: usage, options, global options, an example; exit 0", async (verb) => {
    const a = await run([verb, "--help"]);
    expect(a.code).toBe(0);
    expect(a.out).toContain(`Usage: dnnc ${verb}`);
    expect(a.out).toContain("Global Options:");
    expect(a.out).toContain("--verbose");
    expect(a.out).toMatch(new RegExp(`Examples?:\\n  \\$ dnnc ${verb}`));
    const b = await run(["help", verb]);
    expect(b.code).toBe(0);
    expect(b.out).toBe(a.out);
  });

  it("defaults are shown", async () => {
    expect((await run(["compile", "--help"])).out).toMatch(/--out <dir>\s+output directory \(default: "out"\)/);
    const train = (await run(["train", "--help"])).out;
    expect(train).toMatch(/choices: "auto", "wasm", "ts",\s+default:\s+"auto"/);
    expect(train).toMatch(/--epochs <n>\s+number of epochs \(default: the spec's\)/);
    expect((await run(["augment-preview", "--help"])).out).toMatch(/default: 8\)/);
  });

  it("dnnc --help lists the verbs and exit codes; dnnc alone prints help and exits 2; --version", async () => {
    const h = await run(["--help"]);
    expect(h.code).toBe(0);
    for (const v of VERBS) expect(h.out).toMatch(new RegExp(`\\n  ${v} `));
    expect(h.out).toContain("Exit codes: 0 ok, 1 diagnostics");
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    expect((await run([])).code).toBe(2);
    expect(stderr).toHaveBeenCalled();
    const v = await run(["--version"]);
    expect(v.code).toBe(0);
    expect(v.out.trim()).toBe(DNNC_VERSION);
  });
});

describe("usage errors: exit 2, one line naming the value, the hint to the verb's help", () => {
  const cases: [string[], RegExp, string | undefined][] = [
    [["frobnicate"], /unknown command "frobnicate"/, undefined],
    [["chek", "x.dnn"], /unknown command "chek"; did you mean check\?/, undefined],
    [["train", "specs/fashion-mlp.dnn", "--epochs", "-3"], /'--epochs <n>' argument '-3' is invalid\. expected an integer >= 1/, "train"],
    [["train", "specs/fashion-mlp.dnn", "--epochs", "2.5"], /argument '2\.5' is invalid/, "train"],
    [["train", "specs/fashion-mlp.dnn", "--threads", "x"], /'--threads <n>' argument 'x' is invalid\. expected an integer in \[1, 64\]/, "train"],
    [["train", "specs/fashion-mlp.dnn", "--backend", "foo"], /'--backend <kind>' argument 'foo' is invalid\. Allowed choices are auto, wasm, ts/, "train"],
    [["train", "specs/fashion-mlp.dnn", "--seed"], /option '--seed <n>' argument missing/, "train"],
    [["train"], /missing required argument 'spec'/, "train"],
    [["compile", "a.dnn", "b.dnn"], /too many arguments for 'compile'/, "compile"],
    [["compile", "specs/fashion-mlp.dnn", "--emit", "xml"], /'--emit <what>' argument 'xml' is invalid/, "compile"],
    [["compile", "specs/fashion-mlp.dnn", "--target", "onnx"], /argument 'onnx' is invalid/, "compile"],
    [["check", "--bogus", "specs/fashion-mlp.dnn"], /unknown option '--bogus'/, "check"],
    [["check", "--jsno", "specs/fashion-mlp.dnn"], /unknown option '--jsno'; did you mean --json\?/, "check"],
    [["check"], /missing required argument 'spec'/, "check"],
    [["predict", "runs/x"], /required option '-i, --input <file>' not specified/, "predict"],
    [["augment-preview", "specs/fashion-cnn-aug.dnn", "--samples", "100"], /argument '100' is invalid\. expected an integer in \[1, 64\]/, "augment-preview"],
    [["search", "specs/trick-search.dnn", "--parallel", "0"], /'--parallel <n>' argument '0' is invalid/, "search"],
    [["report"], /missing required argument 'run'/, "report"],
    [["export", "runs/x", "--format", "tflite"], /argument 'tflite' is invalid\. Allowed choices are onnx/, "export"],
    [["predict", "run1", "run2", "--input", "x.csv"], /too many arguments for 'predict'/, "predict"],
  ];
  it.each(cases)("dnnc %j", async (argv, message, verb) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.error!.message).toMatch(message);
    expect(r.error!.message).not.toContain("\n");
    expect(r.error!.message).toMatch(new RegExp(`\\(run dnnc ${verb ? verb + " " : ""}--help\\)$`));
  });

  it("lsp accepts the flags LSP clients add", async () => {
    const program = buildProgram(() => {});
    const lsp = program.commands.find((c) => c.name() === "lsp")!;
    lsp.exitOverride();
    lsp.action(() => {});
    await program.parseAsync(["lsp", "--stdio", "--clientProcessId=42"], { from: "user" });
    expect(lsp.opts().stdio).toBe(true);
  });

  it("end to end: exit status 2, the line on stderr with no stack trace, nothing on stdout", () => {
    const r = dnnc(["train", "specs/fashion-mlp.dnn", "--epochs", "-3"]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("error: option '--epochs <n>' argument '-3' is invalid. expected an integer >= 1 (run dnnc train --help)\n");
  });
});

describe.concurrent("--json", async () => {
  it("check: one document with file/line/col/code/message per diagnostic", async () => {
    const bad = await dnncAsync(["check", "--json", "specs/errors/typo-layer.dnn", "specs/fashion-mlp.dnn", "specs/nope.dnn"]);
    expect(bad.status).toBe(1);
    const doc = JSON.parse(bad.stdout);
    expect(doc.ok).toBe(false);
    expect(doc.files.map((f: { ok: boolean }) => f.ok)).toEqual([false, true, false]);
    expect(doc.files[0].diagnostics[0]).toMatchObject({ file: "specs/errors/typo-layer.dnn", line: 4, col: 17, code: "E0201", severity: "error" });
    expect(doc.files[0].diagnostics[0].message).toContain("rellu");
    expect(doc.files[2].error).toContain("no such file");
    expect(bad.stdout.trim().split("\n")).toHaveLength(1);
    const good = await dnncAsync(["check", "specs/fashion-mlp.dnn", "--json"]);
    expect(good.status).toBe(0);
    expect(JSON.parse(good.stdout)).toEqual({ ok: true, errors: 0, warnings: 0, files: [{ file: "specs/fashion-mlp.dnn", ok: true, diagnostics: [] }] });
  });

  it("compile: the files written and the memory report", async () => {
    const out = join(tmp, "compiled");
    const r = await dnncAsync(["compile", "specs/fashion-mlp.dnn", "-o", out, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ ok: true, spec: "specs/fashion-mlp.dnn", target: "ts" });
    for (const k of ["ts", "mjs", "ir"]) expect(existsSync(doc.files[k]), k).toBe(true);
    expect(doc.memory.heapBytes).toBe(doc.memory.heapFloats * 4);
    expect(doc.memory.params).toBeGreaterThan(100_000);
    expect(doc.memory.report[0]).toMatch(/^memory of /);
  });

  it("train (JSON lines), then predict and export on its run directory", async () => {
    const runDir = join(tmp, "run");
    const t = await dnncAsync(["train", "specs/fashion-mlp.dnn", "--epochs", "1", "--max-steps", "3", "--out", runDir, "--no-report", "--json"]);
    expect(t.status, t.stderr).toBe(0);
    const lines = t.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[0]).toHaveProperty("train_loss");
    expect(lines.at(-2)).toHaveProperty("test_acc");
    expect(lines.at(-1)).toMatchObject({ run: runDir, files: { model: join(runDir, "model.safetensors") } });

    const p = await dnncAsync(["predict", runDir, "--input", "specs/data/fashion-mnist-small/t10k-images-idx3-ubyte.gz", "--json"]);
    expect(p.status, p.stderr).toBe(0);
    const pd = JSON.parse(p.stdout);
    expect(pd).toMatchObject({ ok: true, run: runDir, n: 1000 });
    expect(pd.predictions).toHaveLength(1000);
    expect(pd.predictions[0]).toEqual({ index: 0, class: expect.any(Number), probability: expect.any(Number) });

    const rep = await dnncAsync(["report", runDir, "-o", join(tmp, "rep"), "--json"]);
    expect(rep.status, rep.stderr).toBe(0);
    const rd = JSON.parse(rep.stdout);
    expect(rd).toMatchObject({ ok: true, runs: [runDir], html: join(tmp, "rep", "report.html") });
    expect(rd.svgs.length).toBeGreaterThan(0);
    for (const f of [rd.html, ...rd.svgs]) expect(existsSync(f), f).toBe(true);

    const onnx = join(tmp, "m.onnx");
    const e = await dnncAsync(["export", runDir, "-o", onnx, "--json"]);
    expect(e.status, e.stderr).toBe(0);
    expect(e.stdout.trim().split("\n")).toHaveLength(1);
    expect(JSON.parse(e.stdout)).toMatchObject({ file: onnx, format: "onnx" });
    expect(existsSync(onnx)).toBe(true);
  });

  it("test: per spec pass/fail with the difference", async () => {
    const d = join(tmp, "gold");
    mkdirSync(d, { recursive: true });
    const spec = readFileSync("specs/fashion-mlp.dnn", "utf8")
      .replace('idx("data/fashion-mnist-small")', `idx("${resolve("specs/data/fashion-mnist-small")}")`)
      .replace("  seed 42", "  seed 42\n  golden(steps=2, tolerance=1e-5)");
    writeFileSync(join(d, "g.dnn"), spec);
    writeFileSync(join(d, "g.golden.json"), JSON.stringify({ spec: "g.dnn", steps: 2, lossTrace: [100, 100], test_loss: null, test_acc: null }));
    const r = await dnncAsync(["test", join(d, "g.dnn"), "specs/errors/typo-layer.dnn", "--json"]);
    expect(r.status).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ ok: false, passed: 0, failed: 2 });
    expect(doc.results[0]).toMatchObject({ spec: join(d, "g.dnn"), ok: false, diff: { step: 1, want: 100, tolerance: 1e-5 } });
    expect(doc.results[1].message).toContain("unknown layer");
  });

  it("search: JSON lines, one per trial, then the summary with the leaderboard", async () => {
    const d = join(tmp, "search");
    mkdirSync(d, { recursive: true });
    for (const f of ["train.csv", "test.csv"]) writeFileSync(join(d, f), readFileSync(join("specs/data/two-moons", f)));
    writeFileSync(
      join(d, "s.dnn"),
      `model s {\n input [2]\n dense(4) -> relu\n dense(2)\n loss softmax_cross_entropy\n}\ndata {\n source csv(".")\n validation 0.2\n}\ntrain {\n seed 1\n batch 32\n epochs 1\n optimizer sgd(lr=0.1)\n}\nsearch {\n trials 2\n parallel 1\n train.optimizer.lr: loguniform(1e-3, 1)\n}\n`,
    );
    const r = await dnncAsync(["search", join(d, "s.dnn"), "-o", join(d, "out"), "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.event)).toEqual(["trial", "trial", "summary"]);
    expect(lines[0]).toMatchObject({ done: 1, total: 2, status: "ok", config: { "train.optimizer.lr": expect.any(Number) } });
    expect(lines[2]).toMatchObject({ ok: true, objective: { metric: "val_loss", mode: "min" }, trials: 2, wrote: join(d, "out", "best.dnn") });
    expect(lines[2].leaderboard).toHaveLength(2);
  });

  it("a user error under --json is still one document on stdout, and the message on stderr", async () => {
    const r = await dnncAsync(["predict", join(tmp, "no-such-run"), "--input", "x.csv", "--json"]);
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({ ok: false, error: `${join(tmp, "no-such-run")}: no such run directory` });
    expect(r.stderr).toContain("no such run directory");
    const c = await dnncAsync(["compile", "specs/errors/typo-layer.dnn", "-o", join(tmp, "never"), "--json"]);
    expect(c.status).toBe(1);
    const cd = JSON.parse(c.stdout);
    expect(cd).toMatchObject({ ok: false, error: "specs/errors/typo-layer.dnn: compilation failed" });
    expect(cd.diagnostics[0]).toMatchObject({ line: 4, col: 17, code: "E0201" });
  });
});

describe("colours, --quiet, --verbose", () => {
  it("colours only on a terminal without NO_COLOR (or TERM=dumb)", () => {
    expect(colorAllowed({ isTTY: true }, { TERM: "xterm" })).toBe(true);
    expect(colorAllowed({ isTTY: true }, { TERM: "xterm", NO_COLOR: "1" })).toBe(false);
    expect(colorAllowed({ isTTY: true }, { TERM: "xterm", NO_COLOR: "" })).toBe(true);
    expect(colorAllowed({ isTTY: true }, { TERM: "dumb" })).toBe(false);
    expect(colorAllowed({ isTTY: false }, { TERM: "xterm" })).toBe(false);
    expect(colorAllowed({}, {})).toBe(false);
  });

  it("no escape codes when the output is a pipe", () => {
    const r = dnnc(["check", "specs/errors/typo-layer.dnn"], { NO_COLOR: undefined, TERM: "xterm" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("unknown layer");
    expect(r.stderr).not.toMatch(ESC);
  });

  const hasScript = existsSync("/usr/bin/script");
  it.runIf(hasScript)("on a terminal (script(1)): colours, and none under NO_COLOR", () => {
    const tty = (env: Record<string, string | undefined>) =>
      spawnSync("/usr/bin/script", ["-qec", `${process.execPath} bin/dnnc.mjs check specs/errors/typo-layer.dnn`, "/dev/null"], {
        encoding: "utf8",
        env: { ...process.env, TERM: "xterm", ...env },
      }).stdout;
    expect(tty({ NO_COLOR: undefined })).toMatch(ESC);
    const plain = tty({ NO_COLOR: "1" });
    expect(plain).toContain("unknown layer");
    expect(plain).not.toMatch(ESC);
  });

  it("a closed pipe (dnnc --help | true: the reader is gone before dnnc writes) ends quietly, without an EPIPE stack", () => {
    const r = spawnSync("/bin/sh", ["-c", `"${process.execPath}" bin/dnnc.mjs --help | true`], { encoding: "utf8" });
    expect(r.stderr).toBe("");
  });

  it("--quiet prints nothing on success (before or after the verb), errors still", () => {
    for (const argv of [
      ["--quiet", "check", "specs/fashion-mlp.dnn"],
      ["check", "specs/fashion-mlp.dnn", "-q"],
    ]) {
      const r = dnnc(argv);
      expect(r.status).toBe(0);
      expect(r.stdout + r.stderr).toBe("");
    }
    const bad = dnnc(["check", "specs/errors/typo-layer.dnn", "--quiet"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("error[E0201]");
  });

  it("--verbose: timings and paths on stderr, stdout unchanged", () => {
    const r = dnnc(["check", "specs/fashion-mlp.dnn", "--verbose"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("specs/fashion-mlp.dnn: ok\n");
    expect(r.stderr).toMatch(/^dnnc: check specs\/fashion-mlp\.dnn: \d+\.\d ms$/m);
    expect(r.stderr).toMatch(/^dnnc: startup \d+\.\d ms/m);
  });
});
