#!/usr/bin/python3
"""Sequence benchmark peer: PyTorch (Debian's python3-torch 1.13, run as /usr/bin/python3).

    /usr/bin/python3 bench/peers/torch_seq.py --model-json '<model of bench/seq-models.mjs>' --data DIR
        --threads T [--steps N] [--window S] [--seed 1]

Trains S1 (nn.Embedding -> nn.LSTM(batch_first) -> nn.Linear at every position, cross-entropy over
the n*T positions) or S2 (nn.Embedding -> nn.Conv1d -> ReLU -> max over time -> nn.Linear) on the
data bench/seq-prep.mts wrote to DIR (the windows and documents a dnnc trainer reads), Adam, for N
steps of shuffled batches (a seeded randperm, plain tensor indexing), and prints the JSON lines of
bench/run.mjs's protocol:
  {"event":"info", ...}  torch version, threads, which BLAS library is mapped in the process
  {"event":"window","samples":N,"seconds":S}
  {"event":"done","train_loss":L,"max_rss_kb":K,"trained_samples":N}
The caller sets the environment (OPENBLAS_* variables); this script only reports what it sees.
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def mapped_blas():
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and "blas" in parts[5].lower():
                libs.add(os.path.realpath(parts[5]))
    return sorted(libs)


def ids(path, nbytes):
    return np.fromfile(path, dtype=np.uint8 if nbytes == 1 else np.uint16).astype(np.int64)


class CharLstm(nn.Module):
    def __init__(self, m, vocab):
        super().__init__()
        self.emb = nn.Embedding(vocab, m["embed"])
        self.lstm = nn.LSTM(m["embed"], m["hidden"], batch_first=True)
        self.out = nn.Linear(m["hidden"], vocab)

    def forward(self, x):
        y, _ = self.lstm(self.emb(x))
        return self.out(y)  # (n, T, V)


class TextCnn(nn.Module):
    def __init__(self, m, vocab, classes):
        super().__init__()
        self.emb = nn.Embedding(vocab, m["embed"])
        self.conv = nn.Conv1d(m["embed"], m["filters"], m["kernel"])
        self.out = nn.Linear(m["filters"], classes)

    def forward(self, x):
        h = F.relu(self.conv(self.emb(x).transpose(1, 2)))  # (n, C, L')
        return self.out(h.amax(dim=2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-json", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--window", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    m = json.loads(a.model_json)
    meta = json.load(open(os.path.join(a.data, "meta.json")))

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    B = m["batch"]
    if m["kind"] == "charlm":
        mm = meta["s1"]
        series = torch.from_numpy(ids(os.path.join(a.data, "s1-ids.bin"), mm["idBytes"]))
        T = mm["context"]
        nwin = mm["windows"]
        starts = torch.arange(nwin) * T
        offs = torch.arange(T)
        net = CharLstm(m, mm["vocab"])

        def batch(idx):
            pos = starts[idx].unsqueeze(1) + offs
            return series[pos], series[pos + 1]

        def loss_of(x, y):
            return F.cross_entropy(net(x).reshape(-1, mm["vocab"]), y.reshape(-1))

        n = nwin
    else:
        mm = meta["s2"]
        L = mm["context"]
        xs = torch.from_numpy(ids(os.path.join(a.data, "s2-x.bin"), mm["idBytes"]).reshape(-1, L))
        ys = torch.from_numpy(np.fromfile(os.path.join(a.data, "s2-y.bin"), dtype=np.uint8).astype(np.int64))
        net = TextCnn(m, mm["vocab"], mm["classes"])

        def batch(idx):
            return xs[idx], ys[idx]

        def loss_of(x, y):
            return F.cross_entropy(net(x), y)

        n = mm["n"]
    opt = torch.optim.Adam(net.parameters(), lr=m["optimizer"]["lr"])

    F.linear(torch.ones(2, 2), torch.ones(2, 2))
    emit({
        "event": "info", "system": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "blas_libs": mapped_blas(), "mkldnn": torch.backends.mkldnn.is_available(),
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")},
        "os_threads": int(open("/proc/self/status").read().split("Threads:")[1].split()[0]),
        "model": m["name"], "params": sum(p.numel() for p in net.parameters()),
    })

    g = torch.Generator().manual_seed(a.seed)
    perm = torch.randperm(n, generator=g)
    net.train()
    trained = 0
    win_start = time.perf_counter()
    win_samples = 0
    loss = None
    for step in range(a.steps):
        s = (step * B) % (n - B + 1)
        x, y = batch(perm[s:s + B])
        opt.zero_grad(set_to_none=True)
        loss = loss_of(x, y)
        loss.backward()
        opt.step()
        trained += B
        win_samples += B
        now = time.perf_counter()
        if now - win_start >= a.window:
            emit({"event": "window", "samples": win_samples, "seconds": now - win_start, "loss": loss.item()})
            win_start, win_samples = now, 0
    if win_samples:
        emit({"event": "window", "samples": win_samples, "seconds": time.perf_counter() - win_start, "partial": True})
    emit({
        "event": "done", "train_loss": loss.item() if loss is not None else None, "trained_samples": trained,
        "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    })


if __name__ == "__main__":
    main()
