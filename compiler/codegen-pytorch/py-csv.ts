// PyTorch target: the csv(...) source, a port of runtime/data/csv.ts (the general path: the same
// cells, header detection, column choice, numbers and messages) and of runtime/node/load-csv.ts
// loadCsvSource (train.csv and test.csv in a directory, or one file, with the data block's test
// split drawn by runtime/data/split.ts splitTestRows from the spec's seed). It gives the same rows
// in the same order, as float32 values rounded once from the double of each cell's text. Uses the
// CSV helpers of py-sequence.ts (split_line, csv_lines, decode_utf8, show), included with it.
// Python source, kept verbatim; no dollar-brace may appear in it.

export const PY_CSV = String.raw`
# ---- csv(...): numeric columns chosen by name or index (runtime/data/csv.ts, runtime/node/load-csv.ts) ----
CSV_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
CSV_SKIPPED, CSV_LABEL = -1, -2


def csv_metadata_line(texts, next_width=None):
    """runtime/data/csv.ts metadataLine: scikit-learn's "n_samples,n_features,class names..." first line."""
    if len(texts) < 2 or not re.fullmatch(r"[1-9][0-9]*", texts[0]) or not re.fullmatch(r"[1-9][0-9]*", texts[1]):
        return False
    if next_width is not None:
        return next_width == int(texts[1]) + 1
    rest = texts[2:]
    return len(rest) >= 2 and all(t != "" and not CSV_NUMBER.fullmatch(t) for t in rest)


def csv_metadata_fail(path, line_no, texts, delim):
    rest = texts[2:]
    fail(
        f"{path}:{line_no}: this line looks like scikit-learn's metadata line ({show(delim.join(texts))}: "
        f"{texts[0]} samples, {texts[1]} features" + (f", classes {', '.join(rest)}" if rest else "") + "), not a header or a data row; "
        f"skip it with csv(..., skip_rows={line_no}) (the columns are then numbered from 0, the label last: label=-1)"
    )


def load_csv_file(path, label, regression, classes, args):
    """One CSV file: {x [n, F] float32, y, n, classes, feature_names, ...} as runtime/data/csv.ts CsvParser."""
    delim = args.get("delimiter") or ","
    skip = args.get("skip_rows") or 0
    header_opt = args.get("header")
    text = decode_utf8(read_data_bytes(path), path)
    role, names, width, first_line, has_header = None, None, 0, 0, False
    xs, ys, max_label = [], [], -1
    for line_no, line in csv_lines(text):
        if line_no <= skip:
            continue
        where = f"{path}:{line_no}"
        cells = split_line(line, delim, where)
        if role is None:
            width, first_line = len(cells), line_no
            has_header = header_opt if header_opt is not None else any(not CSV_NUMBER.fullmatch(c[0]) for c in cells)
            first_texts = [c[0] for c in cells]
            if header_opt is not False and csv_metadata_line(first_texts):
                csv_metadata_fail(path, line_no, first_texts, delim)
            names = [c[0] for c in cells] if has_header else [f"c{k}" for k in range(width)]

            def column(c, what):
                if isinstance(c, str):
                    if not has_header:
                        fail(f'{where}: {what} column "{c}" given by name, but the file has no header row (give a 0-based index, or header=true)')
                    if c not in names:
                        fail(f'{where}: no column named "{c}" in the header (columns: {", ".join(names)})')
                    return names.index(c)
                k = width + c if c < 0 else c
                if k < 0 or k >= width:
                    fail(f"{where}: {what} column index {c} is out of range for the {width} columns of this line (0..{width - 1}, or -1 for the last)")
                return k

            role = [CSV_SKIPPED] * width
            features = args.get("features")
            if label is not None:
                if width < 2 and features is None:
                    fail(f"{where}: need at least one feature column and a label column, found {width} column")
                role[column(label, "label")] = CSV_LABEL
            F = 0
            if features is not None:
                for c in features:
                    k = column(c, "feature")
                    if role[k] == CSV_LABEL:
                        fail(f'{where}: column "{names[k]}" is the label; it cannot be a feature too')
                    if role[k] != CSV_SKIPPED:
                        fail(f'{where}: column "{names[k]}" is listed twice in features')
                    role[k] = F
                    F += 1
            else:
                for k in range(width):
                    if role[k] != CSV_LABEL:
                        role[k] = F
                        F += 1
            cats = {}
            for c in args.get("categorical") or []:
                k = column(c, "categorical")
                if role[k] < 0:
                    fail(f'{where}: categorical column "{names[k]}" is not a feature' + (" (it is the label)" if role[k] == CSV_LABEL else ""))
                cats[k] = {}
            if has_header:
                continue
        if len(cells) != width:
            if len(xs) == 1 and not has_header and csv_metadata_line(first_texts, len(cells)):
                csv_metadata_fail(path, first_line, first_texts, delim)
            fail(f"{where}: ragged row: {len(cells)} cells, expected {width} (as in line {first_line})")
        row = [0.0] * F
        for k, (t, start) in enumerate(cells):
            r = role[k]
            if r == CSV_SKIPPED:
                continue
            if k in cats:
                row[r] = float(cats[k].setdefault(t, len(cats[k])))
                continue
            col = u16col(line, start)
            if not CSV_NUMBER.fullmatch(t):
                what = "empty cell" if t == "" else f"{show(t)} is not a number"
                fail(f'{where}:{col}: {what} (column "{names[k]}")')
            v = float(t)
            if not (-F32_OVERFLOW < v < F32_OVERFLOW):
                fail(
                    f"{where}:{col}: {show(t)} is not a finite float32 (it would be {'' if v > 0 else '-'}Infinity; "
                    f'the largest float32 is 3.4028235e38) (column "{names[k]}")'
                )
            if r == CSV_LABEL:
                if not regression:
                    if v != math.floor(v) or v < 0:
                        fail(f"{where}:{col}: label {show(t)} is not a class index (an integer >= 0); for a real-valued target load with regression: true")
                    if classes is not None and v >= classes:
                        fail(f"{where}:{col}: label out of range at row {len(ys)}: {js_num(v)} (expected 0..{classes - 1})")
                    max_label = max(max_label, v)
                ys.append(v)
            else:
                row[r] = v
        xs.append(row)
    if role is None:
        fail(f"{path}: empty file (no CSV rows)")
    if not xs:
        fail(f"{path}: no data rows (only a header)")
    categories = sorted(((names[k], role[k], list(m.keys())) for k, m in cats.items()), key=lambda c: c[1])
    x = torch.tensor(xs, dtype=torch.float32)
    if label is None:
        y, k = torch.zeros(0), None
    elif regression:
        y, k = torch.tensor(ys, dtype=torch.float32), None
    else:
        y, k = torch.tensor([int(v) for v in ys], dtype=torch.int64), classes if classes is not None else int(max_label) + 1
    return {"x": x, "y": y, "n": len(xs), "classes": k, "file": path, "categories": categories}


def fit_categories(ds, rows):
    """runtime/data/categorical.ts fitCategories: each column's categories among the training rows, sorted
    as JavaScript sorts strings (by UTF-16 code units)."""
    out = []
    for name, slot, values in ds["categories"]:
        seen = {int(ds["x"][r, slot]) for r in rows} if rows is not None else set(range(len(values)))
        out.append({"column": name, "values": sorted((values[i] for i in seen), key=lambda v: v.encode("utf-16-be"))})
    return out


def one_hot(ds, vocab):
    """runtime/data/categorical.ts oneHot: each categorical slot becomes one column per category (an unknown one: zeros)."""
    F = ds["x"].shape[1]
    blocks = {slot: (values, {v: j for j, v in enumerate(vocab[i]["values"])}, len(vocab[i]["values"])) for i, (_, slot, values) in enumerate(ds["categories"])}
    cols = []
    for s in range(F):
        if s not in blocks:
            cols.append(ds["x"][:, s : s + 1])
            continue
        values, index, K = blocks[s]
        block = torch.zeros((ds["n"], K), dtype=torch.float32)
        for r in range(ds["n"]):
            j = index.get(values[int(ds["x"][r, s])])
            if j is not None:
                block[r, j] = 1.0
        cols.append(block)
    out = dict(ds)
    out["x"] = torch.cat(cols, 1) if cols else ds["x"]
    out["categories"] = []
    return out


def split_test_rows(n, fraction, seed, what):
    """runtime/data/split.ts splitTestRows: the test rows from the spec's seed, both parts sorted."""
    n_test = js_round(n * fraction)
    if fraction > 0 and n_test == 0:
        fail(f"{what}: test fraction {js_num(fraction)} of {n} samples gives no test sample")
    if n > 0 and n_test >= n:
        fail(f"{what}: test fraction {js_num(fraction)} of {n} samples leaves none for training")
    perm = list(range(n))
    shuffle(perm, seed, stream_id("data:test-split"))
    return sorted(perm[n_test:]), sorted(perm[:n_test])


def take_rows(ds, rows):
    """The samples rows of a dataset, in that order (runtime/data/dataset.ts takeRows)."""
    idx = torch.tensor(rows, dtype=torch.int64)
    out = dict(ds)
    out["x"], out["n"] = ds["x"][idx], len(rows)
    if len(ds["y"]):
        out["y"] = ds["y"][idx]
    if ds.get("lengths") is not None:
        out["lengths"] = ds["lengths"][idx]
    return out


def load_csv_source(path, label, regression, classes):
    """(train, test or None, metadata) of a csv(...) source: train.csv and test.csv in a directory, or one file."""
    args = DATA["source"].get("args") or {}
    fraction = DATA.get("test") or 0
    train_path, test_path, train_rows, test = path, None, None, None
    if os.path.isdir(path):
        train_path = path_join(path, "train.csv")
        test_path = path_join(path, "test.csv")
    elif not os.path.exists(path):
        fail(f"{path}: no such file")
    if test_path is not None and os.path.exists(test_path):
        if fraction > 0:
            fail(f"{test_path}: the data block asks for a test split (test {js_num(fraction)}) but the directory has its own test.csv; drop one of them")
        train = load_csv_file(train_path, label, regression, classes, args)
        test = load_csv_file(test_path, label, regression, classes if classes is not None else train["classes"], args)
    else:
        train = load_csv_file(train_path, label, regression, classes, args)
        if fraction > 0:
            train_rows, te = split_test_rows(train["n"], fraction, SEED, train_path)
            test = take_rows(train, te)
    if not train["categories"]:
        return (take_rows(train, train_rows) if train_rows is not None else train), test, {}
    vocab = fit_categories(train, train_rows)
    encoded = one_hot(take_rows(train, train_rows) if train_rows is not None else train, vocab)
    width = encoded["x"].shape[1]
    if PREPROCESS is None and width != math.prod(INPUT_SHAPE):
        numeric = train["x"].shape[1] - len(vocab)
        parts = ([f"{numeric} numeric"] if numeric > 0 else []) + [f"{v['column']} ({len(v['values'])} categor{'y' if len(v['values']) == 1 else 'ies'})" for v in vocab]
        fail(f"{train_path}: the rows give {' + '.join(parts)} = {width} features, but the model's input is [{math.prod(INPUT_SHAPE)}]; set \x60input [{width}]\x60")
    return encoded, (one_hot(test, vocab) if test is not None else None), {"csv.categories": js_json(vocab)}
`;
