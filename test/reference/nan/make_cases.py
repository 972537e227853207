"""Writes PyTorch's outputs for kernels fed NaN, infinities and zeros of both signs (nan.json).

Run with /usr/bin/python3 (PyTorch 1.13) from anywhere:
    /usr/bin/python3 test/reference/nan/make_cases.py
Deterministic (no randomness). JSON has no NaN or infinities: they are written as the strings
"NaN", "Infinity" and "-Infinity" (test/nan-propagation.test.ts decodes them); -0.0 stays -0.0.
What PyTorch does and dnnc must do too: relu(NaN) = NaN; a max-pool window holding a NaN gives
NaN, its index the LAST NaN in row-major window order (CPU kernel: `val > max || isnan(val)`);
a batch-norm channel with a NaN is NaN everywhere, its running statistics too.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float32)
OUT = os.path.dirname(os.path.abspath(__file__))
nan, inf = float("nan"), float("inf")


def enc(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return float(f"{v:.9g}")  # 9 significant digits round-trip a float32


def flat(t):
    return [enc(v) for v in t.detach().reshape(-1).tolist()]


cases = {}

# ---- elementwise: 13 values, so the wasm sweeps run 3 SIMD groups and a scalar tail ---------
x = torch.tensor([nan, -0.0, 0.0, inf, -inf, 1.5, -2.0, nan, 3e38, -3e38, 0.25, nan, -1e-40])
b = torch.tensor([0.5, -0.5, 0.0, nan, 1.0, -inf, 0.25, 1.0, 3e38, 0.0, -0.25, 2.0, 0.0])
cases["elementwise"] = {
    "x": flat(x),
    "b": flat(b),
    "relu": flat(F.relu(x)),
    "leaky_relu": flat(F.leaky_relu(x, 0.01)),
    "elu": flat(F.elu(x, 1.0)),
    "tanh": flat(torch.tanh(x)),
    "sigmoid": flat(torch.sigmoid(x)),
    "softplus": flat(F.softplus(x)),
    # relu(x + b): the dense layer's bias + ReLU epilogue, a residual join with its ReLU
    "x_plus_b": flat(x + b),
    "relu_x_plus_b": flat(F.relu(x + b)),
}


# ---- max pooling: value and index of every window -------------------------------------------
def pool_case(name, x, kernel, stride, padding=0, relu=False, bias=None):
    n, C, H, W = x.shape
    inp = x
    if bias is not None:
        inp = inp + bias.view(1, C, 1, 1)
    if relu:
        inp = F.relu(inp)
    y, idx = F.max_pool2d(inp, kernel, stride=stride, padding=padding, return_indices=True)
    return {
        "name": name, "n": n, "C": C, "H": H, "W": W, "kernel": kernel, "stride": stride,
        "padding": padding, "relu": relu, "x": flat(x), "bias": flat(bias) if bias is not None else None,
        "y": flat(y), "idx": [int(v) for v in idx.reshape(-1).tolist()],
    }


# two planes of 4 x 10: 2 rows of 5 windows (the wasm kernel's SIMD groups of 4 and a moved-back
# last group), NaN in each position of a window, two NaNs, NaN with +-Inf, windows of -Inf, of
# negatives, of zeros of both signs
p = torch.tensor([
    [nan, 1.0, 2.0, nan, 5.0, 4.0, 1.0, 2.0, -1.0, -2.0],
    [0.5, 3.0, 1.0, 0.0, nan, 6.0, 3.0, nan, -3.0, -0.5],
    [-inf, -inf, inf, nan, -0.0, 0.0, -1.0, 7.0, nan, nan],
    [-inf, -inf, 1.0, 2.0, 0.0, -0.0, -2.0, -3.0, nan, 1.0],
])
q = torch.tensor([
    [-1.0, -2.0, 0.5, 0.25, 1.0, 1.0, -0.0, -0.0, 9.0, 8.0],
    [-3.0, -4.0, 0.25, 0.5, 1.0, 1.0, -0.0, 0.0, 7.0, nan],
    [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
    [10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, inf],
])
x2 = torch.stack([p, q]).view(1, 2, 4, 10)
pb = torch.tensor([-1.5, 0.5])
g = torch.arange(2 * 3 * 7 * 7, dtype=torch.float32).view(2, 3, 7, 7).sin()
g[0, 0, 1, 1] = nan
g[0, 1, 3, 4] = nan
g[0, 1, 3, 5] = nan
g[1, 2, 6, 6] = nan
g[1, 0, 0, 0] = -inf
g[1, 1, 2, 2] = inf
g[1, 1, 2, 3] = nan
cases["pool"] = [
    pool_case("2x2", x2, 2, 2),
    pool_case("2x2 of relu(x)", x2, 2, 2, relu=True),
    pool_case("2x2 of relu(x + bias)", x2, 2, 2, relu=True, bias=pb),
    pool_case("2x2 on 7x7 planes (odd sizes)", g, 2, 2),
    pool_case("3x3 stride 1 padding 1", g, 3, 1, 1),
    pool_case("3x3 stride 2", g, 3, 2),
    pool_case("2x2 stride 1 (overlapping)", g, 2, 1),
]

# ---- batch norm (training) + ReLU: channel 1 holds a NaN, channel 2 an Inf -------------------
bx = torch.arange(3 * 3 * 4, dtype=torch.float32).view(3, 3, 4).cos() * 2
bx[1, 1, 2] = nan
bx[2, 2, 0] = inf
bx = bx.view(3, 3, 2, 2)
rm = torch.tensor([0.1, -0.2, 0.3])
rv = torch.tensor([1.0, 2.0, 0.5])
gamma = torch.tensor([1.0, 0.5, 2.0])
beta = torch.tensor([0.0, 0.1, -0.1])
rm2, rv2 = rm.clone(), rv.clone()
bz = F.batch_norm(bx, rm2, rv2, gamma, beta, training=True, momentum=0.1, eps=1e-5)
cases["batchnorm_relu"] = {
    "n": 3, "C": 3, "S": 4, "eps": 1e-5, "momentum": 0.1,
    "x": flat(bx), "gamma": flat(gamma), "beta": flat(beta), "rm": flat(rm), "rv": flat(rv),
    "y": flat(F.relu(bz)), "rmAfter": flat(rm2), "rvAfter": flat(rv2),
}

# ---- 3x3 convolution (padding 1) + ReLU: one NaN and one Inf input pixel ---------------------
# PyTorch's direct convolution makes the 3x3 neighbourhood of each non-finite pixel non-finite in
# every output channel (one infinite term: +-Inf by the weight's sign); relu keeps NaN and +Inf
torch.manual_seed(7)
cx = torch.randn(2, 3, 6, 6)
cx[0, 1, 2, 3] = nan
cx[1, 0, 4, 1] = inf
cw = torch.randn(4, 3, 3, 3)
cb = torch.randn(4)
cy = F.conv2d(cx, cw, cb, padding=1)
cases["conv_relu"] = {
    "n": 2, "C": 3, "H": 6, "W": 6, "K": 4,
    "x": flat(cx), "w": flat(cw), "b": flat(cb), "y": flat(cy), "ry": flat(F.relu(cy)),
}

# ---- losses: a row with a NaN logit, a row with an Inf logit --------------------------------
logits = torch.tensor([[nan, 1.0, 2.0], [0.5, 1.0, 2.0]])
logits_inf = torch.tensor([[inf, 1.0, 2.0], [0.5, 1.0, 2.0]])
labels = torch.tensor([1, 2])
target = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
cases["losses"] = {
    "logits": flat(logits), "logitsInf": flat(logits_inf), "labels": labels.tolist(), "target": flat(target),
    "ce": enc(F.cross_entropy(logits, labels).item()),
    "ceInf": enc(F.cross_entropy(logits_inf, labels).item()),
    "mse": enc(F.mse_loss(logits, target).item()),
    "l1": enc(F.l1_loss(logits, target).item()),
    "huber": enc(F.huber_loss(logits, target).item()),
    "bce": enc(F.binary_cross_entropy_with_logits(logits, target).item()),
}

path = os.path.join(OUT, "nan.json")
with open(path, "w") as f:
    json.dump(cases, f, separators=(",", ":"), allow_nan=False)
    f.write("\n")
print(f"nan.json: {os.path.getsize(path)} bytes")
