// PyTorch target, part 6: data augmentation, a port of runtime/augment.ts with dnnc's RNG bit for
// bit: the key of a sample is hash3(hash3(seed, "augment:epoch", epoch), "augment:sample", its
// dataset index); transform i draws from stream "augment:<i>:<kind>" (counter 0: does it fire,
// u < p; then its parameters). Applied per sample, to training batches only, after x * scale +
// shift and before the preprocessing, on (C, H, W) float32 images. Every kernel computes in float64
// in the TypeScript loops' order and rounds to float32 once where they store, so flips, shifts,
// cutout, brightness and contrast are bit-identical; rotate, blur and noise use cos/sin/exp/log,
// whose last bit may differ between V8 and the C library (a float32 difference is then rare).
// Python source, kept verbatim; no `${` may appear in it.

export const PY_AUGMENT = String.raw`
# ---- data augmentation (runtime/augment.ts): per sample, training only, dnnc's RNG ----------------
S_AUG_EPOCH = stream_id("augment:epoch")
S_AUG_SAMPLE = stream_id("augment:sample")
AUG_STREAMS = [stream_id(f"augment:{i}:{a['kind']}") for i, a in enumerate(AUGMENT)]


def augment_key(seed, epoch, sample):
    return hash3(hash3(seed & M32, S_AUG_EPOCH, epoch), S_AUG_SAMPLE, sample)


def aug_translate(img, dx, dy):
    """out[c][y][x] = in[c][y - dy][x - dx], zero fill."""
    _, h, w = img.shape
    out = torch.zeros_like(img)
    if abs(dx) < w and abs(dy) < h:
        out[:, max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)] = img[:, max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
    return out


def aug_rotate(img, angle):
    """Counter-clockwise on screen (y down) about the centre, bilinear, zero fill (grid_sample(align_corners=True))."""
    c, h, w = img.shape
    cs, sn = math.cos(angle), math.sin(angle)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    dx = (torch.arange(w, dtype=torch.float64) - cx).reshape(1, w)
    dy = (torch.arange(h, dtype=torch.float64) - cy).reshape(h, 1)
    sx = cx + dx * cs - dy * sn  # the inverse map, (h, w)
    sy = cy + dx * sn + dy * cs
    x0, y0 = torch.floor(sx), torch.floor(sy)
    fx, fy = sx - x0, sy - y0
    x0, y0 = x0.to(torch.int64), y0.to(torch.int64)
    src = img.to(torch.float64).reshape(c, h * w)
    v = torch.zeros(c, h * w, dtype=torch.float64)
    for oy, ox, wt in ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)), (1, 0, (1 - fx) * fy), (1, 1, fx * fy)):
        yy, xx = y0 + oy, x0 + ox
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        wt = torch.where(inside, wt, torch.zeros_like(wt)).reshape(1, h * w)
        at = (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)).reshape(-1)
        v = v + wt * src[:, at]
    return v.to(torch.float32).reshape(c, h, w)


def gaussian_kernel(sigma, rmax):
    r = max(0, min(math.ceil(3 * sigma), rmax))
    k = [math.exp((-t * t) / (2 * sigma * sigma)) for t in range(-r, r + 1)]
    s = 0.0
    for v in k:
        s += v
    return [v / s for v in k], r


def reflect(i, n):
    return torch.where(i < 0, -i, torch.where(i >= n, 2 * (n - 1) - i, i))


def aug_blur(img, k, r):
    """Separable convolution with k[0..2r], reflect padding; the horizontal pass is stored in float32."""
    _, h, w = img.shape
    x = img.to(torch.float64)
    s = torch.zeros_like(x)
    for t in range(-r, r + 1):
        s = s + k[t + r] * x[:, :, reflect(torch.arange(w) + t, w)]
    x = s.to(torch.float32).to(torch.float64)
    s = torch.zeros_like(x)
    for t in range(-r, r + 1):
        s = s + k[t + r] * x[:, reflect(torch.arange(h) + t, h), :]
    return s.to(torch.float32)


def aug_noise(img, std, key, stream):
    """x += std * N(0, 1): one Box-Muller normal per value from counters 1, 2, 3, ... (counter 0 decided p)."""
    ctr = 1 + 2 * torch.arange(img.numel(), dtype=torch.int64)
    u1 = ((hash3_vec(key, stream, ctr) >> 8) + 1).to(torch.float64) * (1 / 16777217)
    u2 = (hash3_vec(key, stream, ctr + 1) >> 8).to(torch.float64) * (1.0 / 16777216)
    z = torch.sqrt(-2 * torch.log(u1)) * torch.cos(2 * math.pi * u2)
    return (img.to(torch.float64).reshape(-1) + std * z).to(torch.float32).reshape(img.shape)


def aug_cutout(img, cy, cx, size):
    """Zero the size x size square centred at (cy, cx) (top-left at centre - size // 2), clipped, in every channel."""
    _, h, w = img.shape
    img = img.clone()
    img[:, max(0, cy - (size >> 1)) : min(h, cy - (size >> 1) + size), max(0, cx - (size >> 1)) : min(w, cx - (size >> 1) + size)] = 0
    return img


def aug_contrast(img, f):
    """x = mean + f (x - mean), the mean over the whole image summed in order as the TypeScript loop."""
    mean = 0.0
    for v in img.reshape(-1).tolist():
        mean += v
    mean /= img.numel()
    return (mean + f * (img.to(torch.float64) - mean)).to(torch.float32)


def augment_image(img, key):
    """Augment one (C, H, W) float32 image with the per-sample key; returns the new image."""
    c, h, w = img.shape
    for a, stream in zip(AUGMENT, AUG_STREAMS):
        rng = Draws(key, stream)
        if not rng.uniform() < a["p"]:
            continue
        kind = a["kind"]
        if kind == "flip_h":
            img = img.flip(2)
        elif kind == "flip_v":
            img = img.flip(1)
        elif kind in ("translate", "crop"):
            m = a["pad"] if kind == "crop" else a["max"]
            dx = rng.int(2 * m + 1) - m
            dy = rng.int(2 * m + 1) - m
            if dx != 0 or dy != 0:
                img = aug_translate(img, dx, dy)
        elif kind == "rotate":
            deg = rng.range(-a["deg"], a["deg"])
            img = aug_rotate(img, (deg * math.pi) / 180)
        elif kind == "noise":
            img = aug_noise(img, a["std"], key, stream)
        elif kind == "blur":
            rmax = min(h, w) - 1
            if a.get("box") is not None:
                r = min(a["box"], rmax)
                k = [1 / (2 * r + 1)] * (2 * r + 1)
            else:
                sg = a["sigma"]
                k, r = gaussian_kernel(sg if not isinstance(sg, list) else rng.range(sg[0], sg[1]), rmax)
            if r > 0:
                img = aug_blur(img, k, r)
        elif kind == "cutout":
            for _ in range(a.get("count", 1)):
                cy, cx = rng.int(h), rng.int(w)
                img = aug_cutout(img, cy, cx, a["size"])
        elif kind == "brightness":
            b = rng.range(-a["delta"], a["delta"])
            img = (img.to(torch.float64) + b).to(torch.float32)
        elif kind == "contrast":
            img = aug_contrast(img, rng.range(max(0, 1 - a["factor"]), 1 + a["factor"]))
        else:
            fail(f"augment: unknown transform {kind}")
    return img


def augment_batch(x, seed, epoch, indices):
    """x: (n, C, H, W) float32 on the CPU, row i = dataset sample indices[i] of epoch 'epoch' (1-based)."""
    for i, sample in enumerate(indices):
        x[i] = augment_image(x[i], augment_key(seed, epoch, sample))
    return x
`;
