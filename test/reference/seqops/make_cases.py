# Writes the PyTorch reference of the non-recurrent sequence layers (test/seqops-torch.test.ts):
# embedding (with padding_idx), conv1d (stride, padding int/same/valid, dilation, groups, bias),
# maxpool1d / avgpool1d, global_avgpool / global_maxpool over time (and global_maxpool over images),
# last, and a chain of them; each from given weights: the output, the MSE loss against given
# targets, the gradient of every parameter and the gradient at the tested layer's input.
#
# Padded cases (lengths): the reference is each sample cut at its length and run ALONE (batch of 1),
# its sequence output padded back with zeros: "a padded position changes nothing" against PyTorch
# itself, not against a mask we wrote. Token ids past a sample's length are garbage (out of the
# vocabulary) on purpose: they must not be read.
#
# Layers are channels-first in PyTorch (nn.Conv1d, nn.MaxPool1d): the model transposes around them,
# as the PyTorch target does. Parameter names are dnnc's (dense_0.weight, conv1d_0.bias, ...).
# Run with the system Python that has torch 1.13:  /usr/bin/python3 test/reference/seqops/make_cases.py
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(1813)
HERE = os.path.dirname(os.path.abspath(__file__))


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def tr(m):
    """A channels-first 1-D module applied to a channels-last (n, T, C) sequence."""
    return lambda x: m(x.transpose(1, 2)).transpose(1, 2)


def case(name, spec, shape, n, modules, fwd, lengths=None, ids=None, vocab=None, garbage=None):
    """
    spec: the model's layer lines (dnnc); shape: the input shape; modules: {dnnc name: module};
    fwd(x) -> (out, pre): the model on a batch, pre = the tested layer's input (or None).
    """
    T = shape[0]
    for m in modules.values():
        m.zero_grad(set_to_none=True)
    if ids is not None:
        x = torch.randint(0, vocab, (n, T)).float()
        for (b, t, v) in ids:
            x[b, t] = v
    else:
        x = torch.randn(n, *shape)
    L = lengths if lengths is not None else [T] * n
    if garbage is not None:
        for b in range(n):
            x[b, L[b]:] = garbage
    with torch.no_grad():
        full, _ = fwd(x.clone() if ids is None else x.clamp(0, vocab - 1))
    outs, pres = [], []
    for b in range(n):
        o, p = fwd(x[b : b + 1, : L[b]])
        if p is not None:
            p.retain_grad()
        outs.append(o)
        pres.append(p)
    seq = full.dim() == 3
    if seq:
        out = torch.zeros_like(full)
        for b, o in enumerate(outs):
            out[b, : o.shape[1]] = o[0]
    else:
        out = torch.cat(outs, 0)
    y = torch.randn_like(out)
    loss = F.mse_loss(out, y)
    loss.backward()
    params = {}
    for mname, m in modules.items():
        for pname, p in m.named_parameters():
            params[f"{mname}.{pname}"] = p
    c = {
        "name": name,
        "spec": spec,
        "shape": shape,
        "n": n,
        "x": flat(x),
        "lengths": lengths,
        "y": flat(y),
        "out": flat(out),
        "outShape": list(out.shape[1:]),
        "loss": float(loss),
        "params": {k: flat(v) for k, v in params.items()},
        "grads": {k: flat(v.grad) for k, v in params.items()},
    }
    if pres[0] is not None:
        dx = torch.zeros(n, T, pres[0].shape[2])
        for b, p in enumerate(pres):
            dx[b, : p.shape[1]] = p.grad[0]
        c["dx"] = flat(dx)
    return c


def pre_dense(fin, fout):
    d = nn.Linear(fin, fout)
    return d


cases = []

# ---- embedding ----------------------------------------------------------------------------------
for (name, pad, lengths) in [("embedding", None, None), ("embedding padding_idx", 0, None), ("embedding padded", 1, [6, 3, 1, 4])]:
    V, D, T, n = 7, 5, 6, 4
    e = nn.Embedding(V, D, padding_idx=pad)
    spec = f"embedding({V}, {D}{'' if pad is None else f', padding_idx={pad}'}) -> tanh"
    ids = [(0, 0, 0), (1, 2, 0), (2, 0, 3), (2, 1, 3)] + ([(0, 5, 1), (3, 1, 1)] if pad == 1 else [])
    cases.append(
        case(name, spec, [T], n, {"embedding_0": e}, lambda x, e=e: (torch.tanh(e(x.long())), None), lengths=lengths, ids=ids, vocab=V, garbage=999 if lengths else None)
    )

# ---- conv1d -------------------------------------------------------------------------------------
conv_cases = [
    # name, kernel, stride, padding (dnnc text, torch value), dilation, groups, bias, lengths
    ("conv1d same", 3, 1, ("same", "same"), 1, 1, True, None),
    ("conv1d stride 2", 5, 2, ("1", 1), 1, 1, True, None),
    ("conv1d dilation groups", 3, 1, ("valid", 0), 2, 2, True, None),
    ("conv1d even same", 4, 1, ("same", "same"), 1, 1, False, None),
    ("conv1d pointwise", 1, 1, ("0", 0), 1, 1, True, None),
    ("conv1d same padded", 3, 1, ("same", "same"), 1, 1, True, [9, 4, 7]),
    ("conv1d stride 2 padded", 5, 2, ("1", 1), 1, 1, True, [9, 6, 5]),
    ("conv1d dilation groups padded", 3, 1, ("valid", 0), 2, 2, False, [9, 5, 8]),
]
for (name, k, s, (ptxt, pval), d, g, bias, lengths) in conv_cases:
    T, Fin, C, K, n = 9, 3, 4, 6, 3
    pre = pre_dense(Fin, C)
    conv = nn.Conv1d(C, K, k, stride=s, padding=pval, dilation=d, groups=g, bias=bias)
    args = f"{K}, {k}" + (f", stride={s}" if s != 1 else "") + f", padding={ptxt}" + (f", dilation={d}" if d != 1 else "") + (f", groups={g}" if g != 1 else "") + ("" if bias else ", bias=false")
    spec = f"dense({C})\n  conv1d({args})"

    def fwd(x, pre=pre, conv=conv):
        p = pre(x)
        return tr(conv)(p), p

    cases.append(case(name, spec, [T, Fin], n, {"dense_0": pre, "conv1d_0": conv}, fwd, lengths=lengths, garbage=4.0 if lengths else None))

# ---- maxpool1d / avgpool1d ----------------------------------------------------------------------
pool_cases = [
    ("maxpool1d", "maxpool1d(2)", lambda: nn.MaxPool1d(2), None),
    ("maxpool1d k3 s2 p1", "maxpool1d(3, 2, padding=1)", lambda: nn.MaxPool1d(3, 2, padding=1), None),
    ("maxpool1d k3 s1 p1 padded", "maxpool1d(3, 1, padding=1)", lambda: nn.MaxPool1d(3, 1, padding=1), [8, 3, 5]),
    ("maxpool1d k3 s2 p1 padded", "maxpool1d(3, 2, padding=1)", lambda: nn.MaxPool1d(3, 2, padding=1), [8, 4, 1]),
    ("avgpool1d", "avgpool1d(2)", lambda: nn.AvgPool1d(2), None),
    ("avgpool1d k3 s2 p1", "avgpool1d(3, 2, padding=1)", lambda: nn.AvgPool1d(3, 2, padding=1, count_include_pad=True), None),
    ("avgpool1d k2 padded", "avgpool1d(2)", lambda: nn.AvgPool1d(2), [8, 5, 2]),
    ("avgpool1d k3 s2 p1 padded", "avgpool1d(3, 2, padding=1)", lambda: nn.AvgPool1d(3, 2, padding=1, count_include_pad=True), [7, 4, 3]),
]
for (name, layer, mk, lengths) in pool_cases:
    T, Fin, C, n = 8, 3, 4, 3
    pre = pre_dense(Fin, C)
    pool = mk()

    def fwd(x, pre=pre, pool=pool):
        p = pre(x)
        return tr(pool)(p), p

    # (garbage past the lengths goes into x: the dense before the pool is masked by the lengths)
    cases.append(case(name, f"dense({C})\n  {layer}", [T, Fin], n, {"dense_0": pre}, fwd, lengths=lengths, garbage=5.0 if lengths else None))

# ---- global pools over time, last ---------------------------------------------------------------
reductions = [
    ("global_avgpool", lambda p: p.mean(1)),
    ("global_maxpool", lambda p: p.max(1).values),
    ("last", lambda p: p[:, -1]),
]
for (layer, red) in reductions:
    for lengths in [None, [7, 1, 4, 6]]:
        T, Fin, C, n = 7, 3, 5, 4
        pre = pre_dense(Fin, C)

        def fwd(x, pre=pre, red=red):
            p = pre(x)
            return red(p), p

        name = layer + (" padded" if lengths else "")
        cases.append(case(name, f"dense({C})\n  {layer}", [T, Fin], n, {"dense_0": pre}, fwd, lengths=lengths, garbage=-3.0 if lengths else None))

# ---- global_maxpool over images ------------------------------------------------------------------
conv2 = nn.Conv2d(2, 3, 3, padding=1)


def img_fwd(x):
    return conv2(x).flatten(2).max(2).values, None


cases.append(case("global_maxpool image", "conv2d(3, 3, padding=1)\n  global_maxpool", [2, 4, 5], 3, {"conv2d_0": conv2}, img_fwd))

# ---- a chain: the time maps compose ---------------------------------------------------------------
V, D, T, n = 9, 6, 12, 4
emb = nn.Embedding(V, D, padding_idx=0)
c0 = nn.Conv1d(D, 8, 3, padding="same")
mp = nn.MaxPool1d(2)
c1 = nn.Conv1d(8, 5, 3, stride=1, padding=0)
head = nn.Linear(5, 3)


def chain(x):
    h = torch.relu(tr(c0)(emb(x.long())))
    h = tr(c1)(tr(mp)(h))
    return head(torch.tanh(h.max(1).values)), None


for lengths in [None, [12, 7, 6, 9]]:
    cases.append(
        case(
            "chain" + (" padded" if lengths else ""),
            f"embedding({V}, {D}, padding_idx=0)\n  conv1d(8, 3, padding=same) -> relu\n  maxpool1d(2)\n  conv1d(5, 3)\n  global_maxpool -> tanh\n  dense(3)",
            [T],
            n,
            {"embedding_0": emb, "conv1d_0": c0, "conv1d_1": c1, "dense_0": head},
            chain,
            lengths=lengths,
            ids=[(1, 3, 0), (2, 0, 0)],
            vocab=V,
            garbage=-7 if lengths else None,
        )
    )

with open(os.path.join(HERE, "cases.json"), "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
    f.write("\n")
print(f"{len(cases)} cases")
