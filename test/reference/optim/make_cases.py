"""Writes the PyTorch 1.13 reference cases for runtime/optim.ts, regularize.ts and schedule.ts.

Run with /usr/bin/python3 (deterministic, seeded): writes optim.json, schedule.json and
regularize.json beside this file. The option names in each case are the TypeScript ones
(runtime/optim.ts, runtime/schedule.ts), so the vitest side passes them through unchanged.
"""
import json
import math
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(1234)
STEPS = 5


def flat(ts):
    return [float(v) for t in ts for v in t.detach().reshape(-1).tolist()]


# ---------------------------------------------------------------------------------------------
# Optimizers: two tensors, W (3, 4) and b (3,), a fixed sequence of gradients, 5 steps.
W0 = torch.randn(3, 4)
b0 = torch.randn(3) * 0.5
b0[1] = 0.0  # exercises sign(0) = 0 in the L1 term
GRADS = [(torch.randn(3, 4), torch.randn(3)) for _ in range(STEPS)]
SEGMENTS = [
    {"name": "W", "offset": 0, "size": 12, "rows": 3, "cols": 4},
    {"name": "b", "offset": 12, "size": 3, "rows": 3, "cols": 1},
]
NO_REG = {"weightDecay": 0.0, "decoupledDecay": 0.0, "l1": 0.0, "lrScale": 1.0}


def torch_opt(kind, o, groups):
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=1.0, momentum=o.get("momentum", 0.0),
                               dampening=o.get("dampening", 0.0), nesterov=o.get("nesterov", False))
    if kind == "adagrad":
        return torch.optim.Adagrad(groups, lr=1.0, lr_decay=o.get("lrDecay", 0.0),
                                   initial_accumulator_value=o.get("initialAccumulatorValue", 0.0),
                                   eps=o.get("eps", 1e-10))
    if kind == "rmsprop":
        return torch.optim.RMSprop(groups, lr=1.0, alpha=o.get("alpha", 0.99), eps=o.get("eps", 1e-8),
                                   momentum=o.get("momentum", 0.0), centered=o.get("centered", False))
    betas = (o.get("beta1", 0.9), o.get("beta2", 0.999))
    cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
    return cls(groups, lr=1.0, betas=betas, eps=o.get("eps", 1e-8), amsgrad=o.get("amsgrad", False))


def run_optim(name, opt, regs, lrs):
    """regs: per-segment settings. Cases with only coupled decay use torch's own weight_decay
    (adamw: its own decoupled weight_decay); L1 and decoupled decay on other optimizers are added
    by hand, in the order runtime/optim.ts documents: g' = g + wd p + l1 sign(p) on the pre-step p,
    then p *= 1 - lr' dd, then the optimizer's rule on g'."""
    kind = opt["kind"]
    W = W0.clone().requires_grad_(True)
    b = b0.clone().requires_grad_(True)
    params = [W, b]
    manual = any(r["l1"] != 0 or (r["decoupledDecay"] != 0 and kind != "adamw") for r in regs)
    if kind == "adamw":
        assert all(r["weightDecay"] == 0 for r in regs)
    groups = []
    for p, r in zip(params, regs):
        wd = r["decoupledDecay"] if kind == "adamw" else (0.0 if manual else r["weightDecay"])
        groups.append({"params": [p], "weight_decay": wd})
    o = torch_opt(kind, opt, groups)
    after = []
    for t in range(STEPS):
        for g, p, r in zip(o.param_groups, params, regs):
            g["lr"] = lrs[t] * r["lrScale"]
        with torch.no_grad():
            for p, gr, r in zip(params, GRADS[t], regs):
                g = gr.clone()
                if manual:
                    g = g + r["weightDecay"] * p + r["l1"] * torch.sign(p)
                p.grad = g
            if manual:
                for p, r in zip(params, regs):
                    p.mul_(1 - lrs[t] * r["lrScale"] * r["decoupledDecay"])
        o.step()
        after.append(flat(params))
    return {"name": name, "opt": opt, "regs": regs, "lrs": lrs, "after": after}


def reg(**kw):
    r = dict(NO_REG)
    r.update(kw)
    return r


C = [0.05] * STEPS
VAR = [0.1, 0.05, 0.08, 0.02, 0.04]
cases = []
both = lambda **kw: [reg(**kw), reg(**kw)]
for name, opt, regs, lrs in [
    ("sgd plain", {"kind": "sgd"}, both(), C),
    ("sgd weight decay", {"kind": "sgd"}, both(weightDecay=0.1), C),
    ("sgd momentum", {"kind": "sgd", "momentum": 0.9}, both(), VAR),
    ("sgd momentum weight decay", {"kind": "sgd", "momentum": 0.9}, both(weightDecay=0.05), C),
    ("sgd momentum dampening", {"kind": "sgd", "momentum": 0.8, "dampening": 0.5}, both(), C),
    ("sgd nesterov", {"kind": "sgd", "momentum": 0.9, "nesterov": True}, both(), VAR),
    ("sgd nesterov weight decay", {"kind": "sgd", "momentum": 0.9, "nesterov": True}, both(weightDecay=0.1), C),
    ("adagrad", {"kind": "adagrad"}, both(), C),
    ("adagrad init acc wd lr_decay", {"kind": "adagrad", "initialAccumulatorValue": 0.1, "lrDecay": 0.05},
     both(weightDecay=0.02), VAR),
    ("rmsprop", {"kind": "rmsprop"}, both(), C),
    ("rmsprop alpha 0.9", {"kind": "rmsprop", "alpha": 0.9}, both(), VAR),
    ("rmsprop centered", {"kind": "rmsprop", "centered": True}, both(), C),
    ("rmsprop momentum", {"kind": "rmsprop", "momentum": 0.9}, both(), C),
    ("rmsprop centered momentum wd", {"kind": "rmsprop", "momentum": 0.5, "centered": True, "alpha": 0.9},
     both(weightDecay=0.1), VAR),
    ("adam", {"kind": "adam"}, both(), C),
    ("adam betas", {"kind": "adam", "beta1": 0.8, "beta2": 0.95, "eps": 1e-6}, both(), VAR),
    ("adam weight decay", {"kind": "adam"}, both(weightDecay=0.1), C),
    ("adam amsgrad", {"kind": "adam", "amsgrad": True}, both(), VAR),
    ("adamw", {"kind": "adamw"}, both(decoupledDecay=0.1), C),
    ("adamw amsgrad", {"kind": "adamw", "amsgrad": True}, both(decoupledDecay=0.5), VAR),
    # per-tensor settings: the common idiom (no decay on biases), param-group lr scale
    ("sgd momentum, decay W only, bias lr x2", {"kind": "sgd", "momentum": 0.9},
     [reg(weightDecay=0.1), reg(lrScale=2.0)], VAR),
    ("adamw, decay W only", {"kind": "adamw"}, [reg(decoupledDecay=0.3), reg()], C),
    # L1 and decoupled decay with optimizers that do not have them in torch (added by hand)
    ("sgd l1", {"kind": "sgd"}, both(l1=0.1), C),
    ("sgd momentum l1 + l2", {"kind": "sgd", "momentum": 0.9}, [reg(l1=0.05, weightDecay=0.1), reg(l1=0.2)], VAR),
    ("sgd decoupled decay", {"kind": "sgd", "momentum": 0.9}, both(decoupledDecay=0.5), C),
    ("adam l1 + l2 + decoupled", {"kind": "adam"}, [reg(l1=0.01, weightDecay=0.05, decoupledDecay=0.2), reg()], VAR),
    ("rmsprop l1", {"kind": "rmsprop", "centered": True}, both(l1=0.03), C),
]:
    cases.append(run_optim(name, opt, regs, lrs))

with open(os.path.join(HERE, "optim.json"), "w") as f:
    json.dump({"segments": SEGMENTS, "N": 15, "p0": flat([W0, b0]),
               "grads": [flat(g) for g in GRADS], "cases": cases}, f)

# ---------------------------------------------------------------------------------------------
# Schedules: the lr used at k = 0..29 (recorded before each scheduler.step()).
K = 30
S = torch.optim.lr_scheduler
LR0 = 0.1


def run_sched(name, sched, make, metrics=None):
    p = torch.zeros(1, requires_grad=True)
    o = torch.optim.SGD([p], lr=LR0)
    sc = make(o)
    lrs = []
    for k in range(K):
        lrs.append(o.param_groups[0]["lr"])
        o.step()
        if metrics is None:
            sc.step()
        else:
            sc.step(metrics[k])
    case = {"name": name, "schedule": sched, "lrs": lrs}
    if metrics is not None:
        case["metrics"] = metrics
    return case


def warm(W, f0, make_main):
    return lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=f0, end_factor=1.0, total_iters=W), make_main(o)],
                                    milestones=[W])


MET = [1.0, 0.9, 0.85, 0.86, 0.849, 0.85, 0.87, 0.8, 0.8, 0.8, 0.8, 0.8, 0.79, 0.7999, 0.81, 0.82, 0.83,
       0.84, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
ACC = [0.5, 0.6, 0.65, 0.66, 0.7, 0.72, 0.71, 0.8, 0.8, 0.85, 0.84, 0.86, 0.9, 0.9, 0.9, 0.95, 0.95, 0.95,
       0.96, 0.96, 0.96, 0.96, 0.96, 0.96, 0.96, 0.96, 0.96, 0.96, 0.96, 0.96]
sched_cases = [
    run_sched("constant", {"kind": "constant", "lr": LR0}, lambda o: S.LambdaLR(o, lambda k: 1.0)),
    run_sched("inverse time", {"kind": "inverse_time", "lr": LR0, "decay": 0.5},
              lambda o: S.LambdaLR(o, lambda k: 1.0 / (1.0 + 0.5 * k))),
    run_sched("exponential gamma", {"kind": "exponential", "lr": LR0, "gamma": 0.9}, lambda o: S.ExponentialLR(o, 0.9)),
    run_sched("exponential beta", {"kind": "exponential", "lr": LR0, "beta": 0.2},
              lambda o: S.ExponentialLR(o, math.exp(-0.2))),
    run_sched("step divide by 10 every 7", {"kind": "step", "lr": LR0, "every": 7, "factor": 10},
              lambda o: S.StepLR(o, step_size=7, gamma=0.1)),
    run_sched("step gamma 0.5 every 4", {"kind": "step", "lr": LR0, "every": 4, "gamma": 0.5},
              lambda o: S.StepLR(o, step_size=4, gamma=0.5)),
    run_sched("multistep", {"kind": "multistep", "lr": LR0, "milestones": [5, 12, 20], "gamma": 0.3},
              lambda o: S.MultiStepLR(o, milestones=[5, 12, 20], gamma=0.3)),
    run_sched("cosine T_max 30", {"kind": "cosine", "lr": LR0, "tMax": 30},
              lambda o: S.CosineAnnealingLR(o, T_max=30)),
    run_sched("cosine T_max 10 eta_min, past T_max", {"kind": "cosine", "lr": LR0, "tMax": 10, "etaMin": 0.01},
              lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.01)),
    run_sched("warm restarts T_0 7", {"kind": "cosine_restarts", "lr": LR0, "t0": 7},
              lambda o: S.CosineAnnealingWarmRestarts(o, T_0=7)),
    run_sched("warm restarts T_0 3 T_mult 2", {"kind": "cosine_restarts", "lr": LR0, "t0": 3, "tMult": 2, "etaMin": 0.005},
              lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.005)),
    run_sched("warm-up 5 + cosine", {"kind": "cosine", "lr": LR0, "tMax": 25, "warmup": {"length": 5, "startFactor": 0.1}},
              warm(5, 0.1, lambda o: S.CosineAnnealingLR(o, T_max=25))),
    run_sched("warm-up 3 + step", {"kind": "step", "lr": LR0, "every": 5, "gamma": 0.5, "warmup": {"length": 3, "startFactor": 0.25}},
              warm(3, 0.25, lambda o: S.StepLR(o, step_size=5, gamma=0.5))),
    run_sched("warm-up 4 + exponential", {"kind": "exponential", "lr": LR0, "gamma": 0.95, "warmup": {"length": 4, "startFactor": 0.5}},
              warm(4, 0.5, lambda o: S.ExponentialLR(o, 0.95))),
    run_sched("warm-up 2 + multistep", {"kind": "multistep", "lr": LR0, "milestones": [5, 10], "gamma": 0.1, "warmup": {"length": 2, "startFactor": 0.1}},
              warm(2, 0.1, lambda o: S.MultiStepLR(o, milestones=[5, 10], gamma=0.1))),
    run_sched("plateau min rel", {"kind": "plateau", "lr": LR0, "factor": 0.5, "patience": 2, "cooldown": 1, "minLr": 0.004},
              lambda o: S.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=2, cooldown=1, min_lr=0.004), MET),
    run_sched("plateau min abs", {"kind": "plateau", "lr": LR0, "factor": 0.1, "patience": 1, "threshold": 0.02, "thresholdMode": "abs"},
              lambda o: S.ReduceLROnPlateau(o, mode="min", factor=0.1, patience=1, threshold=0.02, threshold_mode="abs"), MET),
    run_sched("plateau max rel", {"kind": "plateau", "lr": LR0, "mode": "max", "factor": 0.2, "patience": 0, "threshold": 0.01},
              lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.2, patience=0, threshold=0.01), ACC),
    run_sched("plateau max abs cooldown", {"kind": "plateau", "lr": LR0, "mode": "max", "factor": 0.5, "patience": 1, "threshold": 0.005, "thresholdMode": "abs", "cooldown": 3},
              lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.5, patience=1, threshold=0.005, threshold_mode="abs", cooldown=3), ACC),
]
# SequentialLR must agree with its definition (runtime/schedule.ts): LinearLR for W, then the main
# schedule from its own k = 0. Checked here so that a quirk of SequentialLR cannot hide in the data.
MAINS = {"cosine": lambda o: S.CosineAnnealingLR(o, T_max=25), "step": lambda o: S.StepLR(o, step_size=5, gamma=0.5),
         "exponential": lambda o: S.ExponentialLR(o, 0.95), "multistep": lambda o: S.MultiStepLR(o, milestones=[5, 10], gamma=0.1)}
for c in sched_cases:
    w = c["schedule"].get("warmup")
    if w:
        n = w["length"]
        head = [LR0 * (w["startFactor"] + (1 - w["startFactor"]) * k / n) for k in range(n)]
        tail = run_sched("main alone", {}, MAINS[c["schedule"]["kind"]])["lrs"][: K - n]
        assert all(abs(a - b) <= 1e-12 for a, b in zip(head + tail, c["lrs"])), c["name"]

with open(os.path.join(HERE, "schedule.json"), "w") as f:
    json.dump({"cases": sched_cases}, f)

# ---------------------------------------------------------------------------------------------
# Clipping (global norm, value) and max-norm (torch.renorm, dim 0).
A = torch.randn(4, 5)
B = torch.randn(3, 2, 2, 2) * 0.5
CL_SEGS = [
    {"name": "A", "offset": 0, "size": 20, "rows": 4, "cols": 5},
    {"name": "B", "offset": 20, "size": 24, "rows": 3, "cols": 8},
]
clip_norm = []
for max_norm, norm_type in [(1.0, 2.0), (2.5, 1.0), (0.7, float("inf")), (1.5, 3.0), (1000.0, 2.0)]:
    ps = [torch.zeros_like(A, requires_grad=True), torch.zeros_like(B, requires_grad=True)]
    ps[0].grad = A.clone()
    ps[1].grad = B.clone()
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
    clip_norm.append({"maxNorm": max_norm, "normType": "inf" if math.isinf(norm_type) else norm_type,
                      "total": float(total), "grads": flat([p.grad for p in ps])})
clip_value = []
for v in [0.1, 0.5]:
    ps = [torch.zeros_like(A, requires_grad=True), torch.zeros_like(B, requires_grad=True)]
    ps[0].grad = A.clone()
    ps[1].grad = B.clone()
    torch.nn.utils.clip_grad_value_(ps, v)
    clip_value.append({"value": v, "grads": flat([p.grad for p in ps])})
max_norm = []
for ca, cb in [(1.0, 0.8), (2.0, 0.0), (100.0, 1.2)]:
    ra = torch.renorm(A, 2, 0, ca)
    rb = torch.renorm(B, 2, 0, cb) if cb > 0 else B.clone()
    max_norm.append({"maxNorm": [ca, cb], "params": flat([ra, rb])})
WD, L1 = 0.3, 0.05
penalty = float(0.5 * WD * (A ** 2).sum() + L1 * A.abs().sum() + 0.5 * 0.1 * (B ** 2).sum())
with open(os.path.join(HERE, "regularize.json"), "w") as f:
    json.dump({"segments": CL_SEGS, "x": flat([A, B]), "clipNorm": clip_norm, "clipValue": clip_value,
               "maxNorm": max_norm,
               "penalty": {"regs": [{"weightDecay": WD, "l1": L1}, {"weightDecay": 0.1, "l1": 0.0}], "value": penalty}}, f)
print("wrote", len(cases), "optimizer cases,", len(sched_cases), "schedules")

# ---------------------------------------------------------------------------------------------
# Training loops as a trainer runs them: linear model, MSE, real gradients; per step
# clip -> optimizer step -> max-norm, the scheduler stepped per step (plateau: fed the loss).
X = torch.randn(16, 5)
Y = torch.randn(16, 3)
LW0 = torch.randn(3, 5)
Lb0 = torch.zeros(3)


def run_loop(name, opt_ts, make_opt, sched_ts, make_sched, clip, max_norm, steps=12):
    W = LW0.clone().requires_grad_(True)
    b = Lb0.clone().requires_grad_(True)
    o = make_opt(W, b)
    sc = make_sched(o)
    losses, lrs = [], []
    for t in range(steps):
        o.zero_grad()
        loss = torch.nn.functional.mse_loss(X @ W.t() + b, Y)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_([W, b], clip)
        lrs.append(o.param_groups[0]["lr"])
        o.step()
        if max_norm:
            with torch.no_grad():
                W.copy_(torch.renorm(W, 2, 0, max_norm))
        if sched_ts["kind"] == "plateau":
            sc.step(float(loss))
        else:
            sc.step()
        losses.append(float(loss))
    return {"name": name, "opt": opt_ts, "schedule": sched_ts, "clip": clip, "maxNorm": max_norm,
            "losses": losses, "lrs": lrs, "final": flat([W, b])}


loops = [
    run_loop("sgd nesterov, decay W only, step schedule, clip 1.0",
             {"kind": "sgd", "momentum": 0.9, "nesterov": True},
             lambda W, b: torch.optim.SGD([{"params": [W], "weight_decay": 0.01}, {"params": [b], "weight_decay": 0.0}],
                                          lr=0.2, momentum=0.9, nesterov=True),
             {"kind": "step", "lr": 0.2, "every": 4, "gamma": 0.5, "per": "step"},
             lambda o: S.StepLR(o, step_size=4, gamma=0.5), 1.0, 0.0),
    run_loop("adamw, warm-up + cosine, clip 0.5, max-norm 1.2",
             {"kind": "adamw"},
             lambda W, b: torch.optim.AdamW([{"params": [W], "weight_decay": 0.1}, {"params": [b], "weight_decay": 0.0}], lr=0.1),
             {"kind": "cosine", "lr": 0.1, "tMax": 9, "per": "step", "warmup": {"length": 3, "startFactor": 0.2}},
             lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.2, total_iters=3), S.CosineAnnealingLR(o, T_max=9)],
                                      milestones=[3]), 0.5, 1.2),
    run_loop("rmsprop centered, reduce-on-plateau on the training loss",
             {"kind": "rmsprop", "centered": True, "momentum": 0.5},
             lambda W, b: torch.optim.RMSprop([W, b], lr=0.3, centered=True, momentum=0.5),
             {"kind": "plateau", "lr": 0.3, "patience": 0, "factor": 0.5, "per": "step"},
             lambda o: S.ReduceLROnPlateau(o, patience=0, factor=0.5), 0.0, 0.0, steps=20),
]
with open(os.path.join(HERE, "loop.json"), "w") as f:
    json.dump({"X": flat([X]), "Y": flat([Y]), "W0": flat([LW0]), "b0": flat([Lb0]), "loops": loops}, f)
print("wrote", len(loops), "training loops;", "lrs:", [[round(x, 4) for x in l["lrs"]] for l in loops])
