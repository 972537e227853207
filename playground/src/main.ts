// The playground page: the editor with diagnostics on the left, training controls and live
// curves on the right. All compiling-for-training and training happens in src/worker.ts; the page
// only runs the (fast) front end for diagnostics and draws what the worker posts.
import { DEFAULT_SPEC } from "./default-spec";
import { diagnose, type ShownDiagnostic } from "./diagnostics";
import { highlight } from "./highlight";
import { LineChart, type Series } from "./chart";
import type { FromWorker, ToWorker, UploadedCsv } from "./protocol";
import { compileToIr } from "../../compiler/pipeline";
import type { IR } from "../../compiler/ir";
import { networkDiagram } from "./diagram";
import { drawBoundary, renderSamples } from "./model-view";
import { bundledClassNames } from "./datasets";

const FILE = "playground.dnn";
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const editor = $<HTMLTextAreaElement>("editor");
const hl = $<HTMLPreElement>("highlight");
const list = $<HTMLUListElement>("diagnostics");
const count = $<HTMLSpanElement>("diag-count");
const trainBtn = $<HTMLButtonElement>("train");
const stopBtn = $<HTMLButtonElement>("stop");
const status = $<HTMLSpanElement>("status");
const set = (id: string, text: string, value?: number | null) => {
  const el = $(id);
  el.textContent = text;
  if (value !== undefined) el.dataset.value = value === null ? "" : String(value);
};

// ---- the spec kept across visits (localStorage) and shared by link (#spec=...) ----
const STORE_KEY = "dnnc-playground-spec";
/** The spec as base64url of its UTF-8 bytes (fits a URL fragment; nothing is sent to a server). */
export function encodeSpec(text: string): string {
  let bin = "";
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
export function decodeSpec(s: string): string {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}
function initialSpec(): { text: string; from: "link" | "saved" | "default" } {
  const m = /[#&]spec=([A-Za-z0-9_-]*)/.exec(location.hash);
  if (m)
    try {
      return { text: decodeSpec(m[1]), from: "link" };
    } catch {
      // a damaged link: fall back to what this browser kept
    }
  let saved: string | null = null;
  try {
    saved = localStorage.getItem(STORE_KEY);
  } catch {
    // storage disabled (private mode): the default
  }
  return saved !== null ? { text: saved, from: "saved" } : { text: DEFAULT_SPEC, from: "default" };
}
const save = () => {
  try {
    localStorage.setItem(STORE_KEY, editor.value);
  } catch {
    // storage full or disabled: the edit stays on the page only
  }
};

// ---- editor and diagnostics ----
let diags: ShownDiagnostic[] = [];
let ir: IR | undefined; // the last spec without errors, for the diagram and the class names
function render(): void {
  hl.innerHTML = highlight(
    editor.value,
    diags.map((d) => ({ start: d.start, end: d.end, severity: d.severity })),
  );
  hl.scrollTop = editor.scrollTop;
  hl.scrollLeft = editor.scrollLeft;
}
function check(): void {
  const t0 = performance.now();
  diags = diagnose(editor.value, FILE);
  const ms = performance.now() - t0;
  list.replaceChildren(
    ...diags.map((d) => {
      const li = document.createElement("li");
      li.className = d.severity;
      li.dataset.line = String(d.line);
      li.textContent = `${d.line}:${d.col}: ${d.severity} ${d.code}: ${d.message}${d.hint ? `\n  hint: ${d.hint}` : ""}`;
      li.onclick = () => {
        editor.focus();
        editor.setSelectionRange(d.start, d.end);
      };
      return li;
    }),
  );
  const errors = diags.filter((d) => d.severity === "error").length;
  count.textContent =
    errors === 0
      ? `no errors (${diags.length} warning${diags.length === 1 ? "" : "s"}; checked in ${ms.toFixed(1)} ms)`
      : `${errors} error${errors === 1 ? "" : "s"}`;
  count.dataset.errors = String(errors);
  render();
  if (errors === 0) {
    try {
      ir = compileToIr(editor.value, FILE).ir ?? ir;
      if (ir) $("diagram").innerHTML = networkDiagram(ir);
    } catch {
      // the diagnostics above already said what the front end could
    }
  }
}
let timer: ReturnType<typeof setTimeout> | undefined;
editor.addEventListener("input", () => {
  render(); // colours at once, diagnostics debounced
  clearTimeout(timer);
  $("share-url").hidden = true; // the link no longer holds this spec
  timer = setTimeout(() => {
    check();
    save();
  }, 250);
});
editor.addEventListener("scroll", () => {
  hl.scrollTop = editor.scrollTop;
  hl.scrollLeft = editor.scrollLeft;
});
editor.addEventListener("keydown", (e) => {
  if (e.key === "Tab") {
    e.preventDefault();
    const { selectionStart: a, selectionEnd: b } = editor;
    editor.setRangeText("  ", a, b, "end");
    editor.dispatchEvent(new Event("input"));
  }
});
const start = initialSpec();
editor.value = start.text;
document.body.dataset.specFrom = start.from;
check();
$("reset").addEventListener("click", () => {
  editor.value = DEFAULT_SPEC;
  history.replaceState(null, "", location.pathname + location.search);
  check();
  save();
});
$("share").addEventListener("click", () => {
  history.replaceState(null, "", `${location.pathname}${location.search}#spec=${encodeSpec(editor.value)}`);
  const field = $<HTMLInputElement>("share-url");
  field.value = location.href;
  field.hidden = false;
  field.select();
  navigator.clipboard?.writeText(location.href).catch(() => {});
});

// ---- an uploaded CSV (replaces the spec's csv(...) source) ----
let uploaded: UploadedCsv | undefined;
const csvInput = $<HTMLInputElement>("csv-file");
csvInput.addEventListener("change", async () => {
  const f = csvInput.files?.[0];
  if (!f) return;
  uploaded = { name: f.name, text: await f.text() };
  const rows = uploaded.text.split(/\r?\n/).filter((l) => l.trim() !== "").length;
  set("csv-name", `${f.name}: ${rows} lines, used instead of the spec's csv(...) source (20% held out for testing)`);
  $("csv-clear").hidden = false;
});
$("csv-clear").addEventListener("click", () => {
  uploaded = undefined;
  csvInput.value = "";
  set("csv-name", "");
  $("csv-clear").hidden = true;
});

// ---- downloads: the generated trainer, and the weights once trained ----
const offer = (id: string, bytes: BlobPart, file: string, type: string) => {
  const a = $<HTMLAnchorElement>(id);
  if (a.href.startsWith("blob:")) URL.revokeObjectURL(a.href);
  a.href = URL.createObjectURL(new Blob([bytes], { type }));
  a.download = file;
  a.hidden = false;
};

// ---- training ----
const lossChart = new LineChart($("loss-chart"), "training loss (mean over ~1/25 epoch)", { xLabel: "step" });
const accChart = new LineChart($("acc-chart"), "accuracy per epoch", { xLabel: "step", clamp: [0, 1] });
let lossPts: [number, number][] = [];
let trainAcc: [number, number][] = [];
let valAcc: [number, number][] = [];
const drawCharts = () => {
  lossChart.set([{ name: "train loss", color: "#1f77b4", points: lossPts }]);
  const acc: Series[] = [
    { name: "train", color: "#ff7f0e", points: trainAcc },
    { name: "validation", color: "#2ca02c", points: valAcc },
  ];
  accChart.set(acc);
};
let worker: Worker | undefined;
let stopTimer: ReturnType<typeof setTimeout> | undefined;
const setState = (s: "idle" | "compiling" | "training" | "done" | "stopped" | "error") => {
  document.body.dataset.state = s;
  const running = s === "compiling" || s === "training";
  trainBtn.disabled = running;
  stopBtn.disabled = !running;
};

function onMessage(m: FromWorker): void {
  switch (m.type) {
    case "status":
      status.textContent = m.text;
      break;
    case "compiled":
      $("trainer-code").textContent = m.info.trainerTs;
      offer("dl-trainer", m.info.trainerTs, `${ir?.name ?? "playground"}.trainer.ts`, "text/typescript");
      $("compile-info").textContent =
        `compiled: ${m.info.params.toLocaleString("en")} parameters; front end ${m.info.frontMs.toFixed(0)} ms, codegen ${m.info.codegenMs.toFixed(0)} ms, transpile+load ${m.info.transpileMs.toFixed(0)} ms`;
      break;
    case "started":
      setState("training");
      status.textContent = `training on ${m.trainRows} rows (${m.stepsPerEpoch} steps per epoch, ${m.epochs} epochs), backend ${m.backend}`;
      break;
    case "progress":
      lossPts.push(...m.points);
      set("m-step", String(m.step));
      set("m-epoch", String(m.epoch));
      if (m.points.length > 0) {
        const loss = m.points[m.points.length - 1][1];
        set("m-loss", loss.toFixed(4), loss);
      }
      set("m-speed", Math.round(m.samplesPerSec).toLocaleString("en"));
      drawCharts();
      break;
    case "epoch": {
      const e = m.metrics;
      if (e.train_acc !== null) trainAcc.push([m.step, e.train_acc]);
      if (e.val_acc !== null) valAcc.push([m.step, e.val_acc]);
      if (e.val_acc !== null) set("m-acc", `${(e.val_acc * 100).toFixed(2)}%`, e.val_acc);
      drawCharts();
      break;
    }
    case "done":
      clearTimeout(stopTimer);
      setState(m.stopped ? "stopped" : "done");
      if (m.testAcc !== null) set("m-test", `${(m.testAcc * 100).toFixed(2)}%`, m.testAcc);
      status.textContent = m.stopped ? `stopped after ${m.steps} steps (${m.seconds.toFixed(1)} s)` : `done: ${m.steps} steps in ${m.seconds.toFixed(1)} s`;
      worker?.terminate();
      worker = undefined;
      break;
    case "boundary":
      $("boundary-wrap").hidden = false;
      drawBoundary($<HTMLCanvasElement>("boundary"), m);
      break;
    case "samples":
      $("samples-wrap").hidden = false;
      renderSamples($("samples"), m, ir ? bundledClassNames(ir.data.source.path) : undefined);
      break;
    case "weights":
      offer("dl-weights", m.bytes as Uint8Array<ArrayBuffer>, "model.safetensors", "application/octet-stream");
      break;
    case "error":
      setState("error");
      status.textContent = m.diagnostics?.length
        ? `cannot train: ${m.diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`).join("; ")}`
        : `error: ${m.message}`;
      worker?.terminate();
      worker = undefined;
      break;
  }
}

trainBtn.addEventListener("click", () => {
  worker?.terminate();
  lossPts = [];
  trainAcc = [];
  valAcc = [];
  for (const id of ["m-step", "m-epoch", "m-loss", "m-speed", "m-acc", "m-test"]) set(id, "–", null);
  drawCharts();
  $("dl-weights").hidden = true;
  $("boundary-wrap").hidden = true;
  $("samples-wrap").hidden = true;
  setState("compiling");
  status.textContent = "starting the worker…";
  worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
  worker.onmessage = (e: MessageEvent<FromWorker>) => onMessage(e.data);
  worker.onerror = (e) => onMessage({ type: "error", message: e.message || "the worker failed to start" });
  const msg: ToWorker = { type: "train", source: editor.value, file: FILE, baseUrl: document.baseURI, ...(uploaded ? { csv: uploaded } : {}) };
  worker.postMessage(msg);
});
stopBtn.addEventListener("click", () => {
  if (!worker) return;
  worker.postMessage({ type: "stop" } satisfies ToWorker);
  status.textContent = "stopping…";
  // the worker answers within one slice; if it does not (compiling, loading), end it
  const w = worker;
  stopTimer = setTimeout(() => {
    if (worker !== w) return;
    w.terminate();
    worker = undefined;
    setState("stopped");
    status.textContent = "stopped";
  }, 1500);
});
window.addEventListener("resize", drawCharts);
drawCharts();
