#!/usr/bin/python3
"""Writes bench_models.json: for each benchmark model of bench/models.mjs, as PyTorch builds it
(bench/peers/torch_peer.py), the trainable parameter count, the output shape, and the
multiply-adds of each Linear/Conv2d for one sample, counted by forward hooks on a real forward.
Run from the repo root: /usr/bin/python3 test/reference/bench/make_bench_models.py
"""
import json
import os
import subprocess
import sys

import torch
import torch.nn as nn

sys.dont_write_bytecode = True  # no __pycache__ in bench/peers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bench", "peers"))
from torch_peer import build  # noqa: E402

models = json.loads(subprocess.check_output(
    ["node", "--input-type=module", "-e",
     "import { MODELS } from './bench/models.mjs'; console.log(JSON.stringify(MODELS))"], cwd=ROOT))

torch.manual_seed(0)
out = {}
for name, spec in models.items():
    net, _ = build(spec["layers"], spec["input"])
    macs = []

    def hook(mod, inp, outp):
        per_sample_out = outp[0].numel()
        if isinstance(mod, nn.Linear):
            macs.append(per_sample_out * mod.in_features)
        else:
            kh, kw = mod.kernel_size
            macs.append(per_sample_out * (mod.in_channels // mod.groups) * kh * kw)

    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            m.register_forward_hook(hook)
    net.eval()
    with torch.no_grad():
        y = net(torch.zeros(2, *spec["input"]))
    out[name] = {
        "params": sum(p.numel() for p in net.parameters() if p.requires_grad),
        "output_shape": list(y.shape[1:]),
        "macs": macs,
    }
with open(os.path.join(os.path.dirname(__file__), "bench_models.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
