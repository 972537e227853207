"""Fine-tuning references: PyTorch 1.13, written by hand, trains ft-mlp.dnn's and ft-mid.dnn's network for 6 steps.

Run from the repository root:  /usr/bin/python3 test/reference/finetune/make_reference.py
(writes data/train.csv, data/test.csv, ft-mlp.json and ft-mid.json; step 3 needs node and the npm dependencies).

1. Initial tensors drawn here (torch.manual_seed(0)), with running statistics far from 0 and 1, as if
   loaded from a base run: the frozen batch norm's evaluation mode then matters.
2. The network as PyTorch users fine-tune: requires_grad_(False) on the frozen block, .eval() on its
   batch norm after model.train(), one param group per trained tensor with the lr times its lr_scale
   and weight_decay on weights only (dnnc's default: no decay on biases and norms). ft-mlp: the first
   block (dense_0, bn_0) frozen, the second at lr_scale 0.1, SGD lr 0.1 momentum 0.9, coupled decay
   0.01. ft-mid: the middle block (dense_1, bn_1) frozen, so the gradient crosses an evaluation-mode
   batch norm to reach the first block, at lr_scale 0.5; AdamW lr 0.01, decoupled decay 0.1. The 16
   samples are one batch (batch 16): dnnc's shuffle only reorders it, and nothing here depends on the
   order, so the steps are the same as dnnc's. 6 steps, mean cross-entropy.
3. The PyTorch target's own trainer for the spec (dnnc compile --target pytorch, through
   test/reference/networks/export.ts) runs the same 6 steps with --init-from the same tensors; its
   loss trace and final tensors are recorded too ("twin"), and must equal the hand-written ones.
test/finetune-torch.test.ts starts our trainer from "init" and compares with both, for each case.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
STEPS = 6
# per case: the frozen layers, each trained layer's lr_scale, the optimizer over the param groups
CASES = {
    "ft-mlp": {"frozen": ("dense_0", "bn_0"), "scale": {"dense_1": 0.1, "bn_1": 0.1, "dense_2": 1.0}, "lr": 0.1, "wd": 0.01, "opt": lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9)},
    "ft-mid": {"bias0": False, "frozen": ("dense_1", "bn_1"), "scale": {"dense_0": 0.5, "bn_0": 0.5, "dense_2": 1.0}, "lr": 0.01, "wd": 0.1, "opt": lambda g: torch.optim.AdamW(g, lr=0.01)},
}


def write_safetensors(path, tensors):
    header, blobs, at = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_safetensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    return {k: list(struct.unpack(f"<{(v['data_offsets'][1] - v['data_offsets'][0]) // 4}f", data[8 + n + v["data_offsets"][0] : 8 + n + v["data_offsets"][1]])) for k, v in header.items() if k != "__metadata__"}


def write_data():
    torch.manual_seed(0)
    x = torch.randn(16, 4)
    y = torch.randint(0, 3, (16,))
    os.makedirs(os.path.join(HERE, "data"), exist_ok=True)
    for split in ("train", "test"):
        with open(os.path.join(HERE, "data", f"{split}.csv"), "w") as f:
            f.write("x1,x2,x3,x4,label\n")
            for i in range(16):
                f.write(",".join(f"{float(v):.4f}" for v in x[i]) + f",{int(y[i])}\n")
    return torch.tensor([[round(float(v), 4) for v in row] for row in x]), y  # as the CSV holds them


def run_case(stem, case, x, y):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 16, bias=case.get("bias0", True)), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 3))
    names = {"dense_0": model[0], "bn_0": model[1], "dense_1": model[3], "bn_1": model[4], "dense_2": model[6]}
    with torch.no_grad():
        for bn in (model[1], model[4]):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
    order = [f"{l}.{p}" for l in names for p in ("weight", "bias") if getattr(names[l], p) is not None] + [f"{b}.{s}" for b in ("bn_0", "bn_1") for s in ("running_mean", "running_var")]
    get = lambda k: getattr(names[k.split(".")[0]], k.split(".")[1])
    init = {k: get(k).detach().clone() for k in order}

    # fine-tuning as in PyTorch: frozen block (no grad, no group), eval-mode batch norm there, scaled lr per group
    for layer in case["frozen"]:
        for p in names[layer].parameters():
            p.requires_grad_(False)
    groups = []
    for layer, scale in case["scale"].items():
        for pn in ("weight", "bias"):
            if getattr(names[layer], pn) is None:
                continue
            decayed = layer.startswith("dense") and pn == "weight"
            groups.append({"params": [getattr(names[layer], pn)], "lr": case["lr"] * scale, "weight_decay": case["wd"] if decayed else 0.0})
    opt = case["opt"](groups)
    losses = []
    for _ in range(STEPS):
        model.train()
        for layer in case["frozen"]:
            if layer.startswith("bn"):
                names[layer].eval()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    final = {k: get(k).detach().clone() for k in order}
    assert all(torch.equal(final[k], init[k]) for k in order if k.split(".")[0] in case["frozen"]), "the frozen block moved"

    # the PyTorch target's trainer for the same spec, from the same tensors
    rel = os.path.relpath(os.path.join(HERE, f"{stem}.dnn"), ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npx", "tsx", "test/reference/networks/export.ts", rel, tmp], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        init_path = os.path.join(tmp, "init.safetensors")
        write_safetensors(init_path, init)
        trace_path, out_dir = os.path.join(tmp, "trace.json"), os.path.join(tmp, "out")
        cmd = [sys.executable, os.path.join(tmp, f"{stem}.trainer.py"), "--init-from", init_path, "--max-steps", str(STEPS), "--trace", trace_path, "--out", out_dir, "--quiet"]
        subprocess.run(cmd, cwd=ROOT, check=True)
        twin_loss = json.load(open(trace_path))["loss"]
        twin_final = read_safetensors(os.path.join(out_dir, "model.safetensors"))
    for a, b in zip(losses, twin_loss):
        assert abs(a - b) <= 1e-5 * abs(a), f"{stem}: twin loss {b} != {a}"
    for k in order:
        worst = max(abs(u - v) for u, v in zip(final[k].flatten().tolist(), twin_final[k]))
        assert worst <= 1e-5, f"{stem}: twin {k} differs by {worst}"

    ref = {
        "spec": rel,
        "steps": STEPS,
        "torch": torch.__version__,
        "frozen": list(case["frozen"]),
        "init": {k: v.flatten().tolist() for k, v in init.items()},
        "loss": losses,
        "final": {k: v.flatten().tolist() for k, v in final.items()},
        "twin": {"loss": twin_loss, "final": twin_final},
    }
    with open(os.path.join(HERE, f"{stem}.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {stem}.json: loss {losses[0]:.4f} -> {losses[-1]:.4f} (twin {twin_loss[-1]:.4f})")


def main():
    x, y = write_data()
    for stem, case in CASES.items():
        run_case(stem, case, x, y)


if __name__ == "__main__":
    main()
