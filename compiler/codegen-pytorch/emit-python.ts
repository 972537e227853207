// The PyTorch target: IR (after lower + fuseElementwise; planMemory's layout is not needed) →
// ONE readable Python file that trains the same model with torch alone: one nn.Module
// (py-model.ts), the schedule (py-schedule.ts), dnnc's RNG/readers/safetensors (py-support.ts)
// input preprocessing (py-preprocess.ts), augmentation (py-augment.ts), the smoothness penalties
// (py-penalty.ts) and one training loop (py-train.ts) with the TypeScript trainer's conventions, same
// metrics.jsonl keys and the same safetensors names, shapes and order. Runs as
// `python3 NAME.trainer.py` or under `torchrun` (DDP). Anything it cannot express identically is
// an UnsupportedConstruct error at compile time naming the construct — never a silent difference.
import type { IR } from "../ir";
import { DNNC_VERSION } from "../version";
import { assertNoRawUnsafe, pyComment, pyIdentifier } from "../escape";
import { emitParamTable, emitPyModel, py, UnsupportedConstruct } from "./py-model";
import { emitPySchedule } from "./py-schedule";
import { PY_SUPPORT } from "./py-support";
import { PY_TRAIN } from "./py-train";
import { PY_PREPROCESS } from "./py-preprocess";
import { PY_AUGMENT } from "./py-augment";
import { PY_PENALTY } from "./py-penalty";
import { PY_SEQUENCE, PY_SEQUENCE_COMMON } from "./py-sequence";
import { PY_CSV } from "./py-csv";
import { PY_IMAGE } from "./py-image";
import { lossPositions } from "../ir";

export { UnsupportedConstruct };

/** Constructs of the spec that the PyTorch target refuses (named in the error). */
function refuseUnsupported(ir: IR): void {
  const no = (what: string) => {
    throw new UnsupportedConstruct(`pytorch target: cannot map ${what}`);
  };
  for (const a of ir.data.augment) if (!AUGMENT_KINDS.includes(a.kind)) no(`the augmentation \`${a.kind}\``);
  if (ir.data.augment.length > 0 && ir.input.shape.length !== 3) no(`augmentation on a non-image input [${ir.input.shape.join(", ")}]`);
  const pre = ir.data.preprocess;
  // the TypeScript runtime fits and applies the first step only (runtime/train-loop.ts)
  if (pre.length > 1) no(`more than one preprocessing step (\`${pre.map((a) => a.kind).join("`, `")}\`)`);
  if (pre.length === 1 && !["standardize", "pca", "whiten", "zca"].includes(pre[0].kind)) no(`input preprocessing \`${pre[0].kind}\``);
  const o = ir.train.optimizer;
  if (!["sgd", "adam", "adamw", "adagrad", "rmsprop"].includes(o.kind)) no(`the optimizer \`${o.kind}\``);
  if (o.kind === "sgd" && o.nesterov && (o.momentum <= 0 || o.dampening !== 0))
    no("sgd(nesterov=true) without momentum or with dampening (PyTorch refuses it)");
  if (!["softmax_cross_entropy", "mse", "bce_with_logits", "l1", "huber"].includes(ir.loss.kind)) no(`the loss \`${ir.loss.kind}\``);
  // (its loop shuffles windows and starts every batch's recurrent state at zero)
  if (ir.train.tbptt) no("tbptt (the recurrent state carried across windows in track order)");
}

const AUGMENT_KINDS = ["flip_h", "flip_v", "translate", "crop", "rotate", "noise", "blur", "cutout", "brightness", "contrast"];

/** The preprocessing step with runtime/preprocess.ts's defaults filled in (eps_text: JavaScript's String(eps), for the metadata). */
function preprocessConst(ir: IR): string {
  const p = ir.data.preprocess[0];
  if (!p) return "None";
  const kind = p.kind;
  const eps = kind === "pca" ? 0 : ((p.args.eps as number | undefined) ?? (kind === "standardize" ? 1e-6 : 1e-5));
  const mode = kind === "standardize" ? ((p.args.mode as string | undefined) ?? "feature") : "feature";
  const k = kind === "pca" || kind === "whiten" ? ((p.args.k as number | undefined) ?? null) : null;
  return `{"kind": ${py(kind)}, "mode": ${py(mode)}, "eps": ${py(eps)}, "eps_text": ${py(String(eps))}, "k": ${py(k)}}`;
}

/** The augmentation list, each transform with its probability resolved (flips 0.5, others 1: runtime/augment.ts). */
function augmentConst(ir: IR): string {
  if (ir.data.augment.length === 0) return "[]";
  const rows = ir.data.augment.map((a) => {
    const p = (a.args.p as number | undefined) ?? (a.kind === "flip_h" || a.kind === "flip_v" ? 0.5 : 1);
    return `    ${py({ kind: a.kind, ...a.args, p } as never)},`;
  });
  return ["[", ...rows, "]"].join("\n");
}

function penaltyConst(ir: IR): string {
  const ig = ir.train.inputGradPenalty;
  const jp = ir.train.jacobianPenalty;
  if (!ig && !jp) return "None";
  return `{"input_grad": ${ig ? py(ig.lambda) : "None"}, "jacobian": ${jp ? py({ lambda: jp.lambda, projections: jp.projections }) : "None"}}`;
}

function emitOptimizer(ir: IR): string {
  const o = ir.train.optimizer;
  let call: string;
  switch (o.kind) {
    case "sgd":
      call = `torch.optim.SGD(groups, lr=LR0, momentum=${py(o.momentum)}, dampening=${py(o.dampening)}, nesterov=${py(o.nesterov)})`;
      break;
    case "adam":
    case "adamw":
      // AdamW's decoupled decay per tensor is each group's weight_decay (param_groups)
      call = `torch.optim.${o.kind === "adam" ? "Adam" : "AdamW"}(groups, lr=LR0, betas=(${py(o.beta1)}, ${py(o.beta2)}), eps=${py(o.eps)}, amsgrad=${py(o.amsgrad)})`;
      break;
    case "adagrad":
      call = `torch.optim.Adagrad(groups, lr=LR0, lr_decay=${py(o.lrDecay ?? 0)}, eps=${py(o.eps)}, initial_accumulator_value=${py(o.initialAccumulator)})`;
      break;
    case "rmsprop":
      call = `torch.optim.RMSprop(groups, lr=LR0, alpha=${py(o.alpha)}, eps=${py(o.eps)}, momentum=${py(o.momentum)}, centered=${py(o.centered)})`;
      break;
  }
  return [
    `OPTIMIZER = {"kind": ${py(o.kind)}}`,
    ``,
    ``,
    `def make_optimizer(groups):`,
    `    # groups: one per tensor, weight_decay = its coupled L2 (${o.kind === "adamw" ? "here: its decoupled AdamW decay" : "torch adds wd * p to the gradient"})`,
    `    return ${call}`,
  ].join("\n");
}

function emitLoss(ir: IR): string {
  const l = ir.loss;
  const positions = lossPositions(ir);
  let expr: string;
  switch (l.kind) {
    case "softmax_cross_entropy":
      // a class at every position: (n, T, classes) against (n, T) labels, -1 (padding) ignored
      expr =
        positions > 1
          ? `F.cross_entropy(out.reshape(-1, ${ir.output.shape[1]}), y.reshape(-1), label_smoothing=${py(l.labelSmoothing)}, ignore_index=-1, reduction="sum")`
          : `F.cross_entropy(out, y, label_smoothing=${py(l.labelSmoothing)}, reduction="sum")`;
      break;
    case "bce_with_logits":
      expr = `F.binary_cross_entropy_with_logits(out, y, reduction="sum")`;
      break;
    case "mse":
      expr = `F.mse_loss(out, y, reduction="sum")`;
      break;
    case "l1":
      expr = `F.l1_loss(out, y, reduction="sum")`;
      break;
    case "huber":
      expr = `F.huber_loss(out, y, delta=${py(l.delta)}, reduction="sum")`;
      break;
  }
  return [
    `LOSS = {"kind": ${py(l.kind)}}`,
    `ELEMS = ${l.kind === "softmax_cross_entropy" ? 1 : ir.output.size}  # loss terms per target: the mean divides by the targets * ELEMS (torch's reduction="mean")`,
    `POSITIONS = ${positions}  # targets per sample: a class at every position of a sequence output, else 1`,
    ``,
    ``,
    `def loss_sum_of(out, y):`,
    `    return ${expr}`,
  ].join("\n");
}

/** The sequence sources (their loaders are emitted only for them). */
const SEQUENCE_SOURCES = ["text", "text_classes", "tokens", "timeseries"];

/** runtime/node/main.ts isRegression / modelClasses: real-valued targets, or the class labels the model can take. */
function targetKind(ir: IR): { regression: boolean; classes: number | null } {
  const regression = ir.loss.kind !== "softmax_cross_entropy" && ir.output.size === 1 && ir.loss.kind !== "bce_with_logits";
  if (regression) return { regression, classes: null };
  const k = ir.output.size / lossPositions(ir);
  return { regression, classes: k === 1 && ir.loss.kind !== "softmax_cross_entropy" ? 2 : k };
}

/** The Python trainer for `ir`. `dataPath`: the default data location, relative to the .py file (or absolute). */
export function generatePytorchTrainer(ir: IR, opts: { dataPath: string; initFrom?: string }): string {
  refuseUnsupported(ir);
  const model = emitPyModel(ir);
  const t = ir.train;
  const es = t.earlyStopping;
  const sequence = SEQUENCE_SOURCES.includes(ir.data.source.kind);
  const tk = targetKind(ir);
  const header = [
    `# Generated by dnnc ${DNNC_VERSION} (PyTorch target) from ${pyComment(ir.file)} (spec sha256 ${ir.specHash.slice(0, 16)}). Do not edit: edit the spec and recompile.`,
    `"""${pyIdentifier(ir.name)}: a standalone PyTorch trainer (torch and the Python standard library only).`,
    ``,
    `    python3 ${pyIdentifier(ir.name)}.trainer.py [--data DIR] [--epochs N] [--seed N] [--out DIR] [--device cpu|cuda] [--init-from FILE.safetensors]`,
    `    torchrun --nproc_per_node=K ${pyIdentifier(ir.name)}.trainer.py [same options] [--sync-bn]`,
    ``,
    `The same conventions as the TypeScript trainer dnnc compiles from the same spec: dnnc's validation split`,
    `and batch order, batch norm as PyTorch's (momentum, unbiased running variance), dropout p = DROP`,
    `probability, per-tensor decay, clipping, schedule, early stopping with best-weights restore, input`,
    `preprocessing fitted on the training rows, augmentation and Jacobian / input-gradient penalties (their`,
    `random draws are dnnc's own); the same metrics.jsonl keys and safetensors tensors (fitted`,
    `preprocessing included). Initial weights and dropout masks come from torch's`,
    `generator: pass --init-from to start from weights exported by the TypeScript trainer.`,
    `Under torchrun each rank takes an interleaved share of every global batch of ${ir.batch}; results equal one`,
    `process with the same global batch (batch norm: per-rank statistics unless --sync-bn).`,
    `"""`,
    `import argparse`,
    `import array`,
    `import csv`,
    `import gzip`,
    `import json`,
    `import math`,
    `import os`,
    `import re`,
    `import struct`,
    `import sys`,
    `import time`,
    ``,
    `import torch`,
    `import torch.distributed as dist`,
    `import torch.nn as nn`,
    `import torch.nn.functional as F`,
  ];
  const consts = [
    `# ---- the spec's settings ---------------------------------------------------------------------------`,
    `SPEC = {"name": ${py(ir.name)}, "file": ${py(ir.file)}, "sha256": ${py(ir.specHash)}, "dnnc_version": ${py(DNNC_VERSION)}}`,
    `DATA_PATH = ${py(opts.dataPath)}  # relative to this file, unless absolute`,
    `DATA = {"source": ${py(ir.data.source as never)}, "validation": ${py(ir.data.validation)}, "test": ${py(ir.data.test ?? 0)}, "scale": ${py(ir.data.scale)}, "shift": ${py(ir.data.shift)}}`,
    `INPUT_SHAPE = ${py(ir.input.shape)}`,
    `OUTPUT_SHAPE = ${py(ir.output.shape)}`,
    `OUTPUT_SIZE = ${ir.output.size}`,
    `PADDED = ${py(ir.data.lengths === true)}  # the source pads its sequences: the model reads each sample's valid length`,
    `REGRESSION = ${py(tk.regression)}  # real-valued targets (else class labels, below MODEL_CLASSES)`,
    `MODEL_CLASSES = ${py(tk.classes)}`,
    `VOCAB = ${ir.data.vocab ? py(ir.data.vocab.json) : "None"}  # the character vocabulary the spec was compiled with (others: id 0)`,
    `AUTO = ${ir.data.auto ? py(JSON.stringify(ir.data.auto)) : "None"}  # the sizes auto took from the data (saved with the model)`,
    `BATCH = ${t.batch}  # the global batch`,
    `EPOCHS = ${t.epochs}`,
    `SEED = ${t.seed}`,
    `CLIP_VALUE = ${py(t.clipValue)}  # clip_grad_value_, before the norm clipping (0: off)`,
    `CLIP_NORM = ${py(t.clipNorm)}  # clip_grad_norm_ over ALL gradients (global norm; 0: off)`,
    `ON_DIVERGENCE = ${py(t.onDivergence ?? "stop")}  # a non-finite loss or gradient: stop, skip the batch, or lower_lr (halve the rate and skip)`,
    `PREPROCESS = ${preprocessConst(ir)}  # fitted on the training rows only`,
    `AUGMENT = ${augmentConst(ir)}  # training batches only, per sample, in this order`,
    `PENALTY = ${penaltyConst(ir)}  # smoothness penalties (lambda of each; None: off)`,
    `EARLY_STOPPING = ${es ? py(es as never) : "None"}`,
    `HAS_BATCH_NORM = ${py(model.hasBatchNorm)}`,
    `STATS = ${py(ir.stats.map((s) => s.name))}  # running statistics, saved after the parameters`,
    `INIT_FROM = ${opts.initFrom !== undefined ? py(opts.initFrom) : "None"}  # fine-tuning (init_from): the weights to start from, matched by name, relative to this file unless absolute`,
    `FROZEN_NORMS = ${py(ir.nodes.filter((n) => n.frozen && (n.op === "bn" || n.op === "iternorm")).map((n) => n.id))}  # frozen batch norms: in evaluation mode while training (bn.eval())`,
  ];
  const sections = [
    header.join("\n"),
    consts.join("\n"),
    `# ---- the model -------------------------------------------------------------------------------------\n${model.text}`,
    emitParamTable(ir.params),
    `# ---- optimizer, schedule, loss ---------------------------------------------------------------------\n${emitOptimizer(ir)}`,
    emitPySchedule(ir),
    emitLoss(ir),
    PY_SUPPORT.trim(),
    // the csv and image_folder sources use the sequence sources' file and CSV helpers (and the test split of PY_CSV)
    ...(sequence ? [PY_SEQUENCE.trim(), PY_CSV.trim()] : []),
    ...(!sequence && (ir.data.source.kind === "csv" || ir.data.source.kind === "image_folder") ? [PY_SEQUENCE_COMMON.trim(), PY_CSV.trim()] : []),
    ...(ir.data.source.kind === "image_folder" ? [PY_IMAGE.trim()] : []),
    ...(ir.data.preprocess.length > 0 ? [PY_PREPROCESS.trim()] : []),
    ...(ir.data.augment.length > 0 ? [PY_AUGMENT.trim()] : []),
    ...(ir.train.inputGradPenalty || ir.train.jacobianPenalty ? [PY_PENALTY.trim()] : []),
    PY_TRAIN.trim(),
  ];
  const text = sections.join("\n\n\n") + "\n";
  assertNoRawUnsafe(text, `the PyTorch trainer of ${ir.name}`);
  // PEP 263: a comment in the first two lines that says coding: or coding= sets the file's encoding
  if (/^[ \t\f]*#.*?coding[:=]/m.test(text.split("\n", 2).join("\n")))
    throw new Error(`internal: the PyTorch trainer of ${ir.name} declares an encoding in its first two lines`);
  return text;
}
