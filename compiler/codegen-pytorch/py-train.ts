// PyTorch target, part 4: the training loop, the same as runtime/train-loop.ts step for step
// (batches in dnnc's shuffled order, loss, backward, clip value then global norm, L1 and coupled
// decay added to the gradient, the optimizer step, max-norm projection, the schedule, evaluation,
// early stopping with best-weights restore always), plus data parallelism: under torchrun every
// rank takes an interleaved share of each GLOBAL batch (a DistributedSampler over dnnc's order)
// and scales its loss so that DistributedDataParallel's gradient average equals the one-process
// gradient of the same global batch. Rank 0 alone logs and writes files.
// Python source, kept verbatim; no `${` may appear in it.

export const PY_TRAIN = String.raw`
# ---- initialization, optimizer groups, loss -----------------------------------------------------
def init_tensor(name, t, tensors):
    """torch.nn.init with dnnc's initializer names (same distributions as runtime/init.ts; other draws)."""
    spec = PARAMS[name]["init"]
    kind = spec["kind"]
    if kind == "torch_default_linear":
        nn.init.kaiming_uniform_(t, a=math.sqrt(5))
    elif kind == "torch_default_bias":
        bound = 1 / math.sqrt(spec["fanIn"])
        nn.init.uniform_(t, -bound, bound)
    elif kind in ("kaiming_normal", "kaiming_uniform"):
        f = nn.init.kaiming_normal_ if kind == "kaiming_normal" else nn.init.kaiming_uniform_
        f(t, a=spec.get("a", 0), mode=spec.get("mode", "fan_in"), nonlinearity=spec.get("nonlinearity", "leaky_relu"))
    elif kind == "xavier_normal":
        nn.init.xavier_normal_(t, gain=spec.get("gain", 1))
    elif kind == "xavier_uniform":
        nn.init.xavier_uniform_(t, gain=spec.get("gain", 1))
    elif kind == "orthogonal":
        nn.init.orthogonal_(t, gain=spec.get("gain", 1))
    elif kind == "normal":
        nn.init.normal_(t, spec.get("mean", 0), spec.get("std", 1))
    elif kind == "uniform":
        nn.init.uniform_(t, spec.get("low", 0), spec.get("high", 1))
    elif kind in ("zeros", "ones", "constant"):
        nn.init.constant_(t, {"zeros": 0, "ones": 1}.get(kind, spec.get("value", 0)))
    elif kind == "weight_norm_g":
        v = tensors[name[: -len("_g")] + "_v"]
        t.copy_(v.flatten(1).norm(dim=1).reshape(t.shape))  # g = ||v|| per row: w = v at the start
    else:
        fail(f"unknown initializer {kind}")
    if "zeroRow" in spec:
        t[spec["zeroRow"]].zero_()  # an embedding's padding_idx row, as nn.Embedding


def init_parameters(model):
    tensors = dict(model.named_parameters())
    with torch.no_grad():
        # weight-norm magnitudes g last: they are computed from their direction v
        for name in sorted(PARAMS, key=lambda k: PARAMS[k]["init"]["kind"] == "weight_norm_g"):
            init_tensor(name, tensors[name], tensors)


def load_initial(model, path):
    """Load parameters (and running statistics when present) exported by either backend."""
    found = decode_safetensors(path)
    state = model.state_dict()
    with torch.no_grad():
        for name in list(PARAMS) + STATS:
            if name not in found:
                if name in STATS:
                    continue
                fail(f'{path}: no tensor "{name}" (this model needs {", ".join(PARAMS)})')
            if list(found[name].shape) != list(state[name].shape):
                fail(f'{path}: tensor "{name}" has shape {list(found[name].shape)}, the model needs {list(state[name].shape)}')
            state[name].copy_(found[name])


def load_matching(model, path):
    """Fine-tuning (the spec's init_from): copy the file's tensors that match the model's by name and shape,
    as runtime/init-from.ts; another shape (a replaced head) is skipped and keeps its fresh initialisation."""
    found = decode_safetensors(path)
    state = model.state_dict()
    names = list(PARAMS) + STATS
    report = {"file": path, "loaded": [], "missing": [], "extra": [k for k in found if k not in names], "mismatched": []}
    with torch.no_grad():
        for name in names:
            if name not in found:
                report["missing"].append(name)
            elif list(found[name].shape) != list(state[name].shape):
                report["mismatched"].append({"name": name, "model": list(state[name].shape), "file": list(found[name].shape)})
            else:
                state[name].copy_(found[name])
                report["loaded"].append(name)
    if not report["loaded"]:
        fail(f"{path}: no tensor matches a tensor of this model by name and shape")
    return report


def freeze_parameters(model):
    """Fine-tuning: frozen tensors get no gradient (requires_grad False) and no optimizer group."""
    named = dict(model.named_parameters())
    for name, p in PARAMS.items():
        if p.get("frozen", False):
            named[name].requires_grad_(False)


def frozen_norms_eval(model):
    """After net.train(): the frozen batch norms normalize with, and keep, their running statistics."""
    for name in FROZEN_NORMS:
        getattr(model, name).eval()


def model_tensors(model):
    state = model.state_dict()
    return [(name, state[name]) for name in list(PARAMS) + STATS]


def param_groups(model):
    """One torch param group per tensor, carrying that tensor's own decay (as dnnc's segments)."""
    named = dict(model.named_parameters())
    groups = []
    for name, p in PARAMS.items():
        if p.get("frozen", False):
            continue  # fine-tuning: no update, no decay, no optimizer state
        decay = p["decoupled_decay"] if OPTIMIZER["kind"] == "adamw" else p["weight_decay"]
        groups.append({"params": [named[name]], "weight_decay": decay, "name": name, "lr_scale": p.get("lr_scale", 1)})
    return groups


def add_gradient_terms(model, lr):
    """What torch's optimizer does not do for us: L1 (g += l1 * sign(p)), coupled L2 under AdamW, and
    decoupled decay under any other optimizer; all on the pre-step parameters."""
    named = dict(model.named_parameters())
    with torch.no_grad():
        for name, s in PARAMS.items():
            p = named[name]
            if s.get("frozen", False):
                continue
            lr_t = lr * s.get("lr_scale", 1)
            if s["l1"] != 0:
                p.grad.add_(torch.sign(p), alpha=s["l1"])
            if OPTIMIZER["kind"] == "adamw" and s["weight_decay"] != 0:
                p.grad.add_(p, alpha=s["weight_decay"])
            if OPTIMIZER["kind"] != "adamw" and s["decoupled_decay"] != 0:
                p.mul_(1 - lr_t * s["decoupled_decay"])


def apply_max_norm(model):
    named = dict(model.named_parameters())
    with torch.no_grad():
        for name, s in PARAMS.items():
            if s["max_norm"] > 0 and not s.get("frozen", False):
                p = named[name]
                p.copy_(torch.renorm(p, 2, 0, s["max_norm"]))  # rows with norm > c scaled by c / (norm + 1e-7)


def sample_x(ds, idx):
    """Samples idx of ds as stored (bytes, floats, token ids); windows over one series are read from it."""
    w = ds.get("windows")
    if w is None:
        return ds["x"][idx]
    return w["series"][window_rows(w, idx, 0, w["length"])]


def sample_y(ds, idx):
    w = ds.get("windows")
    if w is None:
        return ds["y"][idx]
    return w["target"][window_rows(w, idx, w["offset"], w["target_length"])]


def window_rows(w, idx, offset, length):
    """(n, length) positions in the series of windows idx, from offset (runtime/data/batch.ts gatherWindow)."""
    starts = torch.as_tensor(idx, dtype=torch.int64) * w["stride"] + offset
    return starts.reshape(-1, 1) + torch.arange(length, dtype=torch.int64).reshape(1, -1)


def sample_size(ds):
    return math.prod(ds["shape"]) if "shape" in ds else ds["x"][0].numel() if ds["n"] else 0


def targets(ds, idx, device):
    y = sample_y(ds, idx)
    if LOSS["kind"] == "softmax_cross_entropy":
        return y.to(device, torch.int64)
    if ds["classes"] is not None and OUTPUT_SIZE > 1:
        return F.one_hot(y.to(torch.int64), OUTPUT_SIZE).to(device, torch.float32)
    return y.to(device, torch.float32).reshape([len(idx)] + OUTPUT_SHAPE)


def target_count(y):
    """The targets a batch's mean loss is over: its samples, or with a class at every position the positions
    whose label is not -1 (padding: ignored, as runtime/kernels/losses.ts)."""
    return int((y != -1).sum()) if POSITIONS > 1 else len(y)


def batch_lengths(ds, idx, device):
    """Padded sequences: each sample's valid length (the full length for data without lengths)."""
    if ds.get("lengths") is None:
        return torch.full((len(idx),), INPUT_SHAPE[0], dtype=torch.int64, device=device)
    return ds["lengths"][idx].to(device)


def forward(net, ds, idx, device, x):
    return net(x, batch_lengths(ds, idx, device)) if PADDED else net(x)


def count_correct(out, y):
    if LOSS["kind"] == "softmax_cross_entropy":
        return int((out.argmax(dim=-1) == y).sum())
    if LOSS["kind"] == "bce_with_logits":
        return int(((out > 0) == (y >= 0.5)).sum())  # elementwise, as the TypeScript trainer counts
    if OUTPUT_SIZE < 2:
        return 0
    return int((out.argmax(dim=1) == y.argmax(dim=1)).sum())


def batch_x(ds, idx, device, pre=None, aug=None):
    """Samples as float32: x * scale + shift computed in double and rounded once (gatherBatch), then
    augmented when aug = (seed, epoch) (training batches only), then preprocessed with the statistics
    fitted on the training rows (runtime/train-loop.ts BatchFeeder.feed)."""
    x = (sample_x(ds, idx).to(torch.float64) * DATA["scale"] + DATA["shift"]).to(torch.float32)
    if aug is not None:
        x = augment_batch(x.reshape([len(idx)] + INPUT_SHAPE), aug[0], aug[1], idx).reshape(len(idx), -1)
    if pre is not None:
        x = apply_preprocess(x.reshape(len(idx), -1), pre)
    return x.reshape([len(idx)] + INPUT_SHAPE).to(device)


# ---- evaluation and the training loop -----------------------------------------------------------
def evaluate(model, ds, order, device, pre):
    """(mean loss, accuracy or None) in eval mode over rows 'order' of ds, in batches of BATCH."""
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for s in range(0, len(order), BATCH):
            idx = order[s : s + BATCH]
            out = forward(model, ds, idx, device, batch_x(ds, idx, device, pre))
            y = targets(ds, idx, device)
            loss_sum += float(loss_sum_of(out, y)) / ELEMS
            correct += count_correct(out, y)
            count += target_count(y)
    loss = loss_sum / count if count else float("nan")
    return loss, (correct / count if ds["classes"] is not None and count else None)


class EarlyStopping:
    """Keras EarlyStopping semantics (runtime/early-stopping.ts)."""

    def __init__(self, c):
        self.mode, self.patience, self.min_delta = c["mode"], c["patience"], abs(c["minDelta"])
        self.best, self.wait, self.stopped = None, 0, False

    def update(self, value):
        if math.isnan(value):
            improved = False
        elif self.best is None:
            improved = True
        else:
            improved = value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta
        if improved:
            self.best, self.wait = value, 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped = True
        return improved


def load_data(directory):
    """(training set, test set or None)."""
    found = load_splits(directory)
    return found["train"], found["test"]


def load_splits(directory):
    """{train, validation (a source's own, or None), test, tensors and metadata to store with the model}."""
    found = {"validation": None, "tensors": [], "meta": {}}
    if DATA["source"]["kind"] in ("text", "text_classes", "tokens", "timeseries"):
        found = load_sequence_data(directory)
        train, test = found["train"], found["test"]
    elif DATA["source"]["kind"] == "idx":
        train, test = load_idx_dir(directory)
    elif DATA["source"]["kind"] == "image_folder":
        train, test, found["meta"] = load_image_folder(directory)
    else:
        train, test, found["meta"] = load_csv_source(directory, DATA["source"].get("label", "label"), REGRESSION, MODEL_CLASSES)
    for ds, what in ((train, "training data"), (test, "test data")):
        if ds is None:
            continue
        size = sample_size(ds)
        if PREPROCESS is not None and PREPROCESS["kind"] in ("pca", "whiten"):
            # the model sees k features; the rows keep the training data's length (checked at the fit)
            if ds is test and size != sample_size(train):
                fail(f"{what}: samples have {size} values but the training samples have {sample_size(train)}")
        elif size != math.prod(INPUT_SHAPE):
            if "shape" in ds:
                fail(f"{what}: samples have shape [{', '.join(map(str, ds['shape']))}] but the model's input is [{', '.join(map(str, INPUT_SHAPE))}]")
            fail(f"{what}: samples have {size} values but the model's input is {INPUT_SHAPE}")
        if LOSS["kind"] == "softmax_cross_entropy":
            if ds["classes"] is None:
                fail(f"{what}: softmax_cross_entropy needs class labels, but the targets are real values")
            if ds["classes"] > OUTPUT_SIZE // POSITIONS:
                fail(f"{what}: the data has {ds['classes']} classes but the model outputs {OUTPUT_SIZE // POSITIONS} logits" + (" at each position" if POSITIONS > 1 else ""))
    return {**found, "train": train, "test": test}


def parse_args(argv):
    ap = argparse.ArgumentParser(description=f"{SPEC['name']}: PyTorch trainer generated by dnnc {SPEC['dnnc_version']} from {SPEC['file']}")
    ap.add_argument("--data", help="data directory or CSV file (default: the spec's data source)")
    ap.add_argument("--epochs", type=int, help="number of epochs (default: the spec's)")
    ap.add_argument("--seed", type=int, help="random seed (default: the spec's)")
    ap.add_argument("--out", help="write OUT/metrics.jsonl and OUT/model.safetensors")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--init-from", help="initial weights: a .safetensors file written by either dnnc backend")
    ap.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm across ranks (CUDA only in PyTorch 1.13)")
    ap.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    ap.add_argument("--trace", help="write the loss of every step as JSON to this file")
    ap.add_argument("--quiet", action="store_true")
    return ap.parse_args(argv)


def json_number(v):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v  # JSON.stringify writes null for both


def per_token(loss):
    """Perplexity and bits per token of a mean cross-entropy in nats (runtime/train-loop.ts)."""
    return (math.exp(loss) if loss < 709 else math.inf) if loss == loss else loss, loss / math.log(2)


def main(argv=None):
    args = parse_args(argv)
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if args.device == "cuda":
        if not torch.cuda.is_available():
            fail("--device cuda: CUDA is not available")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if args.sync_bn and device.type != "cuda":
        fail("--sync-bn needs --device cuda (SyncBatchNorm in PyTorch 1.13 runs on GPUs only)")
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    lead = rank == 0
    say = (lambda s: print(s, flush=True)) if lead and not args.quiet else (lambda s: None)
    seed = SEED if args.seed is None else args.seed
    epochs = EPOCHS if args.epochs is None else args.epochs
    data_dir = args.data or (DATA_PATH if os.path.isabs(DATA_PATH) else os.path.join(os.path.dirname(os.path.abspath(__file__)), DATA_PATH))
    data = load_splits(data_dir)
    train_ds, test_ds = data["train"], data["test"]

    torch.manual_seed(seed)
    model = Net()
    init_parameters(model)
    if args.init_from:
        load_initial(model, args.init_from)
    elif INIT_FROM is not None:
        path = INIT_FROM if os.path.isabs(INIT_FROM) else os.path.join(os.path.dirname(os.path.abspath(__file__)), INIT_FROM)
        init_report = load_matching(model, path)
        say(f"init_from {path}: loaded {len(init_report['loaded'])} tensors, skipped {len(init_report['mismatched'])} for their shape, {len(init_report['missing'])} missing, {len(init_report['extra'])} extra")
    freeze_parameters(model)
    if args.sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model.to(device)
    # the penalties need torch.autograd.grad, which DDP does not support: average the gradients by hand
    by_hand = world > 1 and PENALTY is not None
    if by_hand:
        with torch.no_grad():
            for t in list(model.parameters()) + list(model.buffers()):
                dist.broadcast(t, 0)
    net = nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if device.type == "cuda" else None) if world > 1 and not by_hand else model
    torch.manual_seed(seed + 1 + rank)  # dropout masks: torch's generator (not dnnc's masks)

    # a source that splits by position (a corpus, a time series) or by class gives its own validation set
    val_ds = data["validation"] if data["validation"] is not None else train_ds
    if data["validation"] is not None:
        order, val = list(range(train_ds["n"])), list(range(val_ds["n"]))
    else:
        order, val = split_validation(train_ds["n"], DATA["validation"], seed)
    if not order:
        fail("training data: no training samples")
    pre = fit_preprocess(train_ds, order) if PREPROCESS is not None else None
    opt = make_optimizer(param_groups(model))
    plateau = Plateau() if Plateau is not None else None
    stopper = EarlyStopping(EARLY_STOPPING) if EARLY_STOPPING else None
    best_state, best_epoch, stopped_early = None, None, False
    lines, trace = [], []
    say(f"{SPEC['name']}: {train_ds['n']} training samples" + (f", {test_ds['n']} test" if test_ds else "") + f", batch {BATCH}, device {device}, {world} process(es)")

    def sync_buffers():
        if world > 1:
            for b in model.buffers():
                dist.broadcast(b, 0)

    buffers = dict(model.named_buffers())
    stat_buffers = [buffers[name] for name in STATS]
    divergences, lr_factor = 0, 1.0
    step = 0
    # the run's length in the schedule's unit (cosine without t_max spans it)
    horizon = epochs * math.ceil(len(order) / BATCH) if SCHEDULE_PER == "step" else epochs
    lr = learning_rate(0, plateau, horizon)
    shuffle_stream = stream_id("data:shuffle")
    for epoch in range(1, epochs + 1):
        t0 = time.time()
        shuffle(order, seed, shuffle_stream ^ epoch)
        sums = torch.zeros(3, dtype=torch.float64)  # loss sum, correct, samples (this rank)
        if SCHEDULE_PER != "step":
            lr = learning_rate(epoch - 1, plateau, horizon)
        done = False
        for s in range(0, len(order), BATCH):
            batch = order[s : s + BATCH]
            n = len(batch)
            if n < 2 and HAS_BATCH_NORM:
                break  # batch norm cannot train on one sample
            if SCHEDULE_PER == "step":
                lr = learning_rate(step, plateau, horizon)
            mine = batch[rank::world]  # this rank's share of the global batch
            if ON_DIVERGENCE != "stop":
                stats_backup = [b.detach().clone() for b in stat_buffers]
            net.train()
            frozen_norms_eval(model)
            x, y = batch_x(train_ds, mine, device, pre, (seed, epoch) if AUGMENT else None), targets(train_ds, mine, device)
            if PENALTY is not None:
                x.requires_grad_(True)
            out = forward(net, train_ds, mine, device, x)
            total = loss_sum_of(out, y)
            batch_loss = total.detach().to(torch.float64) / ELEMS
            count = target_count(y)  # this rank's targets; m: the global batch's
            m = n if POSITIONS == 1 else count
            if world > 1:
                dist.all_reduce(batch_loss)  # every rank takes the same decision below
                if POSITIONS > 1:
                    m_all = torch.tensor([count], dtype=torch.float64)
                    dist.all_reduce(m_all)
                    m = int(m_all)
            bad = None
            if not math.isfinite(float(batch_loss)):
                bad = f"the loss is {float(batch_loss) / m}"
            else:
                # scaled so that DDP's average over ranks is the gradient of the global batch's mean loss
                objective = total / (m * ELEMS)
                if PENALTY is not None:
                    pen = smoothness_penalty(objective, out, x, n, seed, step, list(range(rank, n, world)))
                    pen_value = pen.detach().to(torch.float64)
                    if world > 1:
                        dist.all_reduce(pen_value)
                    if not math.isfinite(float(pen_value)):
                        bad = f"the smoothness penalty is {float(pen_value)}"
                    objective = objective + pen
                (objective * world).backward()
                if by_hand:
                    for p in model.parameters():
                        if p.grad is not None:
                            dist.all_reduce(p.grad)
                            p.grad.div_(world)
                if bad is None and ON_DIVERGENCE != "stop" and not all(bool(torch.isfinite(p.grad).all()) for p in model.parameters() if p.grad is not None):
                    bad = "a gradient is not finite"
            if bad is not None:
                if ON_DIVERGENCE == "stop":
                    fail(f"training diverged at step {step + 1} (epoch {epoch}): {bad}; lower the learning rate, add clip_norm, or set on_divergence skip")
                # skip this batch: undo the running statistics its forward pass moved; optionally halve the rate
                with torch.no_grad():
                    for b, saved in zip(stat_buffers, stats_backup):
                        b.copy_(saved)
                opt.zero_grad(set_to_none=True)
                divergences += 1
                if ON_DIVERGENCE == "lower_lr":
                    lr_factor *= 0.5
                continue
            if args.trace:
                trace.append(float(batch_loss) / m)
            if CLIP_VALUE > 0:
                nn.utils.clip_grad_value_(model.parameters(), CLIP_VALUE)
            if CLIP_NORM > 0:
                nn.utils.clip_grad_norm_([p for _, p in model.named_parameters()], CLIP_NORM)
            step += 1
            add_gradient_terms(model, lr * lr_factor)
            for g in opt.param_groups:
                g["lr"] = lr * lr_factor * g["lr_scale"]
            opt.step()
            opt.zero_grad(set_to_none=True)
            apply_max_norm(model)
            sums += torch.tensor([float(total.detach()) / ELEMS, count_correct(out.detach(), y), count], dtype=torch.float64)
            if args.max_steps is not None and step >= args.max_steps:
                done = True
                break
        if done:
            break
        if world > 1:
            dist.all_reduce(sums)
        seen = max(1.0, float(sums[2]))
        m = {"epoch": epoch, "train_loss": float(sums[0]) / seen, "train_acc": float(sums[1]) / seen if train_ds["classes"] is not None else None,
             "val_loss": None, "val_acc": None, "lr": lr, "seconds": 0.0}
        if POSITIONS > 1:  # a class at every position: perplexity and bits per token too
            m["train_ppl"], m["train_bpc"] = per_token(m["train_loss"])
            m["val_bpc"] = m["val_ppl"] = None  # (the keys in the TypeScript trainer's order)
        if val:
            sync_buffers()
            m["val_loss"], m["val_acc"] = evaluate(model, val_ds, val, device, pre)
            if POSITIONS > 1:
                m["val_ppl"], m["val_bpc"] = per_token(m["val_loss"])
            if plateau is not None:
                plateau.observe((m["val_acc"] or 0) if PLATEAU["mode"] == "max" else m["val_loss"])
        m["seconds"] = time.time() - t0
        lines.append(json.dumps({k: json_number(v) for k, v in m.items()}))
        fmt = lambda v: "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"
        per = f" train_bpc {fmt(m['train_bpc'])} val_bpc {fmt(m['val_bpc'])} val_ppl {fmt(m['val_ppl'])}" if POSITIONS > 1 else ""
        say(f"epoch {epoch}: train_loss {fmt(m['train_loss'])} train_acc {fmt(m['train_acc'])} val_loss {fmt(m['val_loss'])} val_acc {fmt(m['val_acc'])}{per} lr {lr:.3g} ({m['seconds']:.1f} s)")
        if lead and args.out:
            os.makedirs(args.out, exist_ok=True)
            write_atomic(os.path.join(args.out, "metrics.jsonl"), ("\n".join(lines) + "\n").encode())
        if stopper is not None and epoch % EARLY_STOPPING["every"] == 0:
            value = m["val_acc"] if EARLY_STOPPING["monitor"] == "val_acc" else m["val_loss"]
            if stopper.update(float("nan") if value is None else value):
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                best_epoch = epoch
            if stopper.stopped:
                stopped_early = True
                break
    if best_state is not None:
        model.load_state_dict(best_state)  # restore the best weights, always
    sync_buffers()
    test_loss = test_acc = None
    final = {"test_loss": None, "test_acc": None}
    if test_ds is not None:
        test_loss, test_acc = evaluate(model, test_ds, list(range(test_ds["n"])), device, pre)
        final = {"test_loss": test_loss, "test_acc": test_acc}
        if POSITIONS > 1:
            final["test_ppl"], final["test_bpc"] = per_token(test_loss)
    lines.append(json.dumps({k: json_number(v) for k, v in final.items()}))
    fmt = lambda v: "-" if v is None else f"{v:.4f}"
    per = f" test_bpc {fmt(final['test_bpc'])} test_ppl {fmt(final['test_ppl'])}" if "test_bpc" in final else ""
    say(f"test_loss {fmt(test_loss)} test_acc {fmt(test_acc)}{per}" + (f" (stopped early; best epoch {best_epoch} restored)" if stopped_early else f" (best epoch {best_epoch} restored)" if best_epoch else ""))
    if lead and args.out:
        os.makedirs(args.out, exist_ok=True)
        write_atomic(os.path.join(args.out, "metrics.jsonl"), ("\n".join(lines) + "\n").encode())
        meta = {"format": "dnnc", "dnnc_version": SPEC["dnnc_version"], "spec": SPEC["file"], "spec_name": SPEC["name"],
                "spec_sha256": SPEC["sha256"], "input_shape": json.dumps(INPUT_SHAPE, separators=(",", ":")),
                "seed": str(seed), "steps": str(step), "backend": "pytorch"}
        tensors = model_tensors(model)
        if pre is not None:  # stored with the model, as the TypeScript trainer does
            tensors += pre["tensors"]
            meta.update(pre["meta"])
        # what the data source fitted: a series' standardization (tensors), the vocabulary, class names (metadata)
        tensors += data["tensors"]
        meta.update(data["meta"])
        if AUTO is not None:
            meta["auto"] = AUTO
        write_atomic(os.path.join(args.out, "model.safetensors"), encode_safetensors(tensors, meta))
        say(f"wrote {os.path.join(args.out, 'metrics.jsonl')} and {os.path.join(args.out, 'model.safetensors')}")
    if lead and args.trace:
        write_atomic(args.trace, json.dumps({"loss": trace, "steps": step}).encode())
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    try:
        main()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
`;
