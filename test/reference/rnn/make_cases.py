"""Writes the PyTorch reference cases for the recurrent kernels (runtime/kernels/rnn.ts).

Run with /usr/bin/python3 (PyTorch 1.13) from anywhere:
    /usr/bin/python3 test/reference/rnn/make_cases.py
Deterministic (seeded, float32, CPU). nn.LSTM / nn.GRU with batch_first=True: forward output,
final states (h_n, c_n), and the gradients of every parameter, of x and of the initial state for
L = sum(out * dy) + sum(h_n * dh_n) [+ sum(c_n * dc_n)], dy, dh_n, dc_n random. Variable lengths
go through pack_padded_sequence(enforce_sorted=False) / pad_packed_sequence(total_length=T):
padded outputs are 0 and get no gradient. test/kernels-rnn-torch.test.ts runs our kernels on them.
"""
import json
import os

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

torch.manual_seed(1813)
torch.set_default_dtype(torch.float32)
OUT = os.path.dirname(os.path.abspath(__file__))


def flat(t):
    # 9 significant digits round-trip a float32 exactly.
    return [float(f"{v:.9g}") for v in t.detach().reshape(-1).tolist()]


def case(name, cell, n, T, F, H, layers=1, bidirectional=False, lengths=None, init=False, bias=True, state_grad=True):
    mod = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(
        F, H, num_layers=layers, bidirectional=bidirectional, batch_first=True, bias=bias)
    D = 2 if bidirectional else 1
    x = torch.randn(n, T, F, requires_grad=True)
    h0 = torch.randn(layers * D, n, H, requires_grad=True) if init else None
    c0 = torch.randn(layers * D, n, H, requires_grad=True) if init and cell == "lstm" else None
    state = None if not init else ((h0, c0) if cell == "lstm" else h0)
    if lengths is not None:
        packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        out_p, st = mod(packed, state)
        out, _ = pad_packed_sequence(out_p, batch_first=True, total_length=T)
    else:
        out, st = mod(x, state)
    hn, cn = st if cell == "lstm" else (st, None)
    dy = torch.randn_like(out)
    loss = (out * dy).sum()
    dhn = dcn = None
    if state_grad:
        dhn = torch.randn_like(hn)
        loss = loss + (hn * dhn).sum()
        if cn is not None:
            dcn = torch.randn_like(cn)
            loss = loss + (cn * dcn).sum()
    loss.backward()
    params = dict(mod.named_parameters())
    return {
        "name": name, "cell": cell, "n": n, "T": T, "F": F, "H": H, "layers": layers,
        "bidirectional": bidirectional, "bias": bias, "lengths": lengths,
        "x": flat(x), "h0": flat(h0) if h0 is not None else None, "c0": flat(c0) if c0 is not None else None,
        "params": {k: flat(v) for k, v in params.items()},
        "dy": flat(dy), "dhn": flat(dhn) if dhn is not None else None, "dcn": flat(dcn) if dcn is not None else None,
        "y": flat(out), "hn": flat(hn), "cn": flat(cn) if cn is not None else None,
        "grads": {k: flat(v.grad) for k, v in params.items()},
        "dx": flat(x.grad),
        "dh0": flat(h0.grad) if h0 is not None else None, "dc0": flat(c0.grad) if c0 is not None else None,
    }


def tbptt_case(name, cell, n, T, F, H, layers=1):
    """Two windows of T steps, the state carried from the first to the second and detached
    (truncated BPTT): L = sum(out1 * dy1) + sum(out2 * dy2), so the parameter gradients are the
    sum of the two windows' (our side: the second backward adds, beta 1)."""
    mod = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(F, H, num_layers=layers, batch_first=True)
    x = torch.randn(n, 2 * T, F)
    out1, st1 = mod(x[:, :T])
    st1 = tuple(s.detach() for s in st1) if cell == "lstm" else st1.detach()
    out2, st2 = mod(x[:, T:], st1)
    hn, cn = st2 if cell == "lstm" else (st2, None)
    dy1 = torch.randn_like(out1)
    dy2 = torch.randn_like(out2)
    ((out1 * dy1).sum() + (out2 * dy2).sum()).backward()
    params = dict(mod.named_parameters())
    return {
        "name": name, "cell": cell, "n": n, "T": T, "F": F, "H": H, "layers": layers,
        "x": flat(x), "params": {k: flat(v) for k, v in params.items()},
        "dy1": flat(dy1), "dy2": flat(dy2), "y1": flat(out1), "y2": flat(out2),
        "hn": flat(hn), "cn": flat(cn) if cn is not None else None,
        "grads": {k: flat(v.grad) for k, v in params.items()},
    }


cases = []
for cell in ("lstm", "gru"):
    cases += [
        case(f"{cell} 1 layer", cell, 3, 5, 4, 6),
        case(f"{cell} 1 layer, n=1, T=1, no state gradient", cell, 1, 1, 3, 5, state_grad=False),
        case(f"{cell} 1 layer, no bias", cell, 2, 4, 3, 5, bias=False),
        case(f"{cell} 2 layers", cell, 2, 4, 3, 5, layers=2),
        case(f"{cell} bidirectional", cell, 3, 4, 3, 6, bidirectional=True),
        case(f"{cell} 2 layers bidirectional", cell, 3, 5, 4, 5, layers=2, bidirectional=True),
        case(f"{cell} variable lengths, 2 layers bidirectional", cell, 4, 6, 3, 5, layers=2, bidirectional=True,
             lengths=[6, 2, 4, 1]),
        case(f"{cell} variable lengths, 1 layer", cell, 3, 5, 2, 7, lengths=[3, 5, 1]),
        case(f"{cell} initial state, 2 layers bidirectional", cell, 2, 4, 3, 5, layers=2, bidirectional=True, init=True),
        case(f"{cell} initial state and lengths, bidirectional", cell, 3, 5, 3, 4, bidirectional=True, init=True,
             lengths=[2, 5, 3]),
    ]

tbptt = [tbptt_case(f"{cell} truncated BPTT, 2 windows, 2 layers", cell, 2, 4, 3, 5, layers=2) for cell in ("lstm", "gru")]

path = os.path.join(OUT, "tbptt.json")
with open(path, "w") as f:
    json.dump(tbptt, f, separators=(",", ":"))
print(f"tbptt.json: {len(tbptt)} cases, {os.path.getsize(path)} bytes")

path = os.path.join(OUT, "cases.json")
with open(path, "w") as f:
    json.dump(cases, f, separators=(",", ":"))
print(f"cases.json: {len(cases)} cases, {os.path.getsize(path)} bytes")
