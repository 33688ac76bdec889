"""Builders of small test inputs."""

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def write_pool(folder: Path, rows: list[dict], shards: int = 1, fmt: str = "parquet") -> Path:
    """Split ``rows`` into ``shards`` files of ``fmt`` under ``folder``, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    per = -(-len(rows) // shards)
    for i in range(shards):
        part = rows[i * per:(i + 1) * per]
        if fmt == "parquet":
            pq.write_table(pa.Table.from_pylist(part), folder / f"part-{i:03d}.parquet")
        else:
            (folder / f"part-{i:03d}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))
    return folder


def write_metadata(path: Path, entries: list[str]) -> Path:
    path.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    return path


VOCAB = ["dog", "cat", "hot dog", "photo", "logo", "red", "car", "beach", "sunset", "猫", "tree", "Dog"]
FILLER = ["a", "the", "on", "with", "my", "of", ",", ".", "!", "\t"]


def make_rows(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        words = rng.choices(VOCAB[:4], k=rng.randint(0, 2)) + rng.choices(VOCAB, k=rng.randint(0, 2))
        words += rng.choices(FILLER, k=rng.randint(0, 3))
        rng.shuffle(words)
        rows.append({"url": f"http://img/{i}.jpg", "text": " ".join(words), "lang": "en", "n": i})
    return rows
