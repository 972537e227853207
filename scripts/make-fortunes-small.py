#!/usr/bin/env python3
"""Cut specs/data/fortunes-small/ from Debian's fortunes package (see its README.md)."""
import os
import sys

SRC = "/usr/share/games/fortunes"
DST = os.path.join(os.path.dirname(__file__), "..", "specs", "data", "fortunes-small")
if not os.path.isdir(SRC):
    sys.exit(f"{SRC}: no such directory (apt-get install fortunes)")
for topic in ["computers", "science", "politics", "food"]:
    docs = open(os.path.join(SRC, topic), encoding="utf-8").read().split("\n%\n")
    out, size = [], 0
    for d in docs:
        if size > 30000:
            break
        out.append(d)
        size += len(d) + 3
    with open(os.path.join(DST, topic), "w", encoding="utf-8") as f:
        f.write("\n%\n".join(out) + "\n%\n")
    print(f"{topic}: {len(out)} fortunes, {size} characters")
