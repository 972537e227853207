#!/usr/bin/python3
"""Benchmark peer: PyTorch (Debian's python3-torch 1.13, run as /usr/bin/python3).

    /usr/bin/python3 bench/peers/torch_peer.py --model-json '<model of bench/models.mjs>' --threads T
        [--samples N] [--test N] [--window S] [--seed 1]

Trains the model (one epoch over the first N training samples, shuffled by a seeded randperm,
SGD with momentum, softmax cross-entropy on logits; plain tensor slicing, no DataLoader) and
prints JSON lines with the same protocol as the dnnc trainer and the tfjs peer:
  {"event":"info", ...}  torch version, threads, which BLAS library is mapped in the process
  {"event":"window","samples":N,"seconds":S}
  {"event":"done","test_acc":A,"test_loss":L,"max_rss_kb":K,"trained_samples":N,"full_epoch":bool}
The caller sets the environment (OPENBLAS_* variables); this script only reports what it sees.
"""
import argparse
import gzip
import json
import os
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def load_idx(path):
    with gzip.open(path, "rb") as f:
        buf = f.read()
    if buf[2] != 0x08:
        raise ValueError(f"{path}: not unsigned-byte IDX")
    rank = buf[3]
    dims = struct.unpack(">" + "I" * rank, buf[4:4 + 4 * rank])
    return np.frombuffer(buf, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def mapped_blas():
    """Shared libraries with 'blas' in their name mapped into this process, symlinks resolved."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and "blas" in parts[5].lower():
                libs.add(os.path.realpath(parts[5]))
    return sorted(libs)


class Residual(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)


def build(layers, shape):
    """Returns (nn.Sequential, output shape) for the layer list of bench/models.mjs."""
    mods = []
    for l in layers:
        op = l["op"]
        if op == "flatten":
            mods.append(nn.Flatten())
            shape = [int(np.prod(shape))]
        elif op == "dense":
            mods.append(nn.Linear(shape[0], l["units"]))
            shape = [l["units"]]
        elif op == "conv":
            mods.append(nn.Conv2d(shape[0], l["filters"], l["kernel"], padding=l["kernel"] // 2))
            shape = [l["filters"], shape[1], shape[2]]
        elif op == "bn":
            mods.append(nn.BatchNorm1d(shape[0]) if len(shape) == 1 else nn.BatchNorm2d(shape[0]))
        elif op == "relu":
            mods.append(nn.ReLU())
        elif op == "dropout":
            mods.append(nn.Dropout(l["rate"]))
        elif op == "maxpool":
            mods.append(nn.MaxPool2d(l["size"]))
            shape = [shape[0], shape[1] // l["size"], shape[2] // l["size"]]
        elif op == "residual":
            body, out = build(l["body"], shape)
            assert out == shape, f"residual body changes {shape} to {out}"
            mods.append(Residual(body))
        else:
            raise ValueError(f"unknown op {op}")
    return nn.Sequential(*mods), shape


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-json", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--test", type=int, default=10000)
    ap.add_argument("--window", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    spec = json.loads(a.model_json)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    net, _ = build(spec["layers"], spec["input"])
    opt = torch.optim.SGD(net.parameters(), lr=spec["optimizer"]["lr"], momentum=spec["optimizer"]["momentum"])

    xtr = torch.from_numpy(load_idx(f"{DATA}/train-images-idx3-ubyte.gz").astype(np.float32) / 255).unsqueeze(1)
    ytr = torch.from_numpy(load_idx(f"{DATA}/train-labels-idx1-ubyte.gz").astype(np.int64))
    xte = torch.from_numpy(load_idx(f"{DATA}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255).unsqueeze(1)
    yte = torch.from_numpy(load_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz").astype(np.int64))

    # One tiny Linear call so that the BLAS library used by nn.Linear is loaded before we look.
    F.linear(torch.ones(2, 2), torch.ones(2, 2))
    emit({
        "event": "info", "system": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "blas_libs": mapped_blas(), "mkldnn": torch.backends.mkldnn.is_available(),
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")},
        "os_threads": int(open("/proc/self/status").read().split("Threads:")[1].split()[0]),
        "model": spec["name"], "params": sum(p.numel() for p in net.parameters()),
    })

    n = min(a.samples, xtr.shape[0])
    g = torch.Generator().manual_seed(a.seed)
    perm = torch.randperm(xtr.shape[0], generator=g)[:n]
    B = spec["batch"]
    net.train()
    trained = 0
    win_start = time.perf_counter()
    win_samples = 0
    for s in range(0, n, B):
        idx = perm[s:s + B]
        x, y = xtr[idx], ytr[idx]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        trained += len(idx)
        win_samples += len(idx)
        now = time.perf_counter()
        if now - win_start >= a.window:
            emit({"event": "window", "samples": win_samples, "seconds": now - win_start, "loss": loss.item()})
            win_start, win_samples = now, 0
    if win_samples:
        emit({"event": "window", "samples": win_samples, "seconds": time.perf_counter() - win_start, "partial": True})

    net.eval()
    nt = min(a.test, xte.shape[0])
    correct, loss_sum = 0, 0.0
    with torch.no_grad():
        for s in range(0, nt, 1000):
            logits = net(xte[s:min(s + 1000, nt)])
            y = yte[s:min(s + 1000, nt)]
            correct += int((logits.argmax(1) == y).sum())
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
    emit({
        "event": "done", "test_acc": correct / nt if nt else None, "test_loss": loss_sum / nt if nt else None,
        "test_samples": nt, "trained_samples": trained, "full_epoch": trained >= xtr.shape[0],
        "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    })


if __name__ == "__main__":
    main()
