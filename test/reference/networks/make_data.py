"""Tiny deterministic datasets for the whole-network parity cases (run with /usr/bin/python3).

data/blobs/{train,test}.csv: 4 features, 3 Gaussian blobs (64 + 24 rows, header row, label column "label").
data/bars8/: 8x8 grayscale IDX images of 3 classes (horizontal bar, vertical bar, diagonal) with noise,
             64 training and 24 test images, gzipped with mtime 0 so the bytes are reproducible.
"""
import gzip
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def blobs(rng, n):
    centers = [(1.0, 0.0, -1.0, 0.5), (-1.0, 1.0, 0.0, -0.5), (0.0, -1.0, 1.0, 0.0)]
    rows = []
    for i in range(n):
        c = i % 3
        rows.append([round(m + rng.gauss(0, 0.6), 4) for m in centers[c]] + [c])
    return rows


def write_csv(path, rows):
    with open(path, "w") as f:
        f.write("x1,x2,x3,x4,label\n")
        for r in rows:
            f.write(",".join(str(v) for v in r) + "\n")


def bars(rng, n):
    images, labels = [], []
    for i in range(n):
        c = i % 3
        img = [[rng.randrange(0, 60) for _ in range(8)] for _ in range(8)]
        k = rng.randrange(1, 7)
        for j in range(8):
            if c == 0:
                img[k][j] = 200 + rng.randrange(0, 56)
            elif c == 1:
                img[j][k] = 200 + rng.randrange(0, 56)
            else:
                img[j][j] = 200 + rng.randrange(0, 56)
        images.append(bytes(v for row in img for v in row))
        labels.append(c)
    return images, labels


def write_idx(directory, prefix, images, labels):
    img = struct.pack(">IIII", 0x803, len(images), 8, 8) + b"".join(images)
    lab = struct.pack(">II", 0x801, len(labels)) + bytes(labels)
    for name, data in ((f"{prefix}-images-idx3-ubyte.gz", img), (f"{prefix}-labels-idx1-ubyte.gz", lab)):
        with open(os.path.join(directory, name), "wb") as f:
            f.write(gzip.compress(data, mtime=0))


def main():
    rng = random.Random(20240601)
    d = os.path.join(HERE, "data", "blobs")
    os.makedirs(d, exist_ok=True)
    write_csv(os.path.join(d, "train.csv"), blobs(rng, 64))
    write_csv(os.path.join(d, "test.csv"), blobs(rng, 24))
    d = os.path.join(HERE, "data", "bars8")
    os.makedirs(d, exist_ok=True)
    write_idx(d, "train", *bars(rng, 64))
    write_idx(d, "t10k", *bars(rng, 24))


if __name__ == "__main__":
    main()
