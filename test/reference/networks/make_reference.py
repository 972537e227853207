"""Whole-network parity references: PyTorch 1.13 trains each spec here for 20 steps from OUR initial weights.

Run from the repository root:  /usr/bin/python3 test/reference/networks/make_reference.py
(needs node and the repository's npm dependencies; writes test/reference/networks/<spec>.json).

Method, for every *.dnn in this folder (tiny data in data/, written by make_data.py):
  1. export.ts (run with npx tsx) compiles the spec twice: to the PyTorch target's trainer (one nn.Module
     built from torch's own layers: nn.Linear, nn.Conv2d, nn.BatchNorm1d, nn.GroupNorm, nn.LayerNorm,
     nn.utils.weight_norm, F.cross_entropy, torch.optim.SGD/Adam/AdamW, clip_grad_norm_, torch.renorm),
     and to our TypeScript trainer, whose seeded initialization it saves as <spec>.init.safetensors.
  2. The generated PyTorch trainer runs 20 optimizer steps with --init-from that file. Identical batches:
     with the spec's seed it draws the validation split and each epoch's shuffle with dnnc's counter-based
     RNG (a bit-exact port of runtime/rng.ts), so its batch k holds the same samples, in the same order,
     as our trainer's batch k. Dropout is p = 0 (or absent) and nothing else is random.
  3. This script records the initial tensors, the 20 per-step mean losses, the final parameters and
     running statistics, and the fitted input standardization (if any) as JSON. test/pytorch-target-parity.test.ts starts our trainer from the recorded
     initial tensors and compares: loss trace within relative 1e-4, final tensors within 1e-3.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
STEPS = 20

sys.path.insert(0, HERE)


def read_safetensors(path):
    import struct

    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        count = (e - b) // 4
        out[name] = list(struct.unpack(f"<{count}f", data[8 + n + b : 8 + n + e]))
    return out


def main():
    for spec in sorted(glob.glob(os.path.join(HERE, "*.dnn"))):
        stem = os.path.basename(spec)[: -len(".dnn")]
        rel = os.path.relpath(spec, ROOT)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["npx", "tsx", "test/reference/networks/export.ts", rel, tmp], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            init_path = os.path.join(tmp, f"{stem}.init.safetensors")
            trace_path = os.path.join(tmp, "trace.json")
            out_dir = os.path.join(tmp, "out")
            cmd = [sys.executable, os.path.join(tmp, f"{stem}.trainer.py"), "--init-from", init_path, "--max-steps", str(STEPS), "--trace", trace_path, "--out", out_dir, "--quiet"]
            subprocess.run(cmd, cwd=ROOT, check=True)
            trace = json.load(open(trace_path))
            if trace["steps"] != STEPS:
                raise SystemExit(f"{rel}: only {trace['steps']} steps (too little data for {STEPS})")
            ref = {
                "spec": rel,
                "steps": STEPS,
                "torch": __import__("torch").__version__,
                "init": read_safetensors(init_path),
                "loss": trace["loss"],
                "final": read_safetensors(os.path.join(out_dir, "model.safetensors")),
            }
            # the fitted input standardization, when the spec has one, is stored with the model
            pre = {k[len("preprocess.") :]: ref["final"].pop(k) for k in list(ref["final"]) if k.startswith("preprocess.")}
            if pre:
                ref["preprocess"] = pre
        with open(os.path.join(HERE, f"{stem}.json"), "w") as f:
            json.dump(ref, f, separators=(",", ":"))
            f.write("\n")
        print(f"wrote {stem}.json: loss {ref['loss'][0]:.4f} -> {ref['loss'][-1]:.4f}")


if __name__ == "__main__":
    main()
