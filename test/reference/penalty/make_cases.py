"""PyTorch references for the smoothness penalties (compiler/codegen/emit-penalty.ts).

Run with /usr/bin/python3 (torch 1.13); writes cases.json beside this file. Deterministic.

For each tiny network (the spec text is stored with the case, so the test compiles exactly it),
the weights, inputs and labels are drawn here (float32-representable values, computed in float64),
and for both penalties we record the loss, the penalty, its parameter gradients alone and the
parameter gradients of L + penalty:
- input_grad_penalty lam:  g = autograd.grad(L, x, create_graph=True)[0]; R = lam * (g**2).sum()
- jacobian_penalty(lam, projections=P): for each projection p, v_p (n, C) unit rows,
  g_p = autograd.grad((v_p * f).sum(), x, create_graph=True)[0];
  R = lam * C / (P * n) * sum_p (g_p**2).sum()
Dropout masks and the v's are not injected: they are recomputed here from dnnc's counter-based
RNG (runtime/rng.ts: hash3, uniformAt, streamId, re-implemented below), so the test also checks
that the generated code draws them as documented.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
M32 = 0xFFFFFFFF


def imul(a, b):
    return (a * b) & M32


def hash3(seed, stream, counter):
    h = (seed ^ 0x9E3779B9) & M32
    h = imul(h ^ (stream & M32), 0x85EBCA6B)
    h = h ^ (h >> 13)
    h = imul(h ^ (counter & M32), 0xC2B2AE35)
    h = h ^ (h >> 16)
    h = imul((h + 0x6A09E667) & M32, 0x27D4EB2D)
    h = h ^ (h >> 15)
    h = imul(h ^ ((counter & M32) >> 16) ^ ((stream << 7) & M32), 0x165667B1)
    h = h ^ (h >> 13)
    h = imul(h, 0xCC9E2D51)
    return (h ^ (h >> 16)) & M32


def uniform_at(seed, stream, counter):
    return (hash3(seed, stream, counter) >> 8) * (1 / 16777216)


def stream_id(name):
    h = 0x811C9DC5
    for ch in name:
        h ^= ord(ch)
        h = imul(h, 0x01000193)
    return h


def dropout_mask(seed, step, layer_id, p, count):
    s = stream_id("dropout:" + layer_id)
    ds = hash3(seed, s, step)
    keep = 1 / (1 - p)
    return torch.tensor([keep if uniform_at(ds, s, i) >= p else 0.0 for i in range(count)])


def jacobian_vs(seed, step, projections, batch, n, classes):
    s = stream_id("penalty:jacobian")
    ds = hash3(seed, s, step)
    out = []
    for pj in range(projections):
        rows = []
        for r in range(n):
            z = []
            for c in range(classes):
                ctr = 2 * ((pj * batch + r) * classes + c)
                u1 = ((hash3(ds, s, ctr) >> 8) + 1) * (1 / 16777217)
                u2 = uniform_at(ds, s, ctr + 1)
                z.append(math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2))
            norm = math.sqrt(sum(t * t for t in z))
            rows.append([t / norm for t in z])
        out.append(rows)
    return torch.tensor(out)


SEED, STEP, N = 7, 3, 4


def lin(h, P, name):
    return F.linear(h, P[name + ".weight"], P[name + ".bias"])


def mlp_tanh(P, x, ctx):
    return lin(torch.tanh(lin(x, P, "dense_0")), P, "dense_1")


def mlp_relu_dropout(P, x, ctx):
    h = torch.relu(lin(x, P, "dense_0"))
    h = h * ctx["mask"].reshape(h.shape)
    return lin(h, P, "dense_1")


def cnn(P, x, ctx):
    h = torch.relu(F.conv2d(x, P["conv2d_0.weight"], P["conv2d_0.bias"], padding=1))
    h = F.max_pool2d(h, 2)
    return lin(h.flatten(1), P, "dense_0")


def cnn_smooth(P, x, ctx):
    h = F.gelu(F.conv2d(x, P["conv2d_0.weight"], P["conv2d_0.bias"], stride=2, padding=1))
    h = torch.sigmoid(F.conv2d(h, P["conv2d_1.weight"], P["conv2d_1.bias"], padding=1, groups=2))
    h = F.avg_pool2d(h, 2)
    return lin(h.mean(dim=(2, 3)), P, "dense_0")


def residual(P, x, ctx):
    h0 = torch.tanh(lin(x, P, "dense_0"))
    h1 = torch.sigmoid(lin(h0, P, "dense_1"))
    h2 = lin(h1, P, "dense_2")
    return lin(torch.relu(h2 + h0), P, "dense_3")


def dense(name, out, inn):
    return [(name + ".weight", [out, inn]), (name + ".bias", [out])]


CASES = [
    dict(
        name="mlp_tanh",
        input=[5],
        body="  dense(6) -> tanh\n  dense(3)",
        loss="softmax_cross_entropy(label_smoothing=0.1)",
        params=dense("dense_0", 6, 5) + dense("dense_1", 3, 6),
        forward=mlp_tanh,
    ),
    dict(
        name="mlp_relu_dropout",
        input=[5],
        body="  dense(7) -> relu -> dropout(0.3)\n  dense(3)",
        loss="softmax_cross_entropy",
        params=dense("dense_0", 7, 5) + dense("dense_1", 3, 7),
        forward=mlp_relu_dropout,
        dropout=("dropout_0", 0.3, 7),
    ),
    dict(
        name="cnn_relu_maxpool",
        input=[2, 6, 6],
        body="  conv2d(3, 3, padding=1) -> relu\n  maxpool2d(2)\n  flatten\n  dense(3)",
        loss="softmax_cross_entropy",
        params=[("conv2d_0.weight", [3, 2, 3, 3]), ("conv2d_0.bias", [3])] + dense("dense_0", 3, 27),
        forward=cnn,
    ),
    dict(
        name="cnn_gelu_grouped_pools",
        input=[2, 7, 7],
        body="  conv2d(4, 3, stride=2, padding=1) -> gelu\n  conv2d(4, 3, padding=same, groups=2) -> sigmoid\n  avgpool2d(2)\n  global_avgpool\n  dense(3)",
        loss="softmax_cross_entropy",
        params=[("conv2d_0.weight", [4, 2, 3, 3]), ("conv2d_0.bias", [4]), ("conv2d_1.weight", [4, 2, 3, 3]), ("conv2d_1.bias", [4])]
        + dense("dense_0", 3, 4),
        forward=cnn_smooth,
    ),
    dict(
        name="residual_mse",
        input=[5],
        body="  dense(6) -> tanh\n  residual { dense(6) -> sigmoid\n dense(6) }\n  relu\n  dense(2)",
        loss="mse",
        params=dense("dense_0", 6, 5) + dense("dense_1", 6, 6) + dense("dense_2", 6, 6) + dense("dense_3", 2, 6),
        forward=residual,
    ),
]

PENALTIES = [("input_grad", "input_grad_penalty 0.5", 0.5, 0), ("jacobian", "jacobian_penalty(0.05, projections=2)", 0.05, 2)]


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def make(case, gen):
    classes = 2 if case["loss"] == "mse" else 3
    P0 = {}
    for name, shape in case["params"]:
        scale = 1.5 / math.sqrt(math.prod(shape[1:])) if name.endswith(".weight") else 0.2
        P0[name] = (torch.randn(shape, generator=gen, dtype=torch.float32) * scale).double()
    x0 = torch.randn([N] + case["input"], generator=gen, dtype=torch.float32).double()
    if case["loss"] == "mse":
        labels = torch.randn([N, classes], generator=gen, dtype=torch.float32).double()
    else:
        labels = torch.tensor([float(i % classes) for i in range(N)])
    ctx = {}
    if "dropout" in case:
        lid, p, width = case["dropout"]
        ctx["mask"] = dropout_mask(SEED, STEP, lid, p, N * width)
    out = {
        "name": case["name"],
        "input": case["input"],
        "body": case["body"],
        "loss": case["loss"],
        "seed": SEED,
        "step": STEP,
        "n": N,
        "params": {k: flat(v) for k, v in P0.items()},
        "x": flat(x0),
        "labels": flat(labels),
        "penalties": [],
    }
    eps = 0.1 if "label_smoothing" in case["loss"] else 0.0
    for kind, text, lam, projections in PENALTIES:
        P = {k: v.clone().requires_grad_(True) for k, v in P0.items()}
        x = x0.clone().requires_grad_(True)
        f = case["forward"](P, x, ctx)
        if case["loss"] == "mse":
            L = F.mse_loss(f, labels)
        else:
            L = F.cross_entropy(f, labels.long(), label_smoothing=eps)
        entry = {"kind": kind, "penalty": text}
        if kind == "input_grad":
            (g,) = torch.autograd.grad(L, x, create_graph=True)
            R = lam * (g**2).sum()
        else:
            V = jacobian_vs(SEED, STEP, projections, N, N, classes)
            R = 0
            for pj in range(projections):
                (g,) = torch.autograd.grad((V[pj] * f).sum(), x, create_graph=True)
                R = R + (g**2).sum()
            R = R * lam * classes / (projections * N)
            entry["v"] = flat(V)
        names = list(P.keys())
        pg = torch.autograd.grad(R, [P[k] for k in names], retain_graph=True, allow_unused=True)
        entry["penaltyGrads"] = {k: flat(torch.zeros_like(P[k]) if g is None else g) for k, g in zip(names, pg)}
        (L + R).backward()
        entry["loss"] = float(L)
        entry["value"] = float(R)
        entry["grads"] = {k: flat(v.grad) for k, v in P.items()}
        out["penalties"].append(entry)
    return out


def main():
    gen = torch.Generator().manual_seed(20240607)
    cases = [make(c, gen) for c in CASES]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases.json")
    with open(path, "w") as fh:
        json.dump({"torch": torch.__version__, "cases": cases}, fh)
    print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
