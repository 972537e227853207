// PyTorch target: the image_folder source, a port of runtime/node/load-image-folder.ts with the
// PNG decoder of runtime/node/png.ts (zlib from the standard library: non-interlaced gray, gray +
// alpha, RGB, RGBA and palette images of every bit depth, every chunk CRC checked, the size checked
// before the data is inflated) and the channel conversion of runtime/data/image.ts (luma as PIL's
// convert("L"), gray repeated to RGB, alpha dropped). The same samples in the same order, the same
// class names (saved with the model) and the same test split (py-csv.ts split_test_rows). Uses
// path_join and fs_reason of py-sequence.ts, included with it.
// Python source, kept verbatim; no dollar-brace may appear in it.

export const PY_IMAGE = String.raw`
# ---- image_folder: one folder of PNG files per class (runtime/node/load-image-folder.ts, png.ts) ----
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_CHANNELS = {0: 1, 4: 2, 2: 3, 6: 4, 3: 1}
PNG_MAX_BYTES = 256 * 2**20


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def decode_png(data, path, width_needed, height_needed):
    """(width, height, channels, pixels: bytes, interleaved) as runtime/node/png.ts decodePng."""

    def bad(what):
        fail(f"{path}: {what}")

    if len(data) == 0:
        bad("empty file (expected a PNG image)")
    if data[:8] != PNG_SIGNATURE:
        bad("not a PNG file (bad signature)")
    width = height = depth = 0
    color, palette, alpha, idat, ended, p = -1, None, None, [], False, 8
    while p < len(data):
        if p + 8 > len(data):
            bad(f"truncated chunk header at byte {p}")
        (n,) = struct.unpack(">I", data[p : p + 4])
        kind = data[p + 4 : p + 8].decode("latin-1")
        if p + 12 + n > len(data):
            bad(f"truncated {kind} chunk at byte {p}: needs {n + 12} bytes, {len(data) - p} left")
        (stored,) = struct.unpack(">I", data[p + 8 + n : p + 12 + n])
        actual = zlib.crc32(data[p + 4 : p + 8 + n]) & 0xFFFFFFFF
        if stored != actual:
            bad(f"CRC mismatch in {kind} chunk at byte {p} (stored {stored:x}, computed {actual:x})")
        body = data[p + 8 : p + 8 + n]
        if p == 8 and kind != "IHDR":
            bad(f"first chunk is {kind}, expected IHDR")
        if kind == "IHDR":
            if n != 13:
                bad(f"IHDR has {n} bytes, expected 13")
            width, height = struct.unpack(">II", body[:8])
            depth, color = body[8], body[9]
            if width == 0 or height == 0:
                bad(f"bad image size {width}x{height}")
            if color not in PNG_CHANNELS:
                bad(f"unknown color type {color}")
            allowed = [1, 2, 4, 8, 16] if color == 0 else [1, 2, 4, 8] if color == 3 else [8, 16]
            if depth not in allowed:
                bad(f"bit depth {depth} is not valid for color type {color}")
            if body[10] != 0 or body[11] != 0:
                bad("unsupported compression or filter method")
            if body[12] != 0:
                bad("interlaced PNG is not supported")
        elif kind == "PLTE":
            palette = body
        elif kind == "tRNS":
            alpha = body
        elif kind == "IDAT":
            idat.append(body)
        elif kind == "IEND":
            ended = True
            break
        elif (data[p + 4] & 0x20) == 0:
            bad(f"unknown critical chunk {kind}")
        p += 12 + n
    if color < 0:
        bad("missing IHDR chunk")
    if not idat:
        bad("missing IDAT chunk")
    if not ended:
        bad("missing IEND chunk (truncated file?)")
    if color == 3 and palette is None:
        bad("palette image without a PLTE chunk")
    ch = PNG_CHANNELS[color]
    bits = depth * ch
    stride = (width * bits + 7) // 8
    bpp = max(1, bits >> 3)
    if width != width_needed or height != height_needed:
        bad(f"image is {width}x{height} (width x height), the model expects {width_needed}x{height_needed}")
    raw_bytes = (stride + 1) * height
    out_bytes = width * height * (4 if color == 3 else ch)
    if max(raw_bytes, out_bytes) > PNG_MAX_BYTES:
        bad(f"image of {width}x{height} at {bits} bits per pixel needs {max(raw_bytes, out_bytes)} bytes, more than the {PNG_MAX_BYTES} accepted")
    z = zlib.decompressobj()
    try:
        raw = z.decompress(b"".join(idat), raw_bytes)
    except zlib.error as e:
        bad(f"corrupt image data ({e})")
    if z.unconsumed_tail:
        bad(f"image data inflates to more than the {raw_bytes} bytes a {width}x{height} image at {bits} bits per pixel has")
    if len(raw) != raw_bytes:
        bad(f"image data has {len(raw)} bytes, expected {raw_bytes} for {width}x{height} at {bits} bits per pixel")
    un = bytearray(stride * height)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        if kind > 4:
            bad(f"bad filter type {kind} in row {y}")
        src, dst = y * (stride + 1) + 1, y * stride
        for i in range(stride):
            a = un[dst + i - bpp] if i >= bpp else 0
            b = un[dst - stride + i] if y > 0 else 0
            c = un[dst - stride + i - bpp] if y > 0 and i >= bpp else 0
            pred = 0 if kind == 0 else a if kind == 1 else b if kind == 2 else (a + b) >> 1 if kind == 3 else paeth(a, b, c)
            un[dst + i] = (raw[src + i] + pred) & 0xFF
    if depth == 8:
        px = un
    elif depth == 16:
        px = un[0::2]
    else:
        px = bytearray(width * height)
        mask = (1 << depth) - 1
        gain = 1 if color == 3 else 255 // mask
        for y in range(height):
            for x in range(width):
                bit = x * depth
                px[y * width + x] = ((un[y * stride + (bit >> 3)] >> (8 - depth - (bit & 7))) & mask) * gain
    if color != 3:
        return width, height, ch, bytes(px)
    out_ch = 4 if alpha is not None else 3
    out = bytearray(width * height * out_ch)
    for i in range(width * height):
        k = px[i]
        if 3 * k + 2 >= len(palette):
            bad(f"palette index {k} out of range (palette has {len(palette) // 3} entries)")
        out[i * out_ch : i * out_ch + 3] = palette[3 * k : 3 * k + 3]
        if out_ch == 4:
            out[i * out_ch + 3] = alpha[k] if k < len(alpha) else 255
    return width, height, out_ch, bytes(out)


def image_to_sample(img, shape):
    """runtime/data/image.ts imageToSample: interleaved pixels to planar [C, H, W] bytes."""
    width, height, ch, px = img
    C, H, W = shape
    plane = H * W
    res = bytearray(C * plane)
    for i in range(plane):
        q = i * ch
        if C == 1:
            res[i] = (px[q] * 19595 + px[q + 1] * 38470 + px[q + 2] * 7471 + 0x8000) >> 16 if ch >= 3 else px[q]
        else:
            res[i] = px[q]
            res[plane + i] = px[q + 1] if ch >= 3 else px[q]
            res[2 * plane + i] = px[q + 2] if ch >= 3 else px[q]
    return res


def visible_entries(directory):
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        fail(f"{directory}: no such directory")
    except NotADirectoryError:
        fail(f"{directory}: not a directory (image_folder needs a directory with one folder per class)")
    except OSError as e:
        fail(f"{directory}: {fs_reason(e)}")
    return sorted((n for n in names if not n.startswith(".")), key=lambda s: s.encode("utf-16-be"))


def read_image_folder(directory, shape, names=None):
    classes = [(c, [f for f in visible_entries(path_join(directory, c)) if f.lower().endswith(".png")]) for c in visible_entries(directory) if os.path.isdir(path_join(directory, c))]
    if not classes:
        fail(f"{directory}: no class folders (image_folder needs one folder of PNG files per class)")
    for c, files in classes:
        if not files:
            fail(f"{path_join(directory, c)}: no .png files in this class folder")
    found = [c for c, _ in classes]
    if names is not None and found != names:
        fail(f"{directory}: class folders {', '.join(found)} differ from the training folders' {', '.join(names)}")
    C, H, W = shape
    xs, ys = bytearray(), []
    for k, (c, files) in enumerate(classes):
        for f in files:
            path = path_join(path_join(directory, c), f)
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            except OSError as e:
                fail(f"{path}: {fs_reason(e)}")
            xs += image_to_sample(decode_png(data, path, W, H), shape)
            ys.append(k)
    n = len(ys)
    x = torch.frombuffer(bytearray(xs), dtype=torch.uint8).reshape(n, C * H * W) if n else torch.zeros((0, C * H * W), dtype=torch.uint8)
    return {"x": x, "y": torch.tensor(ys, dtype=torch.int64), "n": n, "classes": len(classes), "file": directory}, found


def load_image_folder(directory):
    """(train, test or None, metadata) of an image_folder source, as runtime/node/load-image-folder.ts."""
    shape = INPUT_SHAPE
    if len(shape) != 3 or shape[0] not in (1, 3):
        fail(f"{directory}: image_folder gives images [C, H, W] with C = 1 (gray) or 3 (RGB), but the model's input is [{', '.join(map(str, shape))}]")
    fraction = DATA.get("test") or 0
    top = visible_entries(directory)
    if "train" in top and os.path.isdir(path_join(directory, "train")) and "test" in top and os.path.isdir(path_join(directory, "test")):
        if fraction > 0:
            fail(f"{path_join(directory, 'test')}: the data block asks for a test split (test {js_num(fraction)}) but the directory has its own test/ folder; drop one of them")
        train, names = read_image_folder(path_join(directory, "train"), shape)
        test, _ = read_image_folder(path_join(directory, "test"), shape, names)
    else:
        every, names = read_image_folder(directory, shape)
        if fraction > 0:
            tr, te = split_test_rows(every["n"], fraction, SEED, directory)
            train, test = take_rows(every, tr), take_rows(every, te)
        else:
            train, test = every, None
    if MODEL_CLASSES is not None and len(names) > MODEL_CLASSES:
        fail(f"{directory}: {len(names)} class folders ({', '.join(names)}), but the model has {MODEL_CLASSES} outputs")
    return train, test, {"classes": js_json(names)}
`;
