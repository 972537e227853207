// PyTorch target, part 5: input preprocessing, a port of runtime/preprocess.ts. Fitted once on the
// TRAINING rows only (after the validation split), in float64, on what the model sees (x * scale +
// shift); population statistics (divide by m). standardize: sigma <= eps gives divisor 1. pca /
// whiten / zca: covariance eigen-decomposition (torch.linalg.eigh in float64), eigenvalues
// descending, rows of V^T as the principal directions, each with its largest-magnitude entry
// positive (runtime/linalg.ts's sign rule), negative round-off eigenvalues clamped to 0. Applied per
// batch as the TypeScript trainer does: standardize in double rounded once; the matrix maps as
// (x - mean) in float32, then M (x - mean) accumulated in double and rounded once. The fitted
// tensors and metadata are stored in model.safetensors under the same names as runtime's
// preprocessTensors / preprocessMetadata (preprocess.mean, .std | .matrix, .eigenvalues).
// Python source, kept verbatim; no `${` may appear in it.

export const PY_PREPROCESS = String.raw`
# ---- input preprocessing (runtime/preprocess.ts), fitted on the training rows only ------------------
def training_chunks(ds, rows):
    """The training rows as float64 (r, d) chunks of x * scale + shift, as runtime/preprocess.ts reads them
    (float data is scaled in float32 first, as the TypeScript trainer's scaled copy)."""
    d = sample_size(ds)
    for s in range(0, len(rows), 4096):
        x = sample_x(ds, rows[s : s + 4096]).reshape(-1, d)
        if x.dtype == torch.uint8:
            yield x.to(torch.float64) * DATA["scale"] + DATA["shift"]
        elif DATA["scale"] == 1 and DATA["shift"] == 0:
            yield x.to(torch.float64)
        else:
            yield (x.to(torch.float64) * DATA["scale"] + DATA["shift"]).to(torch.float32).to(torch.float64)


def sym_eig(cov):
    """(values descending, vectors (d, d) with ROW k the unit eigenvector of values[k]); the entry of
    largest magnitude of every vector is positive (the first one on ties), as runtime/linalg.ts."""
    values, cols = torch.linalg.eigh(cov)
    values = values.flip(0)
    vectors = cols.flip(1).t().contiguous()
    top = vectors.abs().argmax(dim=1, keepdim=True)
    vectors = vectors * torch.where(vectors.gather(1, top) < 0, -1.0, 1.0).to(vectors.dtype)
    return values, vectors


def fit_preprocess(ds, rows):
    """Fit PREPROCESS on rows 'rows' of ds (the training split). Returns {kind, out_dim, apply: tensors,
    tensors: [(safetensors name, tensor)], meta: {metadata key: string}}."""
    kind = PREPROCESS["kind"]
    d = sample_size(ds)
    m = len(rows)
    if m == 0:
        fail("data: cannot fit preprocessing on an empty training set")
    total = None
    seen = 0
    for x in training_chunks(ds, rows):
        bad = (~torch.isfinite(x)).nonzero()
        if len(bad):
            i, j = int(bad[0][0]), int(bad[0][1])
            fail(f"preprocess: training row {seen + i} has a non-finite value ({float(x[i, j])}) at feature {j}")
        total = x.sum(0) if total is None else total + x.sum(0)
        seen += len(x)
    mean = total / m
    channels = 1
    if kind == "standardize":
        if PREPROCESS["mode"] == "channel":
            channels = INPUT_SHAPE[0]
            if len(INPUT_SHAPE) != 3 or d != math.prod(INPUT_SHAPE):
                fail(f'standardize: mode "channel" needs image rows of shape {INPUT_SHAPE}, the data has {d} values per row')
            mu = mean.reshape(channels, -1).mean(1)
            ss = sum(((x.reshape(len(x), channels, -1) - mu.reshape(1, channels, 1)) ** 2).sum((0, 2)) for x in training_chunks(ds, rows))
            sigma = (ss / (m * (d // channels))).sqrt()
        else:
            mu = mean
            sigma = (sum(((x - mu) ** 2).sum(0) for x in training_chunks(ds, rows)) / m).sqrt()
        sigma = torch.where(sigma <= PREPROCESS["eps"], torch.ones_like(sigma), sigma)
        fitted = {"mean": mu.to(torch.float32), "std": sigma.to(torch.float32)}
        out_dim = d
    else:
        cov = sum((x - mean).t() @ (x - mean) for x in training_chunks(ds, rows)) / m
        values, vectors = sym_eig(cov)
        values = values.clamp(min=0)  # round-off below zero
        eps = PREPROCESS["eps"]
        if kind == "zca":
            s = 1 / torch.sqrt(values + eps)
            matrix = (vectors.t() * s) @ vectors  # V diag(s) V^T
            eig = values
            out_dim = d
        else:
            k = d if PREPROCESS["k"] is None else PREPROCESS["k"]
            if not isinstance(k, int) or k < 1 or k > d:
                fail(f"{kind}: k must be an integer in 1..{d}, got {k}")
            scale = 1 / torch.sqrt(values[:k] + eps) if kind == "whiten" else torch.ones(k, dtype=torch.float64)
            matrix = vectors[:k] * scale.reshape(k, 1)
            eig = values[:k]
            out_dim = k
        fitted = {"mean": mean.to(torch.float32), "matrix": matrix.to(torch.float32), "eigenvalues": eig.to(torch.float32)}
    if out_dim != math.prod(INPUT_SHAPE):
        fail(f"preprocessing {kind} gives {out_dim} features, but the model's input has {math.prod(INPUT_SHAPE)}")
    meta = {"preprocess.kind": kind, "preprocess.mode": PREPROCESS["mode"], "preprocess.in_dim": str(d), "preprocess.out_dim": str(out_dim),
            "preprocess.channels": str(channels), "preprocess.eps": PREPROCESS["eps_text"], "preprocess.rows": str(m)}
    return {"kind": kind, "in_dim": d, "out_dim": out_dim, "apply": fitted, "tensors": [("preprocess." + k, t) for k, t in fitted.items()], "meta": meta}


def apply_preprocess(x, pre):
    """x: (n, in_dim) float32 on the CPU -> (n, out_dim) float32, as runtime's applyPreprocess."""
    t = pre["apply"]
    n = len(x)
    if pre["kind"] == "standardize":
        x = x.to(torch.float64)
        if PREPROCESS["mode"] == "channel":
            c = INPUT_SHAPE[0]
            x = ((x.reshape(n, c, -1) - t["mean"].double().reshape(1, c, 1)) * (1 / t["std"].double()).reshape(1, c, 1)).reshape(n, -1)
        else:
            x = (x - t["mean"].double()) / t["std"].double()
        return x.to(torch.float32)
    centred = x - t["mean"]  # float32, as the TypeScript scratch row
    return (centred.to(torch.float64) @ t["matrix"].to(torch.float64).t()).to(torch.float32)
`;
