// PyTorch target, part 2: the learning-rate schedule as a small Python function with the same
// closed form as runtime/schedule.ts (as configured by scheduleConfig in runtime/train-loop.ts),
// each formula named after the torch.optim.lr_scheduler class it equals. Reduce-on-plateau keeps
// its state in a small class with ReduceLROnPlateau's rules (the same as observeMetric).
import type { IR } from "../ir";
import { py, UnsupportedConstruct } from "./py-model";

export function emitPySchedule(ir: IR): string {
  const s = ir.train.schedule;
  const a = s.args as Record<string, number & number[]>;
  const lr0 = ir.train.optimizer.lr;
  const unit = s.per === "step" ? "optimizer steps" : "epochs";
  let body: string[];
  switch (s.kind) {
    case "constant":
      body = [`return LR0  # constant`];
      break;
    case "inverse_time":
      body = [`return LR0 / (1 + ${py(a.decay)} * k)  # 1/t decay`];
      break;
    case "exponential":
      body = [`return LR0 * ${py(a.gamma)} ** k  # ExponentialLR(gamma=${a.gamma})`];
      break;
    case "step":
      body = [`return LR0 * ${py(a.factor)} ** (k // ${py(a.every)})  # StepLR(step_size=${a.every}, gamma=${a.factor})`];
      break;
    case "multistep":
      body = [`return LR0 * ${py(a.gamma)} ** sum(1 for m in ${py(a.milestones)} if k >= m)  # MultiStepLR`];
      break;
    case "cosine": {
      // without t_max the period is the whole run: its epochs (--epochs included), or its steps with
      // schedule_per step (as runtime/train-loop.ts scheduleConfig)
      const tMax = a.t_max !== undefined ? py(a.t_max) : "horizon";
      const etaMin = a.eta_min ?? 0;
      body = [`return ${py(etaMin)} + (LR0 - ${py(etaMin)}) * (1 + math.cos(math.pi * k / ${tMax})) / 2  # CosineAnnealingLR(T_max=${tMax})`];
      break;
    }
    case "cosine_restarts": {
      const etaMin = a.eta_min ?? 0;
      const mult = a.t_mult ?? 1;
      body = [
        `# CosineAnnealingWarmRestarts(T_0=${a.t_0}, T_mult=${mult}, eta_min=${etaMin})`,
        `t_cur, t_i = k, ${py(a.t_0)}`,
        ...(mult === 1 ? [`t_cur = k % ${py(a.t_0)}`] : [`while t_cur >= t_i:`, `    t_cur -= t_i`, `    t_i *= ${py(mult)}`]),
        `return ${py(etaMin)} + (LR0 - ${py(etaMin)}) * (1 + math.cos(math.pi * t_cur / t_i)) / 2`,
      ];
      break;
    }
    case "plateau":
      body = [`return plateau.lr  # ReduceLROnPlateau: the rate lives in its state`];
      break;
    default:
      throw new UnsupportedConstruct(`pytorch target: cannot map the schedule \`${(s as { kind: string }).kind}\``);
  }
  const warm = s.warmup > 0;
  const lines = [
    `LR0 = ${py(lr0)}`,
    `SCHEDULE_PER = ${py(s.per)}  # k counts ${unit}, 0-based`,
    `WARMUP = ${s.warmup}`,
    ``,
    ``,
    `def learning_rate(k, plateau=None, horizon=EPOCHS):`,
    `    """The rate for counter k (the rate torch's scheduler reports after k calls to step())."""`,
    ...(warm
      ? [
          `    # linear warm-up from 0 (LinearLR(start_factor=0, total_iters=${s.warmup})), then the schedule restarts at k = 0`,
          `    if k < WARMUP:`,
          `        return (plateau.lr if plateau is not None else LR0) * k / WARMUP`,
          `    k -= WARMUP`,
        ]
      : []),
    ...body.map((l) => `    ${l}`),
  ];
  if (s.kind === "plateau") {
    const monitor = (s.args.monitor as string | undefined) ?? "val_loss";
    lines.push(
      ``,
      ``,
      `PLATEAU = {"mode": ${py(monitor === "val_acc" ? "max" : "min")}, "monitor": ${py(monitor)}, "factor": ${py(a.factor ?? 0.1)}, ` +
        `"patience": ${py(a.patience ?? 10)}, "threshold": ${py(a.threshold ?? 1e-4)}, "cooldown": ${py(a.cooldown ?? 0)}, "min_lr": ${py(a.min_lr ?? 0)}}`,
      ``,
      ``,
      `class Plateau:`,
      `    """ReduceLROnPlateau(mode, factor, patience, threshold, threshold_mode="rel", cooldown, min_lr, eps=1e-8)."""`,
      ``,
      `    def __init__(self):`,
      `        self.lr, self.best, self.num_bad, self.cooldown_counter = LR0, None, 0, 0`,
      ``,
      `    def observe(self, value):`,
      `        c = PLATEAU`,
      `        if self.best is None:`,
      `            better = not math.isnan(value) and value != (math.inf if c["mode"] == "min" else -math.inf)`,
      `        elif c["mode"] == "min":`,
      `            better = value < self.best * (1 - c["threshold"])`,
      `        else:`,
      `            better = value > self.best * (c["threshold"] + 1)`,
      `        if better:`,
      `            self.best, self.num_bad = value, 0`,
      `        else:`,
      `            self.num_bad += 1`,
      `        if self.cooldown_counter > 0:`,
      `            self.cooldown_counter -= 1`,
      `            self.num_bad = 0`,
      `        if self.num_bad > c["patience"]:`,
      `            self.cooldown_counter, self.num_bad = c["cooldown"], 0`,
      `            new = max(self.lr * c["factor"], c["min_lr"])`,
      `            if self.lr - new > 1e-8:`,
      `                self.lr = new`,
    );
  } else {
    lines.push(``, ``, `Plateau = None  # the schedule has no state`);
  }
  return lines.join("\n");
}
