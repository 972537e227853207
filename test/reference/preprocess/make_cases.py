# Writes cases.json: PyTorch (float64) references for runtime/preprocess.ts and runtime/augment.ts.
# Run: /usr/bin/python3 test/reference/preprocess/make_cases.py   (deterministic, seeded)
#
# Conventions mirrored here (see the headers of preprocess.ts / augment.ts):
# - statistics are population statistics over the TRAINING rows only (divide by m);
# - standardize divides by sigma, constant features (sigma <= 1e-6) by 1;
# - pca: x' = V_k^T (x - mu); whiten: diag(1/sqrt(lambda + eps)) V_k^T (x - mu); zca: V diag(..) V^T (x - mu),
#   lambda, V from eigh of the covariance (1/m) Xc^T Xc;
# - rotation: positive angle = counter-clockwise on screen (y down), about ((W-1)/2, (H-1)/2),
#   bilinear with zero fill, i.e. grid_sample(align_corners=True, padding_mode="zeros");
# - Gaussian blur: separable kernel exp(-t^2 / (2 sigma^2)), radius ceil(3 sigma), reflect padding.
import json
import math
import os

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
D = torch.float64


def r6(t):
    return [round(float(v), 10) for v in t.reshape(-1).tolist()]


cases = {}

# ---- dense features: 50 rows, 6 features, correlated, different scales -------------------------
m_all, d = 50, 6
Z = torch.randn(m_all, d, dtype=D)
mix = torch.randn(d, d, dtype=D)
X = Z @ mix * torch.tensor([1.0, 3.0, 0.5, 2.0, 1.0, 0.2], dtype=D) + torch.tensor([1, -2, 0, 5, 0.5, -1], dtype=D)
X = X.float().double()  # values exactly representable in float32 (the TS side stores Float32Array)
train = sorted(torch.randperm(m_all)[:34].tolist())
Xt = X[train]
mu = Xt.mean(0)
Xc = Xt - mu
cov = Xc.T @ Xc / Xt.shape[0]
lam, V = torch.linalg.eigh(cov)  # ascending
lam, V = lam.flip(0), V.flip(1)
k = 3
eps = 1e-5
pca = (X - mu) @ V[:, :k]
white = (X - mu) @ V / torch.sqrt(lam + eps)
zca = white @ V.T
cases["dense"] = {
    "rows": m_all, "d": d, "x": r6(X), "train": train,
    "mean": r6(mu), "eigenvalues": r6(lam), "vectors_T": r6(V.T.contiguous()),
    "k": k, "eps": eps, "pca": r6(pca), "whiten": r6(white), "zca": r6(zca),
}

# ---- standardize (features, one constant column) -----------------------------------------------
S = X.clone()
S[:, 2] = 0.25
std = S[train].std(0, unbiased=False)
div = torch.where(std <= 1e-6, torch.ones_like(std), std)
cases["standardize"] = {
    "rows": m_all, "d": d, "x": r6(S), "train": train,
    "mean": r6(S[train].mean(0)), "std": r6(div), "y": r6((S - S[train].mean(0)) / div),
}

# ---- standardize per channel: bytes times 1/255, images (C, H, W) = (3, 4, 5) ----------------------
n_img, C, Hh, W = 12, 3, 4, 5
B = torch.randint(0, 256, (n_img, C, Hh, W))
B[:, 1] = B[:, 1] // 4  # a darker channel
Xi = B.double() / 255
tr_img = [0, 2, 3, 5, 7, 8, 9, 11]
mu_c = Xi[tr_img].permute(1, 0, 2, 3).reshape(C, -1).mean(1)
sd_c = Xi[tr_img].permute(1, 0, 2, 3).reshape(C, -1).std(1, unbiased=False)
cases["channel"] = {
    "rows": n_img, "C": C, "H": Hh, "W": W, "bytes": B.reshape(-1).tolist(), "scale": 1 / 255, "train": tr_img,
    "mean": r6(mu_c), "std": r6(sd_c), "y": r6((Xi - mu_c.view(1, C, 1, 1)) / sd_c.view(1, C, 1, 1)),
}

# ---- rotation (bilinear, zero fill) --------------------------------------------------------------
img = torch.rand(1, 2, 7, 9, dtype=D).float().double()
rot = {"C": 2, "H": 7, "W": 9, "x": r6(img), "angles": [17.0, -33.0, 5.0], "y": []}
for deg in rot["angles"]:
    th = math.radians(deg)
    Hh_, W_ = 7, 9
    cy, cx = (Hh_ - 1) / 2, (W_ - 1) / 2
    ys, xs = torch.meshgrid(torch.arange(Hh_, dtype=D), torch.arange(W_, dtype=D), indexing="ij")
    dx, dy = xs - cx, ys - cy
    sx = cx + dx * math.cos(th) - dy * math.sin(th)
    sy = cy + dx * math.sin(th) + dy * math.cos(th)
    grid = torch.stack([2 * sx / (W_ - 1) - 1, 2 * sy / (Hh_ - 1) - 1], -1).unsqueeze(0)
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    rot["y"].append(r6(out))
cases["rotate"] = rot

# ---- Gaussian blur, reflect padding --------------------------------------------------------------
bimg = torch.rand(1, 2, 8, 6, dtype=D).float().double()
blur = {"C": 2, "H": 8, "W": 6, "x": r6(bimg), "sigmas": [0.8, 1.5], "y": []}
for s in blur["sigmas"]:
    rad = min(math.ceil(3 * s), 5)  # clamp to min(H, W) - 1
    t = torch.arange(-rad, rad + 1, dtype=D)
    kern = torch.exp(-t * t / (2 * s * s))
    kern = kern / kern.sum()
    p = F.pad(bimg, (rad, rad, rad, rad), mode="reflect")
    wx = kern.view(1, 1, 1, -1).repeat(2, 1, 1, 1)
    wy = kern.view(1, 1, -1, 1).repeat(2, 1, 1, 1)
    out = F.conv2d(F.conv2d(p, wx, groups=2), wy, groups=2)
    blur["y"].append(r6(out))
cases["blur"] = blur

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases.json")
with open(path, "w") as f:
    json.dump(cases, f, separators=(",", ":"))
print(path, os.path.getsize(path), "bytes")
