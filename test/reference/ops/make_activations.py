# Writes the PyTorch reference of every activation of the language, for the expressions its op
# module emits (test/ops-activations.test.ts): the value, the first and the second derivative at
# the same points, in float64 (the expressions are double-precision JavaScript), computed by
# autograd (create_graph for the second derivative), so nothing is copied from our formulas.
# Run with the system Python that has torch 1.13:
#   /usr/bin/python3 test/reference/ops/make_activations.py
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(20261207)
HERE = os.path.dirname(os.path.abspath(__file__))

# the points: kinks and thresholds (0, ±1e-3, softplus's 20), the tails, and random values
x0 = torch.tensor([0.0, 1e-3, -1e-3, 0.5, -0.5, 1.0, -1.0, 2.5, -2.5, 5.0, -5.0, 12.0, -12.0, 19.5, 20.5, 25.0, -25.0], dtype=torch.float64)
x0 = torch.cat([x0, torch.randn(40, dtype=torch.float64) * 4])

ACTS = [
    ("relu", {}, F.relu),
    ("leaky_relu", {"slope": 0.01}, lambda x: F.leaky_relu(x, 0.01)),
    ("leaky_relu", {"slope": 0.2}, lambda x: F.leaky_relu(x, 0.2)),
    ("tanh", {}, torch.tanh),
    ("sigmoid", {}, torch.sigmoid),
    ("gelu", {}, F.gelu),  # exact (erf)
    ("elu", {"alpha": 1.0}, lambda x: F.elu(x, 1.0)),
    ("elu", {"alpha": 0.5}, lambda x: F.elu(x, 0.5)),
    ("silu", {}, F.silu),
    ("softplus", {}, F.softplus),  # beta 1, threshold 20
    ("mish", {}, F.mish),
]


def case(name, attrs, fn):
    x = x0.clone().requires_grad_(True)
    y = fn(x)
    (d1,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    if d1.requires_grad:
        (d2,) = torch.autograd.grad(d1.sum(), x)
    else:  # piecewise linear: the second derivative is 0
        d2 = torch.zeros_like(x)
    return {"op": name, "attrs": attrs, "x": x0.tolist(), "y": y.detach().tolist(), "d1": d1.detach().tolist(), "d2": d2.detach().tolist()}


with open(os.path.join(HERE, "activations.json"), "w") as f:
    json.dump({"torch": torch.__version__, "cases": [case(*a) for a in ACTS]}, f, separators=(",", ":"))
    f.write("\n")
