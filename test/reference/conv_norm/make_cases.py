"""Writes the PyTorch reference cases for the conv / pool / norm kernels (runtime/kernels/).

Run with /usr/bin/python3 (PyTorch 1.13) from anywhere:
    /usr/bin/python3 test/reference/conv_norm/make_cases.py
Deterministic (seeded, float32, CPU). Shapes are kept small so each JSON stays a few tens of kB.
Every case stores its inputs and PyTorch's outputs as flat row-major lists plus shapes; the
vitest file test/kernels-conv-norm-torch.test.ts loads them into a heap and runs our kernels.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
torch.set_default_dtype(torch.float32)
OUT = os.path.dirname(os.path.abspath(__file__))


def flat(t):
    # 9 significant digits round-trip a float32 exactly.
    return [float(f"{v:.9g}") for v in t.detach().reshape(-1).tolist()]


def write(name, cases):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(cases, f, separators=(",", ":"))
    print(f"{name}: {len(cases)} cases, {os.path.getsize(path)} bytes")


# --------------------------------------------------------------------------------------------
# conv2d: forward y, then backward of sum(y * dy): dx, dw, db
def conv_case(name, n, C, H, W, K, kernel, stride=1, padding=0, dilation=1, groups=1, bias=True):
    conv = torch.nn.Conv2d(C, K, kernel, stride=stride, padding=padding, dilation=dilation,
                           groups=groups, bias=bias)
    x = torch.randn(n, C, H, W, requires_grad=True)
    y = conv(x)
    dy = torch.randn_like(y)
    y.backward(dy)
    kh, kw = conv.kernel_size
    return {
        "name": name,
        "n": n, "C": C, "H": H, "W": W, "K": K, "kernel": [kh, kw],
        "stride": list(conv.stride), "dilation": list(conv.dilation), "groups": groups,
        "padding": padding if isinstance(padding, str) else list(conv.padding),
        "bias": bias,
        "x": flat(x), "w": flat(conv.weight), "b": flat(conv.bias) if bias else [],
        "yShape": list(y.shape), "y": flat(y), "dy": flat(dy),
        "dx": flat(x.grad), "dw": flat(conv.weight.grad), "db": flat(conv.bias.grad) if bias else [],
    }


conv_cases = [
    conv_case("3x3 pad 1", 2, 3, 7, 6, 4, 3, padding=1),
    conv_case("stride 2", 2, 2, 8, 7, 3, 3, stride=2, padding=1),
    conv_case("same, even kernel 4x2 (asymmetric)", 2, 2, 6, 5, 3, (4, 2), padding="same"),
    conv_case("same, dilation 2", 2, 2, 6, 7, 3, 3, padding="same", dilation=2),
    conv_case("dilation 2", 2, 3, 9, 8, 2, 3, dilation=2, padding=2),
    conv_case("groups 2", 2, 4, 6, 6, 6, 3, padding=1, groups=2),
    conv_case("depthwise groups 3", 2, 3, 5, 5, 6, 3, groups=3),
    conv_case("no bias, 2x3, stride (2,1), pad (0,1)", 2, 3, 7, 6, 4, (2, 3), stride=(2, 1),
              padding=(0, 1), bias=False),
    conv_case("pointwise 1x1", 2, 4, 3, 5, 3, 1),
]
write("conv.json", conv_cases)


# --------------------------------------------------------------------------------------------
# pooling
def pool_case(name, kind, n, C, H, W, kernel, stride=None, padding=0, count_include_pad=True, ints=False):
    if ints:  # many ties: checks that the FIRST maximum wins, as in PyTorch
        x = torch.randint(0, 3, (n, C, H, W)).float()
    else:
        x = torch.randn(n, C, H, W)
    x.requires_grad_(True)
    case = {"name": name, "kind": kind, "n": n, "C": C, "H": H, "W": W, "kernel": kernel,
            "stride": stride if stride is not None else kernel, "padding": padding,
            "countIncludePad": count_include_pad}
    if kind == "max":
        y, idx = F.max_pool2d(x, kernel, stride, padding, return_indices=True)
        case["idx"] = [int(v) for v in idx.reshape(-1).tolist()]
    elif kind == "avg":
        y = F.avg_pool2d(x, kernel, stride, padding, count_include_pad=count_include_pad)
    else:
        y = F.adaptive_avg_pool2d(x, 1).reshape(n, C)
    dy = torch.randn_like(y)
    y.backward(dy)
    case.update({"x": flat(x), "yShape": list(y.shape), "y": flat(y), "dy": flat(dy), "dx": flat(x.grad)})
    return case


pool_cases = [
    pool_case("max 2x2", "max", 2, 3, 6, 6, [2, 2]),
    pool_case("max 3x3 stride 2 pad 1", "max", 2, 2, 7, 6, [3, 3], [2, 2], [1, 1]),
    pool_case("max 3x2 stride (1,2), ties", "max", 2, 2, 5, 6, [3, 2], [1, 2], [1, 0], ints=True),
    pool_case("max 2x2 ties", "max", 1, 2, 4, 5, [2, 2], ints=True),
    pool_case("avg 2x2", "avg", 2, 3, 6, 5, [2, 2]),
    pool_case("avg 3x3 stride 2 pad 1 (count_include_pad)", "avg", 2, 2, 7, 6, [3, 3], [2, 2], [1, 1]),
    pool_case("avg 3x3 stride 1 pad 1 (exclude pad)", "avg", 1, 2, 5, 4, [3, 3], [1, 1], [1, 1],
              count_include_pad=False),
    pool_case("global avg", "global", 2, 3, 4, 5, None),
]
write("pool.json", pool_cases)


# --------------------------------------------------------------------------------------------
# batch norm: 3 training steps (forward + backward each), running stats after them, eval forward
def bn_case(name, shape, momentum=0.1, eps=1e-5, affine=True):
    C = shape[1]
    bn = torch.nn.BatchNorm1d(C, eps=eps, momentum=momentum, affine=affine) if len(shape) == 2 else \
        torch.nn.BatchNorm2d(C, eps=eps, momentum=momentum, affine=affine)
    if affine:
        with torch.no_grad():
            bn.weight.copy_(torch.rand(C) + 0.5)
            bn.bias.copy_(torch.randn(C))
    case = {"name": name, "shape": list(shape), "momentum": momentum, "eps": eps, "affine": affine,
            "gamma": flat(bn.weight) if affine else [], "beta": flat(bn.bias) if affine else [],
            "steps": []}
    bn.train()
    for step in range(3):
        x = (torch.randn(*shape) * (1 + step) + step).requires_grad_(True)
        if affine:
            bn.weight.grad = None
            bn.bias.grad = None
        y = bn(x)
        dy = torch.randn_like(y)
        y.backward(dy)
        case["steps"].append({
            "x": flat(x), "y": flat(y), "dy": flat(dy), "dx": flat(x.grad),
            "dgamma": flat(bn.weight.grad) if affine else [], "dbeta": flat(bn.bias.grad) if affine else [],
            "runMean": flat(bn.running_mean), "runVar": flat(bn.running_var),
        })
    bn.eval()
    x = torch.randn(*shape)
    with torch.no_grad():
        y = bn(x)
    case["eval"] = {"x": flat(x), "y": flat(y)}
    return case


bn_cases = [
    bn_case("dense [6, 5]", (6, 5)),
    bn_case("dense [4, 3] momentum 0.3 no affine", (4, 3), momentum=0.3, affine=False),
    bn_case("2d [3, 4, 3, 2]", (3, 4, 3, 2)),
    bn_case("2d [2, 3, 2, 2] eps 1e-3", (2, 3, 2, 2), eps=1e-3),
]
write("batchnorm.json", bn_cases)


# --------------------------------------------------------------------------------------------
# layer norm, group norm, instance norm: forward and backward
def norm_case(name, kind, shape, G=None, affine=True, eps=1e-5):
    C = shape[1]
    if kind == "layer":
        mod = torch.nn.LayerNorm(list(shape[1:]), eps=eps, elementwise_affine=affine)
        pshape = list(shape[1:])
    elif kind == "group":
        mod = torch.nn.GroupNorm(G, C, eps=eps, affine=affine)
        pshape = [C]
    else:
        mod = torch.nn.InstanceNorm2d(C, eps=eps, affine=affine)
        pshape = [C]
    if affine:
        with torch.no_grad():
            mod.weight.copy_(torch.rand(*pshape) + 0.5)
            mod.bias.copy_(torch.randn(*pshape))
    x = (torch.randn(*shape) * 2 + 0.5).requires_grad_(True)
    y = mod(x)
    dy = torch.randn_like(y)
    y.backward(dy)
    return {"name": name, "kind": kind, "shape": list(shape), "G": G, "eps": eps, "affine": affine,
            "gamma": flat(mod.weight) if affine else [], "beta": flat(mod.bias) if affine else [],
            "x": flat(x), "y": flat(y), "dy": flat(dy), "dx": flat(x.grad),
            "dgamma": flat(mod.weight.grad) if affine else [], "dbeta": flat(mod.bias.grad) if affine else []}


norm_cases = [
    norm_case("layer norm dense [4, 7]", "layer", (4, 7)),
    norm_case("layer norm (C,H,W) [2, 3, 2, 3]", "layer", (2, 3, 2, 3)),
    norm_case("layer norm (C,H,W) no affine [2, 4, 2, 2]", "layer", (2, 4, 2, 2), affine=False),
    norm_case("group norm G=2 [2, 4, 3, 2]", "group", (2, 4, 3, 2), G=2),
    norm_case("group norm G=3 [3, 6, 2, 2] no affine", "group", (3, 6, 2, 2), G=3, affine=False),
    norm_case("group norm G=1 [2, 3, 2, 2]", "group", (2, 3, 2, 2), G=1),
    norm_case("instance norm affine [2, 3, 3, 2]", "instance", (2, 3, 3, 2)),
]
write("norm.json", norm_cases)


# --------------------------------------------------------------------------------------------
# weight norm (dim 0): w = g v / ||v|| per output row, as torch.nn.utils.weight_norm computes it
def wn_case(name, vshape):
    v = torch.randn(*vshape, requires_grad=True)
    g = (torch.rand(vshape[0], *([1] * (len(vshape) - 1))) + 0.5).requires_grad_(True)
    w = torch._weight_norm(v, g, 0)
    dw = torch.randn_like(w)
    w.backward(dw)
    return {"name": name, "vShape": list(vshape), "g": flat(g), "v": flat(v), "w": flat(w),
            "dw": flat(dw), "dg": flat(g.grad), "dv": flat(v.grad)}


wn_cases = [
    wn_case("dense [4, 5]", (4, 5)),
    wn_case("conv [3, 2, 3, 3]", (3, 2, 3, 3)),
]
write("weightnorm.json", wn_cases)
