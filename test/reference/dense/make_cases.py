# Writes the PyTorch reference cases for the dense kernels (test/kernels-dense-reference.test.ts).
# Run from anywhere with the system Python that has torch 1.13:
#   /usr/bin/python3 test/reference/dense/make_cases.py
# Deterministic (seeded); small shapes so every JSON file stays far below 1 MB.
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(20260)
HERE = os.path.dirname(os.path.abspath(__file__))


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def dump(name, obj):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")


def linear_case(n, fin, fout):
    x = torch.randn(n, fin, requires_grad=True)
    lin = torch.nn.Linear(fin, fout)  # PyTorch's default init, float32
    y = lin(x)
    dy = torch.randn(n, fout)
    y.backward(dy)
    return {
        "n": n, "in": fin, "out": fout,
        "x": flat(x), "W": flat(lin.weight), "b": flat(lin.bias), "y": flat(y), "dy": flat(dy),
        "dx": flat(x.grad), "dW": flat(lin.weight.grad), "db": flat(lin.bias.grad),
    }


dump("linear.json", {"torch": torch.__version__, "cases": [
    linear_case(1, 1, 1),
    linear_case(5, 7, 4),
    linear_case(13, 31, 9),
    linear_case(6, 260, 5),  # in > KC: more than one depth block
    linear_case(130, 3, 6),  # n > MC: more than one row block
]})


def act_case(kind, alpha, fn):
    x = torch.cat([
        torch.tensor([0.0, -0.0, 1e-3, -1e-3, 1.0, -1.0, 5.0, -5.0, 12.0, -12.0, 25.0, -25.0]),
        torch.randn(40) * 3,
    ]).requires_grad_(True)
    y = fn(x)
    dy = torch.randn(x.shape[0])
    y.backward(dy)
    return {"kind": kind, "alpha": alpha, "x": flat(x), "y": flat(y), "dy": flat(dy), "dx": flat(x.grad)}


acts = [
    act_case("relu", None, torch.relu),
    act_case("leaky_relu", None, F.leaky_relu),  # default slope 0.01
    act_case("leaky_relu", 0.2, lambda x: F.leaky_relu(x, 0.2)),
    act_case("tanh", None, torch.tanh),
    act_case("sigmoid", None, torch.sigmoid),
    act_case("gelu", None, torch.nn.GELU()),  # exact, erf-based
    act_case("elu", None, F.elu),  # alpha 1
    act_case("elu", 0.5, lambda x: F.elu(x, 0.5)),
    act_case("softplus", None, F.softplus),  # beta 1, threshold 20
]
z = torch.linspace(-7, 7, 281, dtype=torch.float64)
dump("activations.json", {
    "torch": torch.__version__,
    "cases": acts,
    "erf": {"z": flat(z), "erf": flat(torch.erf(z)), "erfc": flat(torch.erfc(z))},
})


def ce_case(n, c, eps, scale):
    logits = (torch.randn(n, c) * scale).requires_grad_(True)
    labels = torch.randint(0, c, (n,))
    loss = F.cross_entropy(logits, labels, label_smoothing=eps)
    loss.backward()
    correct = int((logits.argmax(dim=1) == labels).sum())
    return {"n": n, "classes": c, "labelSmoothing": eps, "logits": flat(logits),
            "labels": [int(v) for v in labels.tolist()], "loss": float(loss), "dlogits": flat(logits.grad),
            "correct": correct}


def pair_case(kind, fn, n, k, scale, extra=None):
    pred = (torch.randn(n, k) * scale).requires_grad_(True)
    if kind == "bce":
        target = torch.rand(n, k)
        target[0, 0] = 0.0
        target[-1, -1] = 1.0
    else:
        target = torch.randn(n, k) * scale
        with torch.no_grad():
            pred[0, 0] = target[0, 0]  # d = 0 exactly: l1's subgradient 0
    loss = fn(pred, target)
    loss.backward()
    out = {"kind": kind, "n": n, "k": k, "pred": flat(pred), "target": flat(target), "loss": float(loss),
           "dpred": flat(pred.grad)}
    if extra:
        out.update(extra)
    return out


losses = {
    "torch": torch.__version__,
    "crossEntropy": [ce_case(6, 5, 0.0, 2.0), ce_case(6, 5, 0.1, 2.0), ce_case(9, 10, 0.1, 30.0),
                     ce_case(1, 3, 0.0, 1.0), ce_case(4, 10, 0.0, 80.0)],
    "pairs": [
        pair_case("bce", torch.nn.BCEWithLogitsLoss(), 4, 3, 3.0),
        pair_case("bce", torch.nn.BCEWithLogitsLoss(), 5, 1, 40.0),
        pair_case("mse", torch.nn.MSELoss(), 4, 3, 1.0),
        pair_case("l1", torch.nn.L1Loss(), 4, 3, 1.0),
        pair_case("huber", torch.nn.HuberLoss(delta=1.0), 5, 4, 1.5, {"delta": 1.0}),
        pair_case("huber", torch.nn.HuberLoss(delta=0.5), 5, 4, 1.5, {"delta": 0.5}),
    ],
}
dump("losses.json", losses)
