# Writes the PyTorch twin of truncated backpropagation through time (`tbptt true`, test/rnn-op-tbptt.test.ts),
# in the manner of PyTorch's word_language_model: a corpus of token ids cut into windows of T (x = ids[iT .. iT+T),
# y = the next ids), the windows arranged as B contiguous tracks (batchify: track b holds windows bK .. bK+K-1,
# the remainder unused), batch j = window j of every track, the recurrent state carried from one batch to the next
# and detached (hidden.detach()), zero at each epoch's start; Adam with clip_grad_norm_; at each epoch's end the
# validation windows evaluated the same way (tracks of their own, from a zero state, no gradient). Recorded: the
# initial parameters, every step's loss, each epoch's mean training and validation loss (over positions), the
# final parameters.
# Run with the system Python that has torch 1.13:  /usr/bin/python3 test/reference/rnnop/make_tbptt.py
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(1819)
HERE = os.path.dirname(os.path.abspath(__file__))
V, E, U, T, B, EPOCHS, LR, CLIP = 6, 4, 5, 5, 3, 2, 0.02, 0.5


def flat(t):
    return [float(f"{v:.9g}") for v in t.detach().reshape(-1).tolist()]


def windows(ids):
    """x, y windows of T (stride T) as the text source cuts a span: n = floor((len - T - 1) / T) + 1."""
    n = (len(ids) - T - 1) // T + 1
    x = torch.stack([ids[i * T : i * T + T] for i in range(n)])
    y = torch.stack([ids[i * T + 1 : i * T + T + 1] for i in range(n)])
    return x, y


def tracks(n):
    """batch j = rows [b*K + j for b in tracks] (trackOrder in runtime/train-loop.ts)."""
    nt = min(B, n)
    K = n // nt
    return [[b * K + j for b in range(nt)] for j in range(K)]


def detach(h):
    return tuple(s.detach() for s in h) if isinstance(h, tuple) else h.detach()


def case(name, cell, layers):
    emb = nn.Embedding(V, E)
    rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(E, U, num_layers=layers, batch_first=True)
    head = nn.Linear(U, V)
    modules = {"embedding_0": emb, f"{cell}_0": rnn, "dense_0": head}
    params = {f"{m}.{k}": p for m, mod in modules.items() for k, p in mod.named_parameters()}
    initial = {k: flat(v) for k, v in params.items()}
    train_ids = torch.randint(0, V, (B * 4 * T + 2 * T + 1,))  # 14 windows: 3 tracks of 4, 2 left over
    val_ids = torch.randint(0, V, (7 * T + 1,))  # 7 windows: 3 tracks of 2, 1 left over
    X, Y = windows(train_ids)
    VX, VY = windows(val_ids)
    opt = torch.optim.Adam(list(params.values()), lr=LR)

    def forward(x, hidden):
        out, hidden = rnn(emb(x.long()), hidden)
        return head(out), hidden

    losses, epochs = [], []
    for _ in range(EPOCHS):
        hidden = None
        total, count = 0.0, 0
        for rows in tracks(len(X)):
            logits, hidden = forward(X[rows], hidden)
            loss = F.cross_entropy(logits.reshape(-1, V), Y[rows].reshape(-1).long())
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(list(params.values()), CLIP)
            opt.step()
            hidden = detach(hidden)
            losses.append(float(loss))
            total += float(loss) * Y[rows].numel()
            count += Y[rows].numel()
        with torch.no_grad():
            hidden = None
            vt, vc = 0.0, 0
            for rows in tracks(len(VX)):
                logits, hidden = forward(VX[rows], hidden)
                vt += float(F.cross_entropy(logits.reshape(-1, V), VY[rows].reshape(-1).long(), reduction="sum"))
                vc += VY[rows].numel()
        epochs.append({"train_loss": total / count, "val_loss": vt / vc})
    spec = f"embedding({V}, {E})\n  {cell}({U}{f', layers={layers}' if layers > 1 else ''})\n  dense({V})"
    return {
        "name": name,
        "spec": spec,
        "T": T,
        "B": B,
        "V": V,
        "train": [int(v) for v in train_ids.tolist()],
        "val": [int(v) for v in val_ids.tolist()],
        "params": initial,
        "losses": losses,
        "epochs": epochs,
        "final": {k: flat(v) for k, v in params.items()},
    }


cases = [case("lstm layers=2", "lstm", 2), case("gru", "gru", 1)]
with open(os.path.join(HERE, "tbptt.json"), "w") as f:
    json.dump({"torch": torch.__version__, "lr": LR, "clip": CLIP, "epochs": EPOCHS, "cases": cases}, f, separators=(",", ":"))
    f.write("\n")
print(f"{len(cases)} cases")
