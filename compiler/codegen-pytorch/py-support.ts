// PyTorch target, part 3: the spec-independent helpers every generated trainer carries (so that
// the file imports nothing but torch and the standard library): dnnc's counter-based RNG (so the
// validation split and the per-epoch shuffle are the TypeScript trainer's, sample for sample),
// the IDX(.gz) and CSV readers, and safetensors written and read by hand (struct + json).
// Python source, kept verbatim; no `${` may appear in it.

export const PY_SUPPORT = String.raw`
# ---- dnnc's random numbers (runtime/rng.ts), bit for bit -------------------------------------------
M32 = 0xFFFFFFFF


def hash3(seed, stream, counter):
    """Mix three 32-bit words into one uniformly distributed 32-bit word (rng.ts hash3)."""
    h = (seed ^ 0x9E3779B9) & M32
    h = ((h ^ stream) * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = ((h ^ counter) * 0xC2B2AE35) & M32
    h ^= h >> 16
    h = ((h + 0x6A09E667) * 0x27D4EB2D) & M32
    h ^= h >> 15
    h = ((h ^ (counter >> 16) ^ ((stream << 7) & M32)) * 0x165667B1) & M32
    h ^= h >> 13
    h = (h * 0xCC9E2D51) & M32
    return h ^ (h >> 16)


def stream_id(name):
    """FNV-1a of a stream name (rng.ts streamId)."""
    h = 0x811C9DC5
    for ch in name:
        h = ((h ^ ord(ch)) * 0x01000193) & M32
    return h


def shuffle(a, seed, stream):
    """In-place Fisher-Yates with uniform draws (hash >> 8) / 2^24 (rng.ts Rng.shuffle)."""
    seed, stream = seed & M32, stream & M32
    counter = 0
    for i in range(len(a) - 1, 0, -1):
        u = (hash3(seed, stream, counter) >> 8) * (1.0 / 16777216)
        counter += 1
        j = int(math.floor(u * (i + 1)))
        a[i], a[j] = a[j], a[i]


def mul32(a, b):
    """(a * b) mod 2^32 for int64 tensors a < 2^32 and an int b < 2^32, without int64 overflow (Math.imul)."""
    return ((a & 0xFFFF) * b + ((((a >> 16) * b) & 0xFFFF) << 16)) & M32


def hash3_vec(seed, stream, counter):
    """hash3 for an int64 tensor of counters (seed and stream: ints), equal to hash3 element by element."""
    seed, stream = seed & M32, stream & M32
    h = (seed ^ 0x9E3779B9) & M32
    h = ((h ^ stream) * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = mul32(counter ^ h, 0xC2B2AE35)
    h = h ^ (h >> 16)
    h = mul32((h + 0x6A09E667) & M32, 0x27D4EB2D)
    h = h ^ (h >> 15)
    h = mul32(h ^ (counter >> 16) ^ ((stream << 7) & M32), 0x165667B1)
    h = h ^ (h >> 13)
    h = mul32(h, 0xCC9E2D51)
    return h ^ (h >> 16)


class Draws:
    """rng.ts Rng: sequential draws from one (seed, stream), counter from 0."""

    def __init__(self, seed, stream):
        self.seed, self.stream, self.counter = seed & M32, stream & M32, 0

    def u32(self):
        self.counter += 1
        return hash3(self.seed, self.stream, self.counter - 1)

    def uniform(self):
        return (self.u32() >> 8) * (1.0 / 16777216)

    def range(self, lo, hi):
        return lo + (hi - lo) * self.uniform()

    def int(self, n):
        return int(math.floor(self.uniform() * n))


def split_validation(n, fraction, seed):
    """The deterministic train/validation split of runtime/data/batch.ts (both parts sorted)."""
    n_val = int(math.floor(n * fraction + 0.5))  # JavaScript's Math.round
    if n > 0 and n_val == n:
        fail(f"validation split: fraction {fraction} of {n} samples leaves none for training")
    perm = list(range(n))
    shuffle(perm, seed, stream_id("data:validation-split"))
    return sorted(perm[n_val:]), sorted(perm[:n_val])


# ---- data: IDX(.gz) directories and CSV files ---------------------------------------------------
class UserError(Exception):
    pass


def fail(message):
    raise UserError(message)


IDX_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def find_idx(directory, base):
    dotted = base.replace("-idx", ".idx", 1)
    for name in (base + ".gz", base, dotted + ".gz", dotted):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    fail(f"{directory}: missing {base}.gz (or {base}); an IDX dataset directory holds {', '.join(IDX_FILES)}")


def gunzip_if_magic(path, data):
    """data gunzipped when it starts with the gzip magic (path names the file in the message)."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            fail(f"{path}: corrupt gzip data ({e})")
    return data


def read_maybe_gzip(path):
    with open(path, "rb") as f:
        return gunzip_if_magic(path, f.read())


def read_idx(path):
    """An IDX file of unsigned bytes as (dims, bytes)."""
    data = read_maybe_gzip(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        fail(f"{path}: not an IDX file (bad magic number)")
    if data[2] != 0x08:
        fail(f"{path}: IDX element type 0x{data[2]:02x}; this trainer reads unsigned bytes (0x08) only")
    nd = data[3]
    dims = list(struct.unpack(">" + "I" * nd, data[4 : 4 + 4 * nd]))
    body = data[4 + 4 * nd :]
    count = 1
    for d in dims:
        count *= d
    if len(body) != count:
        fail(f"{path}: {len(body)} data bytes, but the header's dimensions {dims} need {count}")
    return dims, body


def idx_pair(images_path, labels_path, classes=None):
    dims, pixels = read_idx(images_path)
    ldims, labels = read_idx(labels_path)
    if ldims[0] != dims[0]:
        fail(f"{labels_path}: {ldims[0]} labels for {dims[0]} images in {images_path}")
    x = torch.frombuffer(bytearray(pixels), dtype=torch.uint8).reshape(dims[0], -1)
    y = torch.frombuffer(bytearray(labels), dtype=torch.uint8).to(torch.int64)
    classes = classes if classes is not None else int(y.max()) + 1 if len(y) else 0
    if len(y) and int(y.max()) >= classes:
        fail(f"{labels_path}: label {int(y.max())} out of range (expected 0..{classes - 1})")
    return {"x": x, "y": y, "n": dims[0], "classes": classes, "file": images_path}


def load_idx_dir(directory):
    if not os.path.isdir(directory):
        fail(f"{directory}: no such directory")
    train = idx_pair(find_idx(directory, IDX_FILES[0]), find_idx(directory, IDX_FILES[1]))
    test = idx_pair(find_idx(directory, IDX_FILES[2]), find_idx(directory, IDX_FILES[3]), train["classes"])
    return train, test


F32_OVERFLOW = 3.4028235677973366e38  # the least double that float32 rounds to infinity


# ---- safetensors (F32), written and read by hand -------------------------------------------------
def encode_safetensors(tensors, metadata):
    """Same bytes as runtime/safetensors.ts: metadata first (keys sorted), then the tensors in order."""
    parts = ['"__metadata__":' + json.dumps({k: metadata[k] for k in sorted(metadata)}, separators=(",", ":"), ensure_ascii=False)]
    blobs, offset = [], 0
    for name, t in tensors:
        buf = array.array("f", t.detach().to("cpu", torch.float32).contiguous().reshape(-1).tolist())
        if sys.byteorder != "little":
            buf.byteswap()
        blob = buf.tobytes()
        shape = ",".join(str(d) for d in t.shape)
        parts.append(json.dumps(name) + f':{{"dtype":"F32","shape":[{shape}],"data_offsets":[{offset},{offset + len(blob)}]}}')
        blobs.append(blob)
        offset += len(blob)
    header = ("{" + ",".join(parts) + "}").encode("utf-8")
    header += b" " * ((8 - (8 + len(header)) % 8) % 8)
    return struct.pack("<Q", len(header)) + header + b"".join(blobs)


def decode_safetensors(path):
    """{name: float32 tensor} of an F32 safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        fail(f"{path}: not a valid safetensors file: too short")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        fail(f"{path}: not a valid safetensors file: header length {n} exceeds the file")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except ValueError as e:
        fail(f"{path}: not a valid safetensors file: header is not JSON ({e})")
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info.get("dtype") != "F32":
            fail(f'{path}: tensor "{name}" has dtype {info.get("dtype")}; F32 only')
        begin, end = info["data_offsets"]
        buf = array.array("f")
        buf.frombytes(data[8 + n + begin : 8 + n + end])
        if sys.byteorder != "little":
            buf.byteswap()
        out[name] = torch.tensor(buf, dtype=torch.float32).reshape(info["shape"])
    return out


def write_atomic(path, data):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
`;
