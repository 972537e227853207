# Writes the PyTorch reference of the recurrent layers of the language, lstm and gru
# (test/rnn-op-torch.test.ts): nn.LSTM / nn.GRU (batch_first=True) in small models, each case from
# given weights: the output, the loss (MSE, or cross-entropy at every position for the language
# models), the gradient of every parameter and the gradient at the recurrent layer's input (the
# output of the dense or embedding before it), then THREE optimizer steps on the same batch
# (AdamW with decoupled decay on the weights, global-norm gradient clipping): each step's loss and
# the parameters after the last. Covered: lstm and gru; layers=2; bidirectional; bias=False;
# return_sequences=false (the last layer's final state, torch.cat([h_n[-2], h_n[-1]], 1) with two
# directions); padded batches; after a strided conv1d (lengths through a time map); an embedding ->
# recurrent -> dense language model with cross-entropy at every position, padded and not.
#
# Padded cases (lengths): the reference is each sample cut at its length and run ALONE (batch of 1),
# its sequence output padded back with zeros: "a padded position changes nothing" against PyTorch
# itself. Inputs past a sample's length are garbage on purpose (they must not be read).
#
# Parameter names are dnnc's (dense_0.weight, lstm_0.weight_ih_l0_reverse, ...), which are PyTorch's
# state-dict names under the node ids.
# Run with the system Python that has torch 1.13:  /usr/bin/python3 test/reference/rnnop/make_cases.py
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(1818)
HERE = os.path.dirname(os.path.abspath(__file__))
LR, DECAY, CLIP, STEPS = 0.02, 0.1, 0.5, 3


def flat(t):
    # 9 significant digits round-trip a float32 exactly
    return [float(f"{v:.9g}") for v in t.detach().reshape(-1).tolist()]


def tr(m):
    """A channels-first 1-D module applied to a channels-last (n, T, C) sequence."""
    return lambda x: m(x.transpose(1, 2)).transpose(1, 2)


def rnn_out(m, x, seq):
    """A recurrent module's output: the sequence, or the last layer's final state (both directions concatenated)."""
    y, st = m(x)
    if seq:
        return y
    h = st[0] if isinstance(m, nn.LSTM) else st
    return torch.cat([h[-2], h[-1]], 1) if m.bidirectional else h[-1]


def case(name, spec, shape, n, modules, fwd, loss="mse", lengths=None, ids=None, vocab=None, garbage=None):
    """
    spec: the model's layer lines (dnnc); shape: the input shape; modules: {dnnc name: module};
    fwd(x) -> (out, pre): the model on a batch, pre = the recurrent layer's input.
    """
    T = shape[0]
    params = {}
    for mname, m in modules.items():
        for pname, p in m.named_parameters():
            params[f"{mname}.{pname}"] = p
    initial = {k: flat(v) for k, v in params.items()}
    if ids is not None:
        x = torch.randint(0, vocab, (n, T)).float()
    else:
        x = torch.randn(n, *shape)
    L = lengths if lengths is not None else [T] * n
    if garbage is not None:
        for b in range(n):
            x[b, L[b] :] = garbage
    with torch.no_grad():
        full, pre_full = fwd(x.clamp(0, vocab - 1) if ids is not None else x.clone())
    seq = full.dim() == 3

    def run():
        outs, pres = [], []
        for b in range(n):
            o, p = fwd(x[b : b + 1, : L[b]])
            p.retain_grad()
            outs.append(o)
            pres.append(p)
        if seq:
            out = torch.zeros_like(full)
            for b, o in enumerate(outs):
                out[b, : o.shape[1]] = o[0]
        else:
            out = torch.cat(outs, 0)
        return out, pres

    if loss == "ce":
        V = full.shape[2]
        y = torch.randint(0, V, (n, T)).float()
        for b in range(n):
            y[b, L[b] :] = -1
        lossf = lambda out: F.cross_entropy(out.reshape(-1, V), y.reshape(-1).long(), ignore_index=-1)
    else:
        y = torch.randn_like(full)
        lossf = lambda out: F.mse_loss(out, y)
    out, pres = run()
    value = lossf(out)
    value.backward()
    c = {
        "name": name,
        "spec": spec,
        "loss": loss,
        "shape": shape,
        "n": n,
        "x": flat(x),
        "lengths": lengths,
        "y": flat(y),
        "out": flat(out),
        "outShape": list(out.shape[1:]),
        "value": float(value),
        "params": initial,
        "grads": {k: flat(v.grad) for k, v in params.items()},
    }
    dx = torch.zeros_like(pre_full)
    for b, p in enumerate(pres):
        dx[b, : p.shape[1]] = p.grad[0]
    c["dx"] = flat(dx)
    # STEPS optimizer steps on this batch: AdamW, decoupled decay on the weights, clip_norm
    decayed = [p for k, p in params.items() if "weight" in k.split(".")[-1]]
    rest = [p for k, p in params.items() if "weight" not in k.split(".")[-1]]
    opt = torch.optim.AdamW([{"params": decayed, "weight_decay": DECAY}, {"params": rest, "weight_decay": 0.0}], lr=LR)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        out, _ = run()
        v = lossf(out)
        v.backward()
        nn.utils.clip_grad_norm_(list(params.values()), CLIP)
        opt.step()
        losses.append(float(v))
    c["losses"] = losses
    c["final"] = {k: flat(v) for k, v in params.items()}
    return c


cases = []
T, Fin, C, U, n = 5, 3, 4, 4, 3


def recurrent(name, cell, args, lengths=None):
    """dense(C) -> cell(U, args): the recurrent layer's input gradient is the dense's output gradient."""
    kw = dict(args)
    seq = kw.pop("return_sequences", True)
    pre = nn.Linear(Fin, C)
    m = (nn.LSTM if cell == "lstm" else nn.GRU)(C, U, batch_first=True, **kw)
    text = ", ".join([str(U)] + [f"{k}={str(v).lower()}" for k, v in args.items()])

    def fwd(x, pre=pre, m=m, seq=seq):
        p = pre(x)
        return rnn_out(m, p, seq), p

    cases.append(case(name, f"dense({C})\n  {cell}({text})", [T, Fin], n, {"dense_0": pre, f"{cell}_0": m}, fwd, lengths=lengths, garbage=6.0 if lengths else None))


recurrent("lstm", "lstm", {})
recurrent("gru", "gru", {})
recurrent("lstm layers=2", "lstm", {"num_layers": 2})
recurrent("gru layers=2 bidirectional", "gru", {"num_layers": 2, "bidirectional": True})
recurrent("lstm bidirectional", "lstm", {"bidirectional": True})
recurrent("lstm bias=false", "lstm", {"bias": False})
recurrent("lstm return_sequences=false bidirectional", "lstm", {"bidirectional": True, "return_sequences": False})
recurrent("gru return_sequences=false layers=2", "gru", {"num_layers": 2, "return_sequences": False})
recurrent("lstm padded layers=2 bidirectional", "lstm", {"num_layers": 2, "bidirectional": True}, lengths=[5, 2, 4])
recurrent("gru padded bidirectional", "gru", {"bidirectional": True}, lengths=[3, 5, 1])
recurrent("lstm padded return_sequences=false bidirectional", "lstm", {"bidirectional": True, "return_sequences": False}, lengths=[2, 5, 3])
recurrent("gru padded return_sequences=false layers=2", "gru", {"num_layers": 2, "return_sequences": False}, lengths=[4, 1, 5])

# the dnnc spelling of the arguments (num_layers -> layers)
for c in cases:
    c["spec"] = c["spec"].replace("num_layers=", "layers=")

# ---- after a strided conv1d: each sample's length through the time map ----------------------------
T2 = 9
conv = nn.Conv1d(Fin, C, 3, stride=2)
g2 = nn.GRU(C, U, batch_first=True, bidirectional=True)


def conv_fwd(x):
    p = tr(conv)(x)
    return rnn_out(g2, p, True), p


cases.append(case("gru after conv1d stride 2 padded", "conv1d(4, 3, stride=2)\n  gru(4, bidirectional=true)", [T2, Fin], n, {"conv1d_0": conv, "gru_0": g2}, conv_fwd, lengths=[9, 4, 6], garbage=3.0))

# ---- language models: embedding -> recurrent -> dense at every position, cross-entropy ------------
V, E, T3 = 7, 5, 6
for (name, cell, bidirectional, lengths) in [("lm lstm", "lstm", False, None), ("lm gru bidirectional padded", "gru", True, [6, 3, 1, 5])]:
    emb = nn.Embedding(V, E)
    m = (nn.LSTM if cell == "lstm" else nn.GRU)(E, U, batch_first=True, bidirectional=bidirectional)
    head = nn.Linear((2 if bidirectional else 1) * U, V)

    def lm(x, emb=emb, m=m, head=head):
        p = emb(x.long())
        return head(m(p)[0]), p

    spec = f"embedding({V}, {E})\n  {cell}({U}{', bidirectional=true' if bidirectional else ''})\n  dense({V})"
    nb = 4 if lengths else 3
    cases.append(
        case(name, spec, [T3], nb, {"embedding_0": emb, f"{cell}_0": m, "dense_0": head}, lm, loss="ce", lengths=lengths, ids=True, vocab=V, garbage=999 if lengths else None)
    )

with open(os.path.join(HERE, "cases.json"), "w") as f:
    json.dump({"torch": torch.__version__, "lr": LR, "decay": DECAY, "clip": CLIP, "steps": STEPS, "cases": cases}, f, separators=(",", ":"))
    f.write("\n")
print(f"{len(cases)} cases")
