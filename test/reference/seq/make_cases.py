# Writes the PyTorch reference of the sequence core (test/seq-core.test.ts): dense and layer norm at
# every position of a sequence [T, F] (nn.Linear and nn.LayerNorm(F) on the last dimension), and
# softmax cross-entropy with a class at every position, padded positions ignored (ignore_index=-1,
# the mean over the rest): the loss and the gradient of every parameter, from given weights.
# Run with the system Python that has torch 1.13:  /usr/bin/python3 test/reference/seq/make_cases.py
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(2026)
HERE = os.path.dirname(os.path.abspath(__file__))


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def case(n, T, Fin, hidden, classes, ignore):
    d0 = torch.nn.Linear(Fin, hidden)
    ln = torch.nn.LayerNorm(hidden)
    with torch.no_grad():
        ln.weight.uniform_(0.5, 1.5)
        ln.bias.uniform_(-0.3, 0.3)
    d1 = torch.nn.Linear(hidden, classes)
    x = torch.randn(n, T, Fin)
    y = torch.randint(0, classes, (n, T))
    for (i, t) in ignore:
        y[i, t] = -1
    logits = d1(torch.tanh(ln(d0(x))))
    loss = F.cross_entropy(logits.reshape(-1, classes), y.reshape(-1), ignore_index=-1)
    loss.backward()
    params = {"dense_0.weight": d0.weight, "dense_0.bias": d0.bias, "layernorm_0.weight": ln.weight, "layernorm_0.bias": ln.bias, "dense_1.weight": d1.weight, "dense_1.bias": d1.bias}
    pred = logits.argmax(-1)
    mask = y != -1
    return {
        "n": n, "T": T, "F": Fin, "hidden": hidden, "classes": classes,
        "x": flat(x), "y": flat(y.float()), "logits": flat(logits),
        "loss": float(loss), "correct": int(((pred == y) & mask).sum()), "count": int(mask.sum()),
        "params": {k: flat(v) for k, v in params.items()},
        "grads": {k: flat(v.grad) for k, v in params.items()},
    }


cases = [
    case(3, 5, 4, 6, 3, []),
    case(4, 7, 3, 8, 5, [(0, 6), (0, 5), (2, 6), (3, 0)]),
]
with open(os.path.join(HERE, "cases.json"), "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
    f.write("\n")
