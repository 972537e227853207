"""Writes reference.json: what PyTorch/NumPy/PIL read from the shipped datasets and from
small files they write themselves, for test/data*.test.ts and test/png*.test.ts.
Run: /usr/bin/python3 test/reference/data/make_reference.py   (deterministic: fixed seeds, no clocks)
"""
import base64, csv, gzip, io, json, os
import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")
SUBSET = os.path.join(ROOT, "specs", "data", "fashion-mnist-small")
MOONS = os.path.join(ROOT, "specs", "data", "two-moons")


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    assert raw[0] == 0 and raw[1] == 0 and raw[2] == 0x08
    ndim = raw[3]
    dims = [int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    return torch.from_numpy(data.copy())


def split_summary(prefix):
    x = read_idx(os.path.join(SUBSET, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(SUBSET, f"{prefix}-labels-idx1-ubyte.gz"))
    xf = x.to(torch.float64) / 255.0
    return {
        "dims": list(x.shape),
        "label_counts": torch.bincount(y.long(), minlength=10).tolist(),
        "first_labels": y[:20].tolist(),
        "pixel_sums": {str(i): int(x[i].long().sum()) for i in (0, 1, 2, x.shape[0] - 1)},
        "mean": float(xf.mean()),
        "std": float(xf.std(unbiased=False)),
    }, x, y


train, xtr, ytr = split_summary("train")
test, _, _ = split_summary("t10k")

# One batch, as a trainer would see it: rows in this order, x/255 - 0.5 as float32.
rows = [5, 17, 3, 5999]
batch_x = (xtr[rows].reshape(len(rows), -1).to(torch.float32) / 255.0 - 0.5)
batch = {"rows": rows, "shift": -0.5, "x_sum_per_row": [float(r.to(torch.float64).sum()) for r in batch_x],
         "x_row0_first100": [float(v) for v in batch_x[0, 300:400]], "y": [float(v) for v in ytr[rows]]}

# Non-ubyte IDX files written by NumPy (big-endian), for the dtype conversions.
rng = np.random.default_rng(1234)
typed = []
for code, dt in ((0x09, ">i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")):
    dims = [3, 2]
    if dt.startswith(">f"):
        vals = rng.standard_normal(dims).astype(dt)
    else:
        info = np.iinfo(np.dtype(dt))
        vals = rng.integers(max(info.min, -30000), min(info.max, 30000), size=dims, endpoint=True).astype(dt)
    raw = bytes([0, 0, code, len(dims)]) + np.array(dims, dtype=">u4").tobytes() + vals.tobytes()
    typed.append({"code": code, "hex": raw.hex(), "dims": dims,
                  "values": [float(np.float32(v)) for v in vals.reshape(-1)]})

# The two-moons CSV as Python's csv module reads it.
moons = {}
for name in ("train", "test"):
    with open(os.path.join(MOONS, f"{name}.csv"), newline="") as f:
        r = list(csv.reader(f))
    header, body = r[0], r[1:]
    arr = np.array([[float(c) for c in row] for row in body], dtype=np.float64)
    moons[name] = {"header": header, "n": len(body), "feature_sums": arr[:, :2].sum(axis=0).tolist(),
                   "label_counts": np.bincount(arr[:, 2].astype(int)).tolist(), "first_row": arr[0].tolist()}

# PNG files written by PIL in several modes.
gen = np.random.default_rng(7)
pngs = []
for mode, shape in (("L", (5, 7)), ("LA", (4, 3, 2)), ("RGB", (4, 6, 3)), ("RGBA", (3, 5, 4)), ("P", (6, 4)), ("PT", (3, 3))):
    arr = gen.integers(0, 256, size=shape, dtype=np.uint8)
    if mode in ("L", "RGB"):  # smooth gradients so PIL's filters other than None get used
        arr = (arr // 8 + np.arange(shape[1]).reshape(1, -1, *([1] * (len(shape) - 2))) * 20).astype(np.uint8)
    if mode in ("P", "PT"):
        arr = gen.integers(0, 4, size=shape, dtype=np.uint8)
        img = Image.fromarray(arr, "P")
        pal = [10, 20, 30, 200, 100, 0, 0, 255, 0, 90, 90, 90]
        img.putpalette(pal)
        if mode == "PT":
            img.info["transparency"] = bytes([0, 128, 255])
    else:
        img = Image.fromarray(arr, mode)
    buf = io.BytesIO()
    img.save(buf, format="PNG", **({"transparency": bytes([0, 128, 255])} if mode == "PT" else {}))
    back = Image.open(io.BytesIO(buf.getvalue()))
    if mode == "P":
        pix = np.array(back.convert("RGB"))
    elif mode == "PT":
        pix = np.array(back.convert("RGBA"))
    else:
        pix = np.array(back)
    h, w = shape[0], shape[1]
    pngs.append({"mode": mode, "width": w, "height": h, "channels": 1 if pix.ndim == 2 else pix.shape[2],
                 "base64": base64.b64encode(buf.getvalue()).decode(), "pixels": pix.reshape(-1).tolist()})

# Bit depths other than 8: a 1-bit image (mode "1") and a 16-bit gray one (mode "I;16"),
# expected as 8-bit samples (0/255, and the high byte).
bits = gen.integers(0, 2, size=(3, 11), dtype=np.uint8).astype(bool)
deep = gen.integers(0, 65536, size=(2, 3), dtype=np.uint16)
for mode, img, pix in (("1", Image.fromarray(bits), bits.astype(np.uint8) * 255),
                       ("I;16", Image.fromarray(deep, "I;16"), (deep >> 8).astype(np.uint8))):
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    pngs.append({"mode": mode, "width": pix.shape[1], "height": pix.shape[0], "channels": 1,
                 "base64": base64.b64encode(buf.getvalue()).decode(), "pixels": pix.reshape(-1).tolist()})

# A safetensors file written by hand from the format description (the safetensors package is not
# installed): u64 little-endian header length, compact JSON header with __metadata__ first and the
# tensors in data order, spaces up to a multiple of 8, then little-endian f32 data.
import struct
torch.manual_seed(0)
st_tensors = [("dense1.weight", torch.randn(3, 2)), ("dense1.bias", torch.randn(3)), ("0", torch.randn(1, 1, 2)), ("scalar", torch.tensor(2.5))]
st_meta = {"format": "dnnc", "epoch": "3"}
hdr = {"__metadata__": dict(sorted(st_meta.items()))}
off = 0
for name, t in st_tensors:
    hdr[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + 4 * t.numel()]}
    off += 4 * t.numel()
hjson = json.dumps(hdr, separators=(",", ":")).encode()
hjson += b" " * ((8 - (8 + len(hjson)) % 8) % 8)
st_bytes = struct.pack("<Q", len(hjson)) + hjson + b"".join(t.contiguous().numpy().astype("<f4").tobytes() for _, t in st_tensors)
safetensors = {"hex": st_bytes.hex(), "metadata": st_meta,
               "tensors": [{"name": n, "shape": list(t.shape), "data": [float(v) for v in t.reshape(-1)]} for n, t in st_tensors]}

# Colour to gray as PIL converts it (RGB and RGBA to "L"), for imageToSample.
rgb = gen.integers(0, 256, size=(3, 4, 3), dtype=np.uint8)
rgba = gen.integers(0, 256, size=(2, 3, 4), dtype=np.uint8)
to_gray = [{"width": a.shape[1], "height": a.shape[0], "channels": a.shape[2], "pixels": a.reshape(-1).tolist(),
            "gray": np.array(Image.fromarray(a).convert("L")).reshape(-1).tolist()} for a in (rgb, rgba)]

out = {"generated_by": "test/reference/data/make_reference.py", "torch": torch.__version__,
       "train": train, "test": test, "batch": batch, "typed_idx": typed, "moons": moons, "png": pngs,
       "safetensors": safetensors, "to_gray": to_gray}
with open(os.path.join(HERE, "reference.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
