"""Looking for rows in every file under a table directory: decoded Parquet and raw bytes."""

import json
import re
import struct
from pathlib import Path

import pyarrow.parquet as pq


def _values(obj, strings, floats):
    """Collect every string and float inside a nested to_pylist() value."""
    if isinstance(obj, str):
        strings.append(obj)
        # Delta keeps column statistics as JSON text inside the checkpoint's `stats` column.
        if obj.startswith("{"):
            try:
                _values(json.loads(obj), strings, floats)
            except json.JSONDecodeError:
                pass
    elif isinstance(obj, float):
        floats.add(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            _values(v, strings, floats)
    elif isinstance(obj, list | tuple):
        for v in obj:
            _values(v, strings, floats)


def find_rows(directory, texts, numbers):
    """Every place under ``directory`` that still holds one of the texts or numbers.

    Each file is read twice: as raw bytes (the texts as UTF-8, each number as its
    little-endian float64 bytes — Parquet's plain encoding — and as its shortest decimal
    text, JSON's, as a whole token), and, when it is Parquet (data, checkpoint or change
    data), decoded with pyarrow (every string, including JSON inside strings, and every
    float value).
    Returns a list of ``(file, what)``.
    """
    hits = []
    needles = [(t, t.encode()) for t in texts]
    needles += [(f"float64 {x!r}", struct.pack("<d", x)) for x in numbers]
    # A number's text counts as a whole token only ("0.0052" is not in "10.00521").
    decimals = [
        (x, re.compile(rb"(?<![0-9.eE+-])" + re.escape(repr(x).encode()) + rb"(?![0-9eE])"))
        for x in numbers
    ]
    wanted = set(numbers)
    for path in sorted(Path(directory).rglob("*")):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        hits += [(str(path), f"bytes of {what}") for what, b in needles if b in raw]
        hits += [(str(path), f"text of {x!r}") for x, p in decimals if p.search(raw)]
        if raw[:4] == b"PAR1":
            strings, floats = [], set()
            _values(pq.read_table(path).to_pylist(), strings, floats)
            hits += [(str(path), f"value {x!r}") for x in floats & wanted]
            joined = "\n".join(strings)
            hits += [(str(path), f"text {t}") for t in texts if t in joined]
        elif path.suffix == ".json":
            for line in raw.decode().splitlines():
                strings, floats = [], set()
                _values(json.loads(line), strings, floats)
                hits += [(str(path), f"log value {x!r}") for x in floats & wanted]
                joined = "\n".join(strings)
                hits += [(str(path), f"log text {t}") for t in texts if t in joined]
    return hits
