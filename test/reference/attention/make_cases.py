# Writes the PyTorch reference of the attention layer of the language (test/ops-attention-torch.test.ts):
# nn.MultiheadAttention(F, heads, batch_first=True) called on (x, x, x) in small models, each case from
# given weights: the output, the loss (MSE, or cross-entropy at every position for the language
# models), the gradient of every parameter and the gradient at the attention layer's input (the output
# of the dense or embedding before it), then THREE optimizer steps on the same batch (AdamW with
# decoupled decay on the weights, global-norm gradient clipping): each step's loss and the parameters
# after the last. Covered: one and several heads, causal (attn_mask = triu(ones, 1)), bias=False,
# padded batches with and without causal, a pre-norm residual block (layernorm, attention), and
# embedding -> attention -> dense language models with cross-entropy at every position, padded and not.
#
# Padded cases (lengths): the reference is each sample cut at its length and run ALONE (batch of 1, no
# mask at all), its output padded back with zeros: "a padded position changes nothing" against PyTorch
# itself. Inputs past a sample's length are garbage on purpose (they must not be read).
#
# Parameter names are dnnc's (attention_0.in_proj_weight, attention_0.out_proj.bias, ...), which are
# PyTorch's state-dict names under the node ids.
# Run with the system Python that has torch 1.13:  /usr/bin/python3 test/reference/attention/make_cases.py
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(1919)
HERE = os.path.dirname(os.path.abspath(__file__))
LR, DECAY, CLIP, STEPS = 0.02, 0.1, 0.5, 3


def flat(t):
    # 9 significant digits round-trip a float32 exactly
    return [float(f"{v:.9g}") for v in t.detach().reshape(-1).tolist()]


def mha(m, x, causal):
    T = x.shape[1]
    mask = torch.ones(T, T, dtype=torch.bool).triu(1) if causal else None
    return m(x, x, x, need_weights=False, attn_mask=mask)[0]


def case(name, spec, shape, n, modules, fwd, loss="mse", lengths=None, ids=False, vocab=None, garbage=None, rename=lambda k: k):
    """
    spec: the model's layer lines (dnnc); shape: the input shape; modules: {dnnc name: module};
    fwd(x) -> (out, pre): the model on a batch, pre = the attention layer's input; rename: PyTorch's
    parameter name -> dnnc's.
    """
    T = shape[0]
    params = {}
    for mname, m in modules.items():
        for pname, p in m.named_parameters():
            k = rename(f"{mname}.{pname}")
            if k is not None:
                params[k] = p
    initial = {k: flat(v) for k, v in params.items()}
    if ids:
        x = torch.randint(0, vocab, (n, T)).float()
    else:
        x = torch.randn(n, *shape)
    L = lengths if lengths is not None else [T] * n
    if garbage is not None:
        for b in range(n):
            x[b, L[b] :] = garbage
    with torch.no_grad():
        full, pre_full = fwd(x.clamp(0, vocab - 1) if ids else x.clone())

    def run():
        outs, pres = [], []
        for b in range(n):
            o, p = fwd(x[b : b + 1, : L[b]])
            p.retain_grad()
            outs.append(o)
            pres.append(p)
        out = torch.zeros_like(full)
        for b, o in enumerate(outs):
            out[b, : o.shape[1]] = o[0]
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
    # STEPS optimizer steps on this batch: AdamW, decoupled decay on the weights (not biases, not norms), clip_norm
    is_decayed = lambda k: "weight" in k.split(".")[-1] and not k.startswith("layernorm") and "_norm" not in k
    decayed = [p for k, p in params.items() if is_decayed(k)]
    rest = [p for k, p in params.items() if not is_decayed(k)]
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
T, Fin, C, n = 5, 3, 6, 3


def randomize_biases(m):
    # PyTorch starts the biases at zero: random ones so that their gradients and their use are checked
    with torch.no_grad():
        for pname, p in m.named_parameters():
            if "bias" in pname:
                p.uniform_(-0.5, 0.5)


def attn_case(name, heads, causal=False, bias=True, lengths=None):
    """dense(C) -> attention(heads): the attention layer's input gradient is the dense's output gradient."""
    pre = nn.Linear(Fin, C)
    m = nn.MultiheadAttention(C, heads, bias=bias, batch_first=True)
    randomize_biases(m)
    args = [str(heads)] + (["causal=true"] if causal else []) + ([] if bias else ["bias=false"])

    def fwd(x, pre=pre, m=m):
        p = pre(x)
        return mha(m, p, causal), p

    cases.append(case(name, f"dense({C})\n  attention({', '.join(args)})", [T, Fin], n, {"dense_0": pre, "attention_0": m}, fwd, lengths=lengths, garbage=6.0 if lengths else None))


attn_case("attention one head", 1)
attn_case("attention heads=2", 2)
attn_case("attention heads=3 causal", 3, causal=True)
attn_case("attention bias=false", 2, bias=False)
attn_case("attention padded", 2, lengths=[5, 2, 4])
attn_case("attention padded causal", 3, causal=True, lengths=[3, 5, 1])

# ---- a pre-norm residual block: x + attention(layernorm(x)) ---------------------------------------
pre = nn.Linear(Fin, C)
ln = nn.LayerNorm(C)
m = nn.MultiheadAttention(C, 2, batch_first=True)
randomize_biases(m)


def block(x):
    p = pre(x)
    return p + mha(m, ln(p), True), p


cases.append(case("residual pre-norm block causal", f"dense({C})\n  residual {{ layernorm\n  attention(2, causal=true) }}", [T, Fin], n, {"dense_0": pre, "layernorm_0": ln, "attention_0": m}, block))

# ---- language models: embedding -> attention -> dense at every position, cross-entropy ------------
V, E, T3 = 7, 4, 6
for (name, causal, lengths) in [("lm causal", True, None), ("lm causal padded", True, [6, 3, 1, 5])]:
    emb = nn.Embedding(V, E)
    m = nn.MultiheadAttention(E, 2, batch_first=True)
    randomize_biases(m)
    head = nn.Linear(E, V)

    def lm(x, emb=emb, m=m, head=head, causal=causal):
        p = emb(x.long())
        return head(mha(m, p, causal)), p

    spec = f"embedding({V}, {E})\n  attention(2{', causal=true' if causal else ''})\n  dense({V})"
    nb = 4 if lengths else 3
    cases.append(case(name, spec, [T3], nb, {"embedding_0": emb, "attention_0": m, "dense_0": head}, lm, loss="ce", lengths=lengths, ids=True, vocab=V, garbage=999 if lengths else None))

# ---- transformer blocks: nn.TransformerEncoder(nn.TransformerEncoderLayer(batch_first=True), N) -----
# dnnc's names are nn.TransformerEncoder's under the rename `layers.k.` -> `transformer_k_`
import re


def encoder_names(k):
    return re.sub(r"^encoder\.layers\.(\d+)\.", r"transformer_\1_", k)


def block_case(name, layers, norm_first, activation, causal, lengths=None, heads=2, ff=8):
    pre = nn.Linear(Fin, C)
    layer = nn.TransformerEncoderLayer(C, heads, dim_feedforward=ff, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first)
    enc = nn.TransformerEncoder(layer, layers)
    randomize_biases(enc)
    args = f"{heads}, ff={ff}, dropout=0, norm={'pre' if norm_first else 'post'}, activation={activation}" + (", causal=true" if causal else "")
    body = f"transformer({args})" if layers == 1 else f"repeat({layers}) {{ transformer({args}) }}"

    def fwd(x, pre=pre, enc=enc):
        p = pre(x)
        T = p.shape[1]
        return enc(p, mask=torch.ones(T, T, dtype=torch.bool).triu(1) if causal else None), p

    cases.append(
        case(name, f"dense({C})\n  {body}", [T, Fin], n, {"dense_0": pre, "encoder": enc}, fwd, lengths=lengths, garbage=6.0 if lengths else None, rename=encoder_names)
    )


block_case("transformer post-norm relu", 1, False, "relu", False)
block_case("transformer pre-norm gelu causal repeat(2)", 2, True, "gelu", True)
block_case("transformer post-norm gelu causal padded", 1, False, "gelu", True, lengths=[5, 1, 3])
block_case("transformer pre-norm relu padded repeat(2)", 2, True, "relu", False, lengths=[2, 5, 4], heads=3, ff=5)

# ---- positions: embedding -> pos_embedding (learned or sinusoidal) -> transformer -> dense ---------
def sinusoid_table(T, F):
    t = torch.arange(T, dtype=torch.float64).unsqueeze(1)
    i = torch.arange(F, dtype=torch.float64).unsqueeze(0)
    a = t * torch.pow(torch.tensor(10000.0, dtype=torch.float64), -2 * torch.div(i, 2, rounding_mode="floor") / F)
    return torch.where(i.long() % 2 == 0, torch.sin(a), torch.cos(a)).float()


for (name, kind, lengths) in [("lm pos_embedding learned", "learned", None), ("lm pos_embedding sinusoidal padded", "sinusoidal", [6, 2, 5, 1])]:
    emb = nn.Embedding(V, E)
    pe = nn.Embedding(T3, E)
    layer = nn.TransformerEncoderLayer(E, 2, dim_feedforward=8, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
    enc = nn.TransformerEncoder(layer, 1)
    randomize_biases(enc)
    head = nn.Linear(E, V)

    def lm(x, emb=emb, pe=pe, enc=enc, head=head, kind=kind):
        p = emb(x.long())
        L = p.shape[1]
        h = p + (pe.weight[:L] if kind == "learned" else sinusoid_table(T3, E)[:L])
        return head(enc(h, mask=torch.ones(L, L, dtype=torch.bool).triu(1))), p

    spec = f"embedding({V}, {E})\n  pos_embedding({T3}, {E}{', kind=sinusoidal' if kind == 'sinusoidal' else ''})\n  transformer(2, ff=8, dropout=0, norm=pre, activation=gelu, causal=true)\n  dense({V})"
    mods = {"embedding_0": emb, "encoder": enc, "dense_0": head}
    if kind == "learned":
        mods["pos_embedding_0"] = pe
    nb = 4 if lengths else 3
    cases.append(case(name, spec, [T3], nb, mods, lm, loss="ce", lengths=lengths, ids=True, vocab=V, garbage=999 if lengths else None, rename=encoder_names))

# ---- weight tying: the output layer's weight is the embedding's table (one Parameter, its gradient the sum) --
for (name, lengths) in [("lm tied", None), ("lm tied padded", [6, 4, 1, 3])]:
    emb = nn.Embedding(V, E)
    pe = nn.Embedding(T3, E)
    layer = nn.TransformerEncoderLayer(E, 2, dim_feedforward=8, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
    enc = nn.TransformerEncoder(layer, 1)
    randomize_biases(enc)
    head = nn.Linear(E, V)
    head.weight = emb.weight

    def lm(x, emb=emb, pe=pe, enc=enc, head=head):
        p = emb(x.long())
        L = p.shape[1]
        return head(enc(p + pe.weight[:L], mask=torch.ones(L, L, dtype=torch.bool).triu(1))), p

    spec = f"embedding({V}, {E})\n  pos_embedding\n  transformer(2, ff=8, dropout=0, norm=pre, activation=gelu, causal=true)\n  dense({V}, tie=embedding_0)"
    nb = 4 if lengths else 3
    tied = lambda k: None if k == "dense_0.weight" else encoder_names(k)
    cases.append(case(name, spec, [T3], nb, {"embedding_0": emb, "pos_embedding_0": pe, "encoder": enc, "dense_0": head}, lm, loss="ce", lengths=lengths, ids=True, vocab=V, garbage=999 if lengths else None, rename=tied))

for c in cases:
    c["dx_at"] = "embedding" if c["name"].startswith("lm") else "dense" if c["name"].startswith(("residual", "transformer")) else "attention"

with open(os.path.join(HERE, "cases.json"), "w") as f:
    json.dump({"torch": torch.__version__, "lr": LR, "decay": DECAY, "clip": CLIP, "steps": STEPS, "cases": cases}, f, separators=(",", ":"))
    f.write("\n")
print(f"{len(cases)} cases")
