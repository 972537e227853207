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


# Initializers: PyTorch's own sample statistics (std, mean, min, max) on large tensors, and its
# fans and gains; test/init.test.ts draws ours and compares statistics.
def init_case(name, shape, fn, spec):
    t = torch.empty(*shape)
    fn(t)
    fan_in, fan_out = (torch.nn.init._calculate_fan_in_and_fan_out(t) if len(shape) >= 2 else (None, None))
    return {"name": name, "shape": list(shape), "spec": spec, "fanIn": fan_in, "fanOut": fan_out,
            "std": float(t.std()), "mean": float(t.mean()), "min": float(t.min()), "max": float(t.max())}


I = torch.nn.init
inits = [
    init_case("xavier_normal gain 2", (200, 300), lambda t: I.xavier_normal_(t, gain=2.0),
              {"kind": "xavier_normal", "gain": 2.0}),
    init_case("xavier_uniform", (300, 200), I.xavier_uniform_, {"kind": "xavier_uniform"}),
    init_case("xavier_uniform conv", (64, 8, 3, 3), I.xavier_uniform_, {"kind": "xavier_uniform"}),
    init_case("kaiming_normal fan_out relu conv", (64, 16, 3, 3),
              lambda t: I.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
              {"kind": "kaiming_normal", "mode": "fan_out", "nonlinearity": "relu"}),
    init_case("kaiming_normal default", (256, 784), I.kaiming_normal_, {"kind": "kaiming_normal"}),
    init_case("kaiming_uniform leaky 0.2", (256, 784), lambda t: I.kaiming_uniform_(t, a=0.2),
              {"kind": "kaiming_uniform", "a": 0.2}),
    init_case("kaiming_uniform tanh fan_out", (100, 400),
              lambda t: I.kaiming_uniform_(t, mode="fan_out", nonlinearity="tanh"),
              {"kind": "kaiming_uniform", "mode": "fan_out", "nonlinearity": "tanh"}),
    init_case("kaiming_normal sigmoid", (100, 400), lambda t: I.kaiming_normal_(t, nonlinearity="sigmoid"),
              {"kind": "kaiming_normal", "nonlinearity": "sigmoid"}),
    init_case("nn.Linear default weight", (256, 784), lambda t: t.copy_(torch.nn.Linear(784, 256).weight),
              {"kind": "torch_default_linear"}),
    init_case("nn.Linear default bias", (256,), lambda t: t.copy_(torch.nn.Linear(784, 256).bias),
              {"kind": "torch_default_bias", "fanIn": 784}),
    init_case("nn.Conv2d default weight (groups 2)", (64, 8, 3, 3),
              lambda t: t.copy_(torch.nn.Conv2d(16, 64, 3, groups=2).weight), {"kind": "torch_default_linear"}),
    init_case("nn.Conv2d default bias (groups 2)", (64,),
              lambda t: t.copy_(torch.nn.Conv2d(16, 64, 3, groups=2).bias), {"kind": "torch_default_bias", "fanIn": 72}),
    init_case("normal", (100, 1000), lambda t: I.normal_(t, 0.5, 0.02), {"kind": "normal", "mean": 0.5, "std": 0.02}),
    init_case("uniform", (100, 1000), lambda t: I.uniform_(t, -0.3, 0.7), {"kind": "uniform", "low": -0.3, "high": 0.7}),
    init_case("orthogonal gain 1.5 wide", (64, 128), lambda t: I.orthogonal_(t, gain=1.5),
              {"kind": "orthogonal", "gain": 1.5}),
    init_case("orthogonal tall", (300, 40), I.orthogonal_, {"kind": "orthogonal"}),
    init_case("orthogonal conv", (16, 4, 3, 3), I.orthogonal_, {"kind": "orthogonal"}),
]
gains = {k: I.calculate_gain(k) for k in ["linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]}
gains["leaky_relu_0.2"] = I.calculate_gain("leaky_relu", 0.2)
dump("init.json", {"torch": torch.__version__, "cases": inits, "gains": gains})
