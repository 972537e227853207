// The playground page: the editor with diagnostics on the left, training controls and live
// curves on the right. All compiling-for-training and training happens in src/worker.ts; the page
// only runs the (fast) front end for diagnostics and draws what the worker posts.
import { DEFAULT_SPEC } from "./default-spec";
import { diagnose, type ShownDiagnostic } from "./diagnostics";
import { highlight } from "./highlight";
import { LineChart, type Series } from "./chart";
import type { FromWorker, ToWorker } from "./protocol";

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

// ---- editor and diagnostics ----
let diags: ShownDiagnostic[] = [];
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
}
let timer: ReturnType<typeof setTimeout> | undefined;
editor.addEventListener("input", () => {
  render(); // colours at once, diagnostics debounced
  clearTimeout(timer);
  timer = setTimeout(check, 250);
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
editor.value = DEFAULT_SPEC;
check();

// ---- training ----
const lossChart = new LineChart($("loss-chart"), "training loss (mean over ~1/25 epoch)", { xLabel: "step" });
const accChart = new LineChart($("acc-chart"), "accuracy per epoch", { xLabel: "step", yMin: 0, yMax: 1 });
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
  setState("compiling");
  status.textContent = "starting the worker…";
  worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
  worker.onmessage = (e: MessageEvent<FromWorker>) => onMessage(e.data);
  worker.onerror = (e) => onMessage({ type: "error", message: e.message || "the worker failed to start" });
  const msg: ToWorker = { type: "train", source: editor.value, file: FILE, baseUrl: document.baseURI };
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
