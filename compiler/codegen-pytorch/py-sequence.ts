// PyTorch target, part 7: the sequence sources, ports of dnnc's loaders that give the same samples,
// in the same order, with the same bytes: text (runtime/data/text.ts charCorpus, read as
// runtime/node/load-text.ts), text_classes (documentClasses, splitDocuments, the stratified split of
// runtime/data/split.ts with dnnc's RNG), tokens (runtime/data/token-csv.ts) and timeseries
// (runtime/data/timeseries.ts: columns by name, dates, standardization fitted on the training
// span in float64 in the same order, rounded to float32 once). Files are strict UTF-8 (an invalid
// sequence is an error naming file:line:col and the bytes, as runtime/data/utf8.ts), gzip is
// detected by its magic bytes, directories are listed by the rule of listTextFiles. A character
// source encodes with VOCAB, the vocabulary the spec was compiled with, when there is one (others
// become the unknown id 0), else with the training span's. Every user error is one line naming the
// file, as the TypeScript loaders word it. Windows over one series are never copied per sample:
// a batch is gathered from the series (window_x / window_y). Included only for these sources.
// Python source, kept verbatim; no dollar-brace may appear in it.

/** The helpers of the sequence sources that csv(...) and image_folder(...) use too (files, UTF-8, splits, CSV lines). */
export const PY_SEQUENCE_COMMON = String.raw`
# ---- the sequence sources (runtime/data/{text,token-csv,timeseries,split,vocab,utf8}.ts) ----------
JS_SPACE = " \t\n\x0b\x0c\r\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
SEQ_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
TOKEN_ID = re.compile(r"[0-9]+")
MAX_TOKEN_ID = 2**24


def js_trim(s):
    """String.prototype.trim: JavaScript's whitespace, not Python's."""
    return s.strip(JS_SPACE)


def js_round(x):
    """Math.round: halves go up."""
    return int(math.floor(x + 0.5))


def js_num(v):
    """A number as JavaScript's String(v) writes it (messages quote numbers the way the TypeScript loaders do)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if v != v:
        return "NaN"
    if v in (math.inf, -math.inf):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0:
        return "0"
    sign = "-" if v < 0 else ""
    mant, _, e = repr(abs(v)).partition("e")
    whole, _, frac = mant.partition(".")
    frac = frac.rstrip("0") if frac != "0" else ""
    if whole != "0":
        digits, point = (whole + frac).rstrip("0"), len(whole)
    else:
        digits = frac.lstrip("0")
        point = -(len(frac) - len(digits))
    point += int(e) if e else 0
    k = len(digits)
    if k <= point <= 21:
        return sign + digits + "0" * (point - k)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * (-point) + digits
    exp = point - 1
    return sign + digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if exp >= 0 else "-") + str(abs(exp))


def js_json(v):
    """JSON.stringify of a string or a list of strings (non-ASCII kept, controls escaped)."""
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def show(text):
    """A cell's text for a message: quoted, cut after 40 characters (runtime/data/csv.ts show)."""
    return '"' + (text[:40] + "..." if len(text) > 40 else text) + '"'


def u16col(line, k):
    """The 1-based column of line[k] in UTF-16 code units, as a JavaScript string counts it."""
    return len(line[:k].encode("utf-16-le")) // 2 + 1


def fs_reason(e):
    if isinstance(e, FileNotFoundError):
        return "no such file or directory"
    if isinstance(e, PermissionError):
        return "permission denied"
    if isinstance(e, IsADirectoryError):
        return "is a directory, expected a file"
    if isinstance(e, NotADirectoryError):
        return "not a directory (or a part of the path is a file)"
    return (e.strerror or str(e)).lower()


def path_join(directory, name):
    """node:path's join: the parts joined and normalized (messages name the same paths)."""
    return os.path.normpath(os.path.join(directory, name))


def read_data_bytes(path):
    """A data file's bytes, gunzipped when they start with the gzip magic (runtime/node/files.ts readMaybeGzip)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except IsADirectoryError:
        fail(f"{path}: is a directory, expected a file")
    except OSError as e:
        fail(f"{path}: cannot read ({fs_reason(e)})")
    if len(data) == 0:
        fail(f"{path}: empty file")
    return gunzip_if_magic(path, data)


def utf8_need(c):
    """Continuation bytes a lead byte needs (-1: it cannot start a character)."""
    return 1 if 0xC2 <= c <= 0xDF else 2 if 0xE0 <= c <= 0xEF else 3 if 0xF0 <= c <= 0xF4 else -1


def decode_utf8(data, path):
    """Strict UTF-8 (RFC 3629, as runtime/data/utf8.ts): the leading byte-order mark dropped; the first
    invalid sequence is an error naming path:line:col (col in characters) and its bytes."""
    start = 3 if data[:3] == b"\xef\xbb\xbf" else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as e:
        i = start + e.start  # the lead byte of the first invalid sequence
    line_start = max(data.rfind(b"\n", start, i) + 1, start)
    line = data.count(b"\n", start, i) + 1
    col = len(data[line_start:i].decode("utf-8")) + 1
    need = utf8_need(data[i])
    if need < 0:
        what = f"byte 0x{data[i]:02x} cannot start a character"
    elif i + need >= len(data):
        what = f"truncated sequence (the file ends inside a character starting with 0x{data[i]:02x})"
    else:
        what = "bad sequence " + " ".join(f"0x{b:02x}" for b in data[i : i + need + 1])
    fail(f"{path}:{line}:{col}: invalid UTF-8: {what} (is it a text file? save it as UTF-8)")


def code_points(text):
    """The code points of a str as an int64 tensor."""
    if not text:
        return torch.zeros(0, dtype=torch.int64)
    order = "utf-32-le" if sys.byteorder == "little" else "utf-32-be"
    return torch.frombuffer(bytearray(text.encode(order)), dtype=torch.int32).to(torch.int64)


# ---- which files of a directory are read (runtime/node/load-text.ts listTextFiles) ----------------
def is_directory(path):
    try:
        os.stat(path)
    except FileNotFoundError:
        fail(f"{path}: no such file or directory")
    except OSError as e:
        fail(f"{path}: cannot read ({fs_reason(e)})")
    return os.path.isdir(path)


def list_text_files(directory):
    """[(name, path, "file" | "dir")]: names in UTF-16 order, no hidden names, X.dat skipped beside X, a
    link to another entry of the directory read once under the entry's own name."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        fail(f"{directory}: no such file or directory")
    except OSError as e:
        fail(f"{directory}: cannot read ({fs_reason(e)})")
    names = sorted((n for n in names if not n.startswith(".")), key=lambda n: n.encode("utf-16-be", "surrogatepass"))
    present = set(names)
    info = [(name, path_join(directory, name)) for name in names]
    info = [(name, path, os.path.islink(path)) for name, path in info]
    real = {}
    for name, path, link in info:
        if not link:
            real[os.path.realpath(path)] = name
    out = []
    for name, path, link in info:
        if name.endswith(".dat") and name[:-4] in present:
            continue
        try:
            st = os.stat(path)
        except FileNotFoundError:
            fail(f"{path}: broken symbolic link")
        except OSError as e:
            fail(f"{path}: cannot read ({fs_reason(e)})")
        if link and os.path.realpath(path) in real:
            continue  # an alias of an entry read under its own name
        if os.path.isfile(path):
            out.append((name, path, "file"))
        elif os.path.isdir(path):
            out.append((name, path, "dir"))
        else:
            fail(f"{path}: not a regular file or a directory")
    return out


# ---- splits (runtime/data/split.ts) --------------------------------------------------------------
def check_fractions(val, test, what):
    for name, v in (("validation", val), ("test", test)):
        if not (0 <= v < 1):
            fail(f"{what}: {name} fraction must be in [0, 1), got {js_num(v)}")
    if not (val + test < 1):
        fail(f"{what}: validation {js_num(val)} + test {js_num(test)} leave nothing for training")


def split_spans(n, val, test, what, unit):
    """Contiguous [start, end) spans of positions 0..n-1: train, then validation, then test (None: no span)."""
    check_fractions(val, test, what)
    n_test, n_val = js_round(n * test), js_round(n * val)
    if val > 0 and n_val == 0:
        fail(f"{what}: validation fraction {js_num(val)} of {n} {unit} is an empty span")
    if test > 0 and n_test == 0:
        fail(f"{what}: test fraction {js_num(test)} of {n} {unit} is an empty span")
    n_train = n - n_val - n_test
    if n_train <= 0:
        fail(f"{what}: validation {js_num(val)} and test {js_num(test)} of {n} {unit} leave nothing for training")
    return (0, n_train), ((n_train, n_train + n_val) if n_val else None), ((n_train + n_val, n) if n_test else None)


def split_stratified(labels, classes, val, test, seed, what, names):
    """Per class, dnnc's seeded shuffle (one generator over the classes in order) picks round(n_c * test)
    test and round(n_c * val) validation samples; each part sorted (splitStratified)."""
    check_fractions(val, test, what)
    by_class = [[] for _ in range(classes)]
    for i, c in enumerate(labels):
        by_class[c].append(i)
    draws = Draws(seed, stream_id("data:document-split"))
    tr, va, te = [], [], []
    for c in range(classes):
        idx = by_class[c]
        for i in range(len(idx) - 1, 0, -1):  # rng.ts Rng.shuffle, the counter running on
            j = int(math.floor(draws.uniform() * (i + 1)))
            idx[i], idx[j] = idx[j], idx[i]
        n_test, n_val = js_round(len(idx) * test), js_round(len(idx) * val)
        if idx and n_test + n_val >= len(idx):
            fail(f"{what}: class {js_json(names[c])} has {len(idx)} samples: validation {js_num(val)} and test {js_num(test)} leave none for training")
        for k, i in enumerate(idx):
            (te if k < n_test else va if k < n_test + n_val else tr).append(i)
    if val > 0 and not va:
        fail(f"{what}: validation fraction {js_num(val)} of {len(labels)} samples gives no validation sample")
    if test > 0 and not te:
        fail(f"{what}: test fraction {js_num(test)} of {len(labels)} samples gives no test sample")
    return sorted(tr), sorted(va), sorted(te)


def window_count(steps, span, stride):
    return 0 if steps < span else (steps - span) // stride + 1


# ---- the character vocabulary (runtime/data/vocab.ts) --------------------------------------------
def make_vocab(cps, pad):
    """id 0 unknown, id 1 pad (with pad), then the distinct code points cps (sorted int64) in order."""
    return {"cps": cps, "pad": 1 if pad else None, "first": 2 if pad else 1, "size": (2 if pad else 1) + len(cps)}


def build_vocab(pieces, pad):
    """The vocabulary of the code points in pieces (int64 tensors); surrogates never occur in decoded UTF-8."""
    cps = torch.unique(torch.cat(pieces)) if pieces else torch.zeros(0, dtype=torch.int64)
    return make_vocab(cps, pad)


def fixed_vocab():
    """VOCAB (the vocabulary the trainer was compiled with), or None."""
    if VOCAB is None:
        return None
    v = json.loads(VOCAB)
    return make_vocab(torch.tensor([ord(ch) for ch in v["chars"]], dtype=torch.int64), v["pad"] == 1)


def vocab_json(v):
    """The vocabulary as its safetensors metadata string: Vocab.toJSON's bytes."""
    chars = "".join(chr(c) for c in v["cps"].tolist())
    return js_json({"format": "dnnc-chars", "version": 1, "unknown": 0, "pad": v["pad"], "chars": chars})


def encode(v, cps):
    """Token ids of code points: characters outside the vocabulary give the unknown id 0."""
    table = v["cps"]
    if len(table) == 0 or len(cps) == 0:
        return torch.zeros(len(cps), dtype=torch.int64)
    pos = torch.searchsorted(table, cps).clamp(max=len(table) - 1)
    return torch.where(table[pos] == cps, pos + v["first"], torch.zeros_like(pos))


def windows_ds(series, target, length, stride, offset, target_length, n, shape, target_shape, classes=None):
    """Samples that are windows over one series (runtime/data/dataset.ts Windows): sample i reads
    series[i*stride, i*stride + length) and target[i*stride + offset, ... + target_length)."""
    return {"n": n, "classes": classes, "windows": {"series": series, "target": target, "length": length, "stride": stride, "offset": offset,
            "target_length": target_length}, "shape": shape, "target_shape": target_shape, "lengths": None}


# ---- CSV lines (runtime/data/token-csv.ts, shared with csv(...)) ---------------------------------
def split_line(line, delim, where):
    """Cells (text, start index) of one CSV line (runtime/data/csv.ts splitLine): quotes, "" inside them, trimmed."""
    cells, i, n = [], 0, len(line)
    while True:
        start = j = i
        while j < n and line[j] in " \t":
            j += 1
        if j < n and line[j] == '"':
            j += 1
            parts = []
            while True:
                if j >= n:
                    fail(f"{where}:{u16col(line, start)}: unterminated quoted cell")
                if line[j] == '"':
                    if j + 1 < n and line[j + 1] == '"':
                        parts.append('"')
                        j += 2
                        continue
                    j += 1
                    break
                parts.append(line[j])
                j += 1
            while j < n and line[j] in " \t":
                j += 1
            if j < n and line[j] != delim:
                fail(f"{where}:{u16col(line, j)}: unexpected text after a quoted cell")
            i, text = j, "".join(parts)
        else:
            end = line.find(delim, i)
            i = n if end < 0 else end
            text = js_trim(line[start:i])
        cells.append((text, start))
        if i >= n:
            return cells
        i += 1


def csv_lines(text):
    """(line number, line without its CR) of the non-blank lines."""
    for k, line in enumerate(text.split("\n")):
        if line.endswith("\r"):
            line = line[:-1]
        if js_trim(line) != "":
            yield k + 1, line


`;

/** The sequence sources' loaders (text, text_classes, tokens, timeseries), after PY_SEQUENCE_COMMON. */
const PY_SEQUENCE_LOADERS = String.raw`
# ---- text: a character corpus (charCorpus, loadTextCorpus) ----------------------------------------
def load_text_corpus(path, context, stride, val, test, vocab, separator="\n"):
    if is_directory(path):
        entries = list_text_files(path)
        for _, p, kind in entries:
            if kind == "dir":
                fail(f"{p}: a directory inside a text corpus directory (only the files directly in {path} are read)")
        if not entries:
            fail(f"{path}: no text files in this directory")
        files = [p for _, p, _ in entries]
    else:
        files = [path]
    text = separator.join(decode_utf8(read_data_bytes(p), p) for p in files)
    cps = code_points(text)
    if len(cps) == 0:
        fail(f"{path}: empty text")
    spans = split_spans(len(cps), val, test, path, "characters")
    if vocab is None:
        vocab = build_vocab([cps[spans[0][0] : spans[0][1]]], False)
    ids = encode(vocab, cps)
    parts = []
    for name, span in zip(("training", "validation", "test"), spans):
        if span is None:
            parts.append(None)
            continue
        length = span[1] - span[0]
        n = window_count(length, context + 1, stride)
        if n == 0:
            fail(f"{path}: the {name} span has {length} characters, fewer than one window needs (context {context} + 1 for the next-character target)"
                 + ("" if name == "training" else f"; lower context or raise the {name} fraction"))
        series = ids[span[0] : span[1]]
        parts.append(windows_ds(series, series, context, stride, 1, context, n, [context], [context], vocab["size"]))
    return {"vocab": vocab, "train": parts[0], "validation": parts[1], "test": parts[2]}


# ---- text_classes: documents per class (documentClasses, splitDocuments, loadTextClasses) ---------
def is_blank(text, s, e):
    return text[s:e].strip(" \t\n\r\x0b\x0c") == ""


def split_documents(text, separator):
    """[start, end) of the documents between lines that are exactly separator (a trailing CR ignored),
    each without the line break before the separator line; blank documents skipped. None: one document."""
    docs = []

    def push(s, e):
        if e > s and text[e - 1] == "\n":
            e -= 1
        if e > s and text[e - 1] == "\r":
            e -= 1
        if not is_blank(text, s, e):
            docs.append((s, e))

    if separator is None:
        push(0, len(text))
        return docs
    if separator == "" or "\n" in separator:
        fail(f"document separator must be one non-empty line, got {js_json(separator)}")
    n, doc_start, ls = len(text), 0, 0
    while ls < n:
        le = text.find("\n", ls)
        le = n if le < 0 else le
        ce = le - 1 if le > ls and text[le - 1] == "\r" else le
        nxt = le + 1 if le < n else le
        if text[ls:ce] == separator:
            push(doc_start, ls)
            doc_start = nxt
        ls = nxt
    push(doc_start, n)
    return docs


def load_text_classes(directory, context, seed, val, test, separator, vocab):
    if not is_directory(directory):
        fail(f"{directory}: not a directory (document classes are the files or subdirectories of a directory)")
    classes = []  # (name, source, [document str])
    for name, path, kind in list_text_files(directory):
        if kind == "file":
            text = decode_utf8(read_data_bytes(path), path)
            classes.append((name, path, [text[s:e] for s, e in split_documents(text, separator)]))
            continue
        docs = []
        inner = list_text_files(path)
        for _, p, k in inner:
            if k == "dir":
                fail(f"{p}: a directory inside class directory {path} (each file of it is one document)")
        for _, p, _ in inner:
            text = decode_utf8(read_data_bytes(p), p)
            ranges = split_documents(text, None)
            if not ranges:
                fail(f"{p}: blank document")
            docs.append(text[ranges[0][0] : ranges[0][1]])
        classes.append((name, path, docs))
    if not classes:
        fail(f"{directory}: no class files in this directory")
    if len(classes) < 2:
        fail(f"{directory}: {len(classes)} class{'' if len(classes) == 1 else 'es'}; classification needs at least 2")
    docs, labels = [], []
    for k, (name, source, ds) in enumerate(classes):
        if not ds:
            fail(f'{source}: no documents (class "{name}" is empty)')
        docs += [code_points(d) for d in ds]
        labels += [k] * len(ds)
    names = [c[0] for c in classes]
    tr, va, te = split_stratified(labels, len(classes), val, test, seed, directory, names)
    if vocab is None:
        vocab = build_vocab([docs[i] for i in tr], True)
    if vocab["pad"] is None:
        fail(f"{directory}: the fixed vocabulary has no pad id (documents are padded)")

    def make(idx):
        x = torch.full((len(idx), context), vocab["pad"], dtype=torch.int64)
        lengths = torch.zeros(len(idx), dtype=torch.int64)
        for i, d in enumerate(idx):
            ids = encode(vocab, docs[d][:context])
            x[i, : len(ids)] = ids
            lengths[i] = len(ids)
        y = torch.tensor([labels[d] for d in idx], dtype=torch.int64)
        return {"x": x.to(torch.float32), "y": y, "n": len(idx), "classes": len(classes), "lengths": lengths, "shape": [context], "target_shape": None}

    return {"vocab": vocab, "names": names, "train": make(tr), "validation": make(va) if va else None, "test": make(te) if te else None}


# ---- tokens: a CSV of token-id sequences (runtime/data/token-csv.ts) -------------------------------
def load_token_csv(path, label, pad, max_length, regression, classes):
    text = decode_utf8(read_data_bytes(path), path)
    rows, labels, lengths = [], [], []
    first, has_header, label_idx = True, False, None
    max_label, truncated = -1, 0
    for line_no, line in csv_lines(text):
        where = f"{path}:{line_no}"
        cells = split_line(line, ",", where)
        if first:
            first = False
            has_header = any(not SEQ_NUMBER.fullmatch(c[0]) for c in cells)
            if label is not None:
                if isinstance(label, str):
                    if not has_header:
                        fail(f'{path}: label column "{label}" given by name, but the file has no header row')
                    names = [c[0] for c in cells]
                    if label not in names:
                        fail(f'{where}: no column named "{label}" in the header (columns: {", ".join(names)})')
                    k = names.index(label)
                    label_idx = -1 if k == len(cells) - 1 and k > 0 else k
                else:
                    label_idx = label
            if has_header:
                continue
        m = len(cells)
        lc = -1
        if label_idx is not None:
            lc = m + label_idx if label_idx < 0 else label_idx
            if lc < 0 or lc >= m:
                at = f"{label_idx} (from the end)" if label_idx < 0 else str(label_idx + 1)
                fail(f"{where}: {m} cell{'' if m == 1 else 's'}: no label cell at column {at}")
            labels.append(label_value(cells[lc], line, where, regression, classes))
            if not regression:
                max_label = max(max_label, labels[-1])
        count = m - 1 if lc >= 0 else m
        if count == 0:
            fail(f"{where}: no token ids in this row (a sequence needs at least one)")
        keep = min(count, max_length)
        if keep < count:
            truncated += 1
        ids = [token_id(c, line, where) for k, c in enumerate(cells) if k != lc]
        rows.append(ids[:keep])
    if not rows:
        fail(f"{path}: empty file (no CSV rows)" if first else f"{path}: no data rows (only a header)")
    x = torch.full((len(rows), max_length), pad, dtype=torch.float32)
    for i, ids in enumerate(rows):
        x[i, : len(ids)] = torch.tensor(ids, dtype=torch.float32)
    lens = torch.tensor([len(r) for r in rows], dtype=torch.int64)
    has_label = label_idx is not None
    if regression:
        y = torch.tensor(labels, dtype=torch.float32)
    else:
        y = torch.tensor(labels, dtype=torch.int64)
    k = None if regression or not has_label else (classes if classes is not None else max_label + 1)
    return {"x": x, "y": y, "n": len(rows), "classes": k, "lengths": lens, "shape": [max_length], "target_shape": None}


def token_id(cell, line, where):
    t = cell[0]
    if not TOKEN_ID.fullmatch(t):
        what = "empty cell" if t == "" else f"{show(t)} is not a token id (an integer >= 0)"
        fail(f"{where}:{u16col(line, cell[1])}: {what}")
    if int(t) >= MAX_TOKEN_ID:
        fail(f"{where}:{u16col(line, cell[1])}: token id {show(t)} is too large (token ids must be below 2^24 = {MAX_TOKEN_ID}, the integers float32 holds exactly)")
    return int(t)


def label_value(cell, line, where, regression, classes):
    t, col = cell[0], u16col(line, cell[1])
    if not SEQ_NUMBER.fullmatch(t):
        fail(f"{where}:{col}: label {'cell is empty' if t == '' else show(t) + ' is not a number'}")
    v = float(t)
    if not (-F32_OVERFLOW < v < F32_OVERFLOW):
        fail(f"{where}:{col}: label {show(t)} is not a finite float32")
    if regression:
        return v
    if v != math.floor(v) or v < 0:
        fail(f"{where}:{col}: label {show(t)} is not a class index (an integer >= 0); for a real-valued target load with regression: true")
    if classes is not None and v >= classes:
        fail(f"{where}:{col}: label {js_num(v)} out of range (expected 0..{classes - 1})")
    return int(v)


# ---- timeseries: windows by column name (runtime/data/timeseries.ts) ------------------------------
DATE_TIME = re.compile(r"([0-9]{4})([-/])([0-9]{2})\2([0-9]{2})(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?[" + JS_SPACE + r"]*(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?")
MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (any year)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_date_time(text):
    """ms since 1970-01-01 UTC of a date or date-time (parseDateTime), or None."""
    m = DATE_TIME.fullmatch(js_trim(text))
    if not m:
        return None
    year, month, day = int(m[1]), int(m[3]), int(m[4])
    hour, minute, second = int(m[5] or 0), int(m[6] or 0), int(m[7] or 0)
    ms = int(math.floor(float("0." + m[8]) * 1000)) if m[8] else 0
    leap = (year % 4 == 0 and year % 100 != 0) or year % 400 == 0
    if month < 1 or month > 12 or day < 1 or day > (29 if month == 2 and leap else MONTH_DAYS[month - 1]):
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    offset = 0
    z = m[9]
    if z and z != "Z":
        digits = z[1:].replace(":", "", 1)
        oh, om = int(digits[:2]), int(digits[2:]) if len(digits) > 2 else 0
        if oh > 23 or om > 59:
            return None
        offset = (-1 if z[0] == "-" else 1) * (oh * 60 + om) * 60000
    return days_from_civil(year, month, day) * 86400000 + ((hour * 60 + minute) * 60 + second) * 1000 + ms - offset


def iso_string(t):
    """Date.prototype.toISOString of ms since the epoch."""
    days, ms = divmod(int(t), 86400000)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    mo = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (mo <= 2)
    year = f"{y:04d}" if 0 <= y <= 9999 else ("+" if y > 0 else "-") + f"{abs(y):06d}"
    return f"{year}-{mo:02d}-{d:02d}T{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}Z"


def parse_series_csv(text, path, targets, inputs, time_name):
    """(input names, target names, inputs [steps, Fi] float32, targets [steps, Fo] float32, times or None, lines)."""
    lines = csv_lines(text)
    first = next(lines, None)
    if first is None:
        fail(f"{path}: empty file (a time series needs a header row and data rows)")
    header_no = first[0]
    header = [c[0] for c in split_line(first[1], ",", f"{path}:{header_no}")]

    def column(name, role):
        if not isinstance(name, str):
            fail(f"{path}: {role} column names must be strings, got {js_json(name)}")
        if name not in header:
            fail(f'{path}:{header_no}: no column named "{name}" ({role}) in the header (columns: {", ".join(header)})')
        if header.count(name) > 1:
            fail(f'{path}:{header_no}: two columns are named "{name}" ({role}); rename one')
        return header.index(name)

    target_idx = [column(n, "target") for n in targets]
    time_idx = -1 if time_name is None else column(time_name, "time")
    if time_idx >= 0 and (time_idx in target_idx or header[time_idx] in (inputs or [])):
        fail(f'{path}: column "{header[time_idx]}" is the time column, so it cannot be an input, a target or ignored')
    row = next(lines, None)
    if row is None:
        fail(f"{path}: no data rows (only a header)")
    cells = split_line(row[1], ",", f"{path}:{row[0]}")
    if time_name is None:
        chosen = set(target_idx + [header.index(n) if n in header else -1 for n in (inputs or [])])
        time_idx = next((k for k in range(len(header)) if k not in chosen and k < len(cells) and not SEQ_NUMBER.fullmatch(cells[k][0])
                         and parse_date_time(cells[k][0]) is not None), -1)
    input_idx = [column(n, "input") for n in inputs] if inputs else [k for k in range(len(header)) if k != time_idx]
    if not input_idx:
        fail(f"{path}: no input columns")
    hint = "" if inputs else "; name the input columns (inputs) or ignore this one"
    xs, ys, times, line_nos = [], [], [] if time_idx >= 0 else None, []
    prev_line = 0
    while row is not None:
        line_no, line = row
        where = f"{path}:{line_no}"
        if len(cells) != len(header):
            fail(f"{where}: {len(cells)} cells, but the header (line {header_no}) names {len(header)} columns")

        def number(k):
            t = cells[k][0]
            col = u16col(line, cells[k][1])
            if not SEQ_NUMBER.fullmatch(t):
                what = "empty cell" if t == "" else f"{show(t)} is not a number"
                fail(f'{where}:{col}: {what} (column "{header[k]}"){hint}')
            v = float(t)
            if not (-F32_OVERFLOW < v < F32_OVERFLOW):
                fail(f'{where}:{col}: {show(t)} is not a finite float32 (column "{header[k]}")')
            return v

        xs.append([number(k) for k in input_idx])
        ys.append([number(k) for k in target_idx])
        if times is not None:
            t = cells[time_idx][0]
            col = u16col(line, cells[time_idx][1])
            ms = parse_date_time(t)
            if ms is None:
                fail(f'{where}:{col}: {show(t)} is not a date/time (column "{header[time_idx]}"; expected e.g. 2010-01-31, 2010-01-31 13:00:00, 2010/01/31 13:00, 2010-01-31T13:00:00Z)')
            if times and ms < times[-1]:
                fail(f"{where}:{col}: time {show(t)} is earlier than the row before it (line {prev_line}): the rows must be in time order")
            times.append(ms)
        line_nos.append(line_no)
        prev_line = line_no
        row = next(lines, None)
        if row is not None:
            cells = split_line(row[1], ",", f"{path}:{row[0]}")
    f32 = lambda rows, w: torch.tensor(rows, dtype=torch.float32).reshape(len(rows), w)
    return [header[k] for k in input_idx], [header[k] for k in target_idx], f32(xs, len(input_idx)), f32(ys, len(target_idx)), times, line_nos


def fit_columns(v, start, end):
    """Per column: mean and std over rows [start, end) in float64 in row order, stored as float32; std <= 1e-6 gives 1."""
    m = end - start
    mean, std = [], []
    for f in range(v.shape[1]):
        col = v[start:end, f].tolist()
        s = 0.0
        for a in col:
            s += a
        mu = s / m
        q = 0.0
        for a in col:
            q += (a - mu) * (a - mu)
        sigma = math.sqrt(q / m)
        mean.append(mu)
        std.append(1.0 if sigma <= 1e-6 else sigma)
    return torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)


def load_timeseries(path, targets, inputs, time_name, window, horizon, stride, val, test):
    text = decode_utf8(read_data_bytes(path), path)
    in_names, out_names, xs, ys, times, line_nos = parse_series_csv(text, path, targets, inputs, time_name)
    steps = len(line_nos)
    if window + horizon > steps:
        fail(f"{path}: the series has {steps} time steps, fewer than one window needs (window {window} + horizon {horizon})")
    spans = split_spans(steps, val, test, path, "time steps")
    start, end = spans[0]
    in_mean, in_std = fit_columns(xs, start, end)
    out_mean, out_std = fit_columns(ys, start, end)
    # (v - mean) / std in float64 with the stored float32 statistics, rounded once (standardizeRows)
    xs = ((xs.double() - in_mean.double()) / in_std.double()).to(torch.float32)
    ys = ((ys.double() - out_mean.double()) / out_std.double()).to(torch.float32)
    fo = len(out_names)
    parts = []
    for name, span in zip(("training", "validation", "test"), spans):
        if span is None:
            parts.append(None)
            continue
        length = span[1] - span[0]
        n = window_count(length, window + horizon, stride)
        if n == 0:
            when = f" ({iso_string(times[span[0]])})" if times is not None else ""
            fail(f"{path}: the {name} span (lines {line_nos[span[0]]}-{line_nos[span[1] - 1]}{when}) has {length} time steps, "
                 f"fewer than one window needs (window {window} + horizon {horizon})")
        target = ys[span[0] : span[1]]
        parts.append(windows_ds(xs[span[0] : span[1]], target[:, 0] if fo == 1 else target, window, stride, window, horizon, n,
                                [window, len(in_names)], [horizon] if fo == 1 else [horizon, fo]))
    tensors = [("series.input_mean", in_mean), ("series.input_std", in_std), ("series.target_mean", out_mean), ("series.target_std", out_std)]
    meta = {"series.inputs": js_json(in_names), "series.targets": js_json(out_names), "series.rows": str(end - start)}
    return {"train": parts[0], "validation": parts[1], "test": parts[2], "tensors": tensors, "meta": meta}


def load_sequence_data(path):
    """The splits of a sequence source, what it fitted (stored with the model) and its metadata, as
    runtime/node/main.ts loadSequenceData with the spec's settings."""
    src = DATA["source"]
    a = src.get("args") or {}
    kind = src["kind"]
    val, test = DATA["validation"], a.get("test") or 0
    if kind == "text":
        c = load_text_corpus(path, a["context"], a.get("stride") or a["context"], val, test, fixed_vocab())
        return {"train": c["train"], "validation": c["validation"], "test": c["test"], "tensors": [], "meta": {"vocab": vocab_json(c["vocab"])}}
    if kind == "text_classes":
        sep = a.get("separator")
        c = load_text_classes(path, a["context"], SEED, val, test, "%" if sep is None else sep, fixed_vocab())
        meta = {"vocab": vocab_json(c["vocab"]), "classes": js_json(c["names"])}
        return {"train": c["train"], "validation": c["validation"], "test": c["test"], "tensors": [], "meta": meta}
    if kind == "tokens":
        label = src.get("label", "label")
        ds = load_token_csv(path, label, a.get("pad") or 0, a.get("max_length") or INPUT_SHAPE[0], REGRESSION, MODEL_CLASSES)
        if not DATA.get("test"):
            return {"train": ds, "validation": None, "test": None, "tensors": [], "meta": {}}
        # the data block's test split (py-csv.ts split_test_rows, from the spec's seed)
        tr, te = split_test_rows(ds["n"], DATA["test"], SEED, path)
        return {"train": take_rows(ds, tr), "validation": None, "test": take_rows(ds, te), "tensors": [], "meta": {}}
    t = a["target"]
    c = load_timeseries(path, t if isinstance(t, list) else [t], a.get("inputs"), a.get("time"), a["window"], a.get("horizon") or 1, a.get("stride") or 1, val, test)
    return c
`;

/** Everything a sequence source's trainer needs: the helpers, then the loaders. */
export const PY_SEQUENCE = PY_SEQUENCE_COMMON + PY_SEQUENCE_LOADERS;
