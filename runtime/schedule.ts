// Learning-rate schedules. `learningRate(schedule, step, epoch, state)` is a pure function; the
// only schedule with memory is reduce-on-plateau, whose state is a small JSON-serializable object
// (save it in checkpoints) advanced by `observeMetric` once per evaluation.
//
// Counter. Every schedule counts either epochs or optimizer steps: `per: "epoch"` (the DEFAULT,
// as PyTorch's and Keras' schedulers are stepped once per epoch) or `per: "step"`. With k that
// counter (0-based: k = 0 during the first epoch / for the first optimizer step), the rate is the
// one PyTorch's scheduler reports after k calls to scheduler.step(). The warm-up counts in the
// same unit as its schedule.
//
// Formulas (lr0 = `lr`, the initial rate):
//   constant      lr0
//   inverse_time  lr0 / (1 + decay * k)                                  ("1/t" decay)
//   exponential   lr0 * gamma^k, or lr0 * exp(-beta * k) when beta is given (ExponentialLR)
//   step          lr0 * gamma^floor(k / every); `factor: 10` means gamma = 1/10 ("staircase",
//                 StepLR(step_size=every, gamma))
//   multistep     lr0 * gamma^(number of milestones <= k)                  (MultiStepLR)
//   cosine        etaMin + (lr0 - etaMin) (1 + cos(pi k / tMax)) / 2        (CosineAnnealingLR;
//                 periodic past tMax, like PyTorch's)
//   cosine_restarts  the same within each period; periods t0, t0*tMult, t0*tMult^2, ...
//                 (SGDR, CosineAnnealingWarmRestarts; tMult an integer >= 1)
//   plateau       ReduceLROnPlateau: the current rate lives in `state`, see observeMetric
// Warm-up (optional, any kind): for k < W the rate is lr0 * (startFactor + (1 - startFactor) k / W)
// (LinearLR(start_factor, total_iters=W)); from k = W on the schedule runs with its counter
// shifted to k - W, i.e. it starts at lr0 when warm-up ends (SequentialLR([LinearLR, main],
// milestones=[W])). For plateau, the warm-up factor multiplies the state's rate while k < W, and
// evaluations during warm-up still update the state.

export interface Warmup {
  /** Length W in the schedule's unit (epochs or steps). */
  length: number;
  /** Factor at k = 0 (PyTorch LinearLR default 1/3; ours defaults to 0: start from zero). */
  startFactor?: number;
}

interface Common {
  /** Initial learning rate lr0. */
  lr: number;
  /** What k counts. Default "epoch". */
  per?: "epoch" | "step";
  warmup?: Warmup;
}

export type Schedule = Common &
  (
    | { kind: "constant" }
    | { kind: "inverse_time"; decay: number }
    | { kind: "exponential"; gamma?: number; beta?: number }
    | { kind: "step"; every: number; gamma?: number; factor?: number }
    | { kind: "multistep"; milestones: number[]; gamma: number }
    | { kind: "cosine"; tMax: number; etaMin?: number }
    | { kind: "cosine_restarts"; t0: number; tMult?: number; etaMin?: number }
    | {
        kind: "plateau";
        mode?: "min" | "max"; // default "min"
        factor?: number; // default 0.1
        patience?: number; // default 10
        threshold?: number; // default 1e-4
        thresholdMode?: "rel" | "abs"; // default "rel"
        cooldown?: number; // default 0
        minLr?: number; // default 0
        eps?: number; // default 1e-8: reductions smaller than this are ignored
      }
  );

/** JSON-serializable state. Only reduce-on-plateau uses it; `best` is null before any evaluation. */
export interface ScheduleState {
  lr: number;
  best: number | null;
  numBad: number;
  cooldownCounter: number;
}

export function initialScheduleState(s: Schedule): ScheduleState {
  return { lr: s.lr, best: null, numBad: 0, cooldownCounter: 0 };
}

/** The counter k of a schedule for the given (0-based) optimizer step and epoch. */
export function scheduleCounter(s: Schedule, step: number, epoch: number): number {
  return (s.per ?? "epoch") === "step" ? step : epoch;
}

/**
 * The learning rate to use for optimizer step `step` (0-based) taken during epoch `epoch`
 * (0-based). Pure: `state` is read (plateau only), never written.
 */
export function learningRate(s: Schedule, step: number, epoch: number, state?: ScheduleState): number {
  let k = scheduleCounter(s, step, epoch);
  const w = s.warmup;
  if (w && w.length > 0) {
    const f0 = w.startFactor ?? 0;
    const base = s.kind === "plateau" ? (state ?? initialScheduleState(s)).lr : s.lr;
    if (k < w.length) return base * (f0 + ((1 - f0) * k) / w.length);
    k -= w.length;
  }
  return afterWarmup(s, k, state);
}

function afterWarmup(s: Schedule, k: number, state?: ScheduleState): number {
  const lr0 = s.lr;
  switch (s.kind) {
    case "constant":
      return lr0;
    case "inverse_time":
      return lr0 / (1 + s.decay * k);
    case "exponential":
      return s.beta !== undefined ? lr0 * Math.exp(-s.beta * k) : lr0 * Math.pow(s.gamma ?? 1, k);
    case "step": {
      const gamma = s.gamma ?? (s.factor !== undefined ? 1 / s.factor : 0.1);
      return lr0 * Math.pow(gamma, Math.floor(k / s.every));
    }
    case "multistep": {
      let passed = 0;
      for (const m of s.milestones) if (k >= m) passed++;
      return lr0 * Math.pow(s.gamma, passed);
    }
    case "cosine": {
      const etaMin = s.etaMin ?? 0;
      return etaMin + ((lr0 - etaMin) * (1 + Math.cos((Math.PI * k) / s.tMax))) / 2;
    }
    case "cosine_restarts": {
      const etaMin = s.etaMin ?? 0,
        mult = s.tMult ?? 1;
      let tCur = k,
        tI = s.t0;
      if (mult === 1) tCur = k % s.t0;
      else
        while (tCur >= tI) {
          tCur -= tI;
          tI *= mult;
        }
      return etaMin + ((lr0 - etaMin) * (1 + Math.cos((Math.PI * tCur) / tI))) / 2;
    }
    case "plateau":
      return (state ?? initialScheduleState(s)).lr;
  }
}

/**
 * Feed one evaluation of the monitored value (validation loss, accuracy...) to the schedule.
 * For reduce-on-plateau this advances `state` in place with PyTorch ReduceLROnPlateau.step(value)
 * semantics and returns true when the rate was reduced; for every other kind it does nothing.
 * A NaN value never counts as an improvement.
 */
export function observeMetric(s: Schedule, state: ScheduleState, value: number): boolean {
  if (s.kind !== "plateau") return false;
  const mode = s.mode ?? "min",
    th = s.threshold ?? 1e-4,
    rel = (s.thresholdMode ?? "rel") === "rel";
  let better: boolean;
  if (state.best === null) better = !Number.isNaN(value) && value !== (mode === "min" ? Infinity : -Infinity);
  else {
    const b = state.best;
    if (mode === "min") better = rel ? value < b * (1 - th) : value < b - th;
    else better = rel ? value > b * (th + 1) : value > b + th;
  }
  if (better) {
    state.best = value;
    state.numBad = 0;
  } else state.numBad++;
  if (state.cooldownCounter > 0) {
    state.cooldownCounter--;
    state.numBad = 0;
  }
  if (state.numBad > (s.patience ?? 10)) {
    state.cooldownCounter = s.cooldown ?? 0;
    state.numBad = 0;
    const old = state.lr;
    const next = Math.max(old * (s.factor ?? 0.1), s.minLr ?? 0);
    if (old - next > (s.eps ?? 1e-8)) {
      state.lr = next;
      return true;
    }
  }
  return false;
}

/** What is wrong with a schedule, as messages naming the field (empty when valid). */
export function scheduleConfigErrors(s: Schedule): string[] {
  const errs: string[] = [];
  const need = (ok: boolean, msg: string) => {
    if (!ok) errs.push(`${s.kind}: ${msg}`);
  };
  const posInt = (v: number) => Number.isInteger(v) && v > 0;
  need(s.lr >= 0 && Number.isFinite(s.lr), `lr must be >= 0, got ${s.lr}`);
  if (s.per !== undefined) need(s.per === "epoch" || s.per === "step", `per must be "epoch" or "step"`);
  if (s.warmup) {
    need(Number.isInteger(s.warmup.length) && s.warmup.length >= 0, `warm-up length must be an integer >= 0`);
    const f0 = s.warmup.startFactor ?? 0;
    need(f0 >= 0 && f0 <= 1, `warm-up startFactor must be in [0, 1], got ${f0}`);
  }
  switch (s.kind) {
    case "constant":
      break;
    case "inverse_time":
      need(s.decay >= 0, `decay must be >= 0, got ${s.decay}`);
      break;
    case "exponential":
      need((s.gamma === undefined) !== (s.beta === undefined), "give exactly one of gamma and beta");
      if (s.gamma !== undefined) need(s.gamma > 0, `gamma must be > 0, got ${s.gamma}`);
      break;
    case "step":
      need(posInt(s.every), `every must be a positive integer, got ${s.every}`);
      need(!(s.gamma !== undefined && s.factor !== undefined), "give gamma or factor, not both");
      if (s.factor !== undefined) need(s.factor > 0, `factor must be > 0, got ${s.factor}`);
      break;
    case "multistep":
      need(
        s.milestones.every((m, i) => Number.isInteger(m) && m >= 0 && (i === 0 || m > s.milestones[i - 1])),
        "milestones must be increasing integers >= 0",
      );
      break;
    case "cosine":
      need(s.tMax > 0, `tMax must be > 0, got ${s.tMax}`);
      break;
    case "cosine_restarts":
      need(posInt(s.t0), `t0 must be a positive integer, got ${s.t0}`);
      need(posInt(s.tMult ?? 1), `tMult must be an integer >= 1, got ${s.tMult}`);
      break;
    case "plateau":
      need((s.factor ?? 0.1) < 1 && (s.factor ?? 0.1) >= 0, `factor must be in [0, 1), got ${s.factor}`);
      need(Number.isInteger(s.patience ?? 10) && (s.patience ?? 10) >= 0, "patience must be an integer >= 0");
      need(Number.isInteger(s.cooldown ?? 0) && (s.cooldown ?? 0) >= 0, "cooldown must be an integer >= 0");
      need((s.threshold ?? 1e-4) >= 0, "threshold must be >= 0");
      need((s.minLr ?? 0) >= 0, "minLr must be >= 0");
      break;
    default:
      errs.push(`unknown schedule kind ${JSON.stringify((s as { kind: unknown }).kind)}`);
  }
  return errs;
}
