"""Regenerate the bundled sample pool (``sample/pool/``): a few thousand web-like
image/alt-text pairs with the long-tailed concept distribution of real pools.

    python sample/make_sample.py

The output is deterministic (fixed seed). Shards 00 and 01 are Parquet, 02 and 03 JSONL;
a few rows are deliberately bad (null or empty text, a text that is a number, a line that
is not JSON, a row with neither key nor url) to show that every row is accounted for.
"""

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROWS_PER_SHARD = 1000
SEED = 20231016
# Frequent "head" concepts of web alt-text, then a long tail; weights follow Zipf's law.
CONCEPTS = (
    "logo photo image icon banner button background pattern illustration vector dog cat car house tree flower "
    "beach sunset mountain city bridge river lake forest garden kitchen bedroom bathroom chair table sofa lamp "
    "dress shoe bag watch ring necklace shirt jacket hat coffee cake pizza bread salad wine beer tea sandwich "
    "bicycle motorcycle airplane boat train bus truck horse bird fish butterfly bee rabbit elephant lion tiger "
    "giraffe zebra penguin owl eagle guitar piano violin drum camera laptop phone keyboard book map clock mirror "
    "candle pumpkin snowman lighthouse castle church temple tower windmill waterfall volcano desert glacier "
    "canyon island harbor skyline skyscraper stadium library museum market festival wedding birthday graduation"
).split()
PHRASES = ["hot dog", "ice cream", "new york", "christmas tree", "coffee cup", "golden retriever",
           "polar bear", "eiffel tower", "teddy bear", "birthday cake", "swimming pool", "fire truck"]
ADJECTIVES = "red blue green black white vintage modern cute beautiful old small large wooden golden happy".split()
TEMPLATES = [
    "{A} {c}", "{a} {c} on a white background", "Photo of a {a} {c}", "{c} icon", "{A} {c} and {c2}",
    "Close-up of a {c} in the {c2}", "{a} {c} illustration, vector", "Stock photo: {c} near the {c2}",
    "{A} {c} for sale - free shipping!", "A {c} with a {c2}; {a} style", "{p} at the {c}", "Vintage {p} poster",
    "{A} {p}\tphoto", "My {c} (2019)", "{c}.jpg", "DSC_{n}", "click here", "Image {n}", "",
]
MULTILINGUAL = [("zh", "一只可爱的猫在沙发上"), ("zh", "东京塔的夜景"), ("ja", "東京の夜景"), ("ja", "サッカーの試合"),
                ("th", "แมวน่ารัก"), ("fr", "Un chat sur le canapé"), ("de", "Ein Hund im Garten"),
                ("es", "Un perro en la playa")]


def zipf_choice(rng: random.Random, items: list[str]) -> str:
    weights = [1.0 / (rank + 1) for rank in range(len(items))]
    return rng.choices(items, weights=weights)[0]


def make_row(rng: random.Random, index: int) -> dict:
    url = f"https://img.example.com/{index // 97:04d}/{index:06d}.jpg"
    if rng.random() < 0.04:
        lang, text = rng.choice(MULTILINGUAL)
    else:
        a = rng.choice(ADJECTIVES)
        text = rng.choice(TEMPLATES).format(
            a=a, A=a.capitalize(), c=zipf_choice(rng, CONCEPTS), c2=zipf_choice(rng, CONCEPTS),
            p=rng.choice(PHRASES), n=rng.randrange(10000))
        lang = "en"
    return {"url": url, "text": text, "lang": lang, "width": rng.choice([256, 512, 640, 1024])}


OUT = Path(__file__).resolve().parent / "pool"


def main(out: Path = OUT) -> None:
    rng = random.Random(SEED)
    out.mkdir(parents=True, exist_ok=True)
    for shard in range(4):
        rows = [make_row(rng, shard * ROWS_PER_SHARD + i) for i in range(ROWS_PER_SHARD)]
        rows[7]["text"] = None
        if shard < 2:
            rows[11]["url"] = None  # no key, no url: rejected with a reason
            pq.write_table(pa.Table.from_pylist(rows), out / f"part-{shard:02d}.parquet")
            continue
        lines = [json.dumps(r, ensure_ascii=False) for r in rows]
        lines[13] = json.dumps({**rows[13], "text": 12345})  # not a string: rejected
        lines[17] = lines[17][:-5]  # truncated JSON: rejected
        (out / f"part-{shard:02d}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
