"""Per-image curation (Meta CLIP 2; ``--unit image``): rows with the same image id are one
image, whatever shards they sit in. Counts stay per alt-text. Among an image's alt-texts
that matched, the chosen one is the text ``x`` with the smallest ``H(seed, id + "\\x00" + x)``
(``--prefer-quality``: the one with the highest ``quality`` score, that hash breaking ties)
(ties, i.e. the same text twice: the first row in shard order); the image is kept with that
text's keep probability, decided by the usual coin ``H(seed, id)``. An image with one
alt-text therefore gets exactly the per-row decision, and no sharding changes the result.

The choice is global and exact (image ids are compared as strings, never as hashes):

1. ``shard_candidates``: per shard, each image's best row there, bucketed by a hash of the id;
2. ``bucket_winners``: per bucket, the best row of each image over all shards, as the
   (shard, row) pairs that win;
3. the winning row numbers of each shard are written to ``_choice/<shard>.parquet``, which
   the balance stage reads (``chosen_rows``).

An executor runs steps 1 and 2 as a shuffle of small Arrow tables (``curation.chain.choice``).
"""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.hashing import coin_hashes
from curation.core.io import exists, join, read_parquet

CHOICE = "_choice"
COMPLETE = "_complete.json"


def image_ids(table: pa.Table, image_column: str) -> pa.Array:
    """The image id of each row: ``image_column`` as strings; a row without one is an image
    of its own (its ``key``)."""
    keys = table["key"].combine_chunks().cast(pa.string())
    if image_column == "key":
        return keys
    if image_column not in table.column_names:
        raise ValueError(f"no image column {image_column!r}")
    ids = table[image_column].combine_chunks().cast(pa.string())
    return pc.if_else(pc.is_null(ids), keys, ids)


def choice_hashes(ids: pa.Array, texts: pa.Array, seed: int) -> np.ndarray:
    """``H(seed, id + "\\x00" + text)`` per row (a null text counts as empty)."""
    joined = pc.binary_join_element_wise(ids, pc.fill_null(texts.cast(pa.string()), ""), "\x00")
    return coin_hashes(joined, seed)


def shard_candidates(table: pa.Table, shard: int, image_column: str, text_column: str, seed: int,
                     buckets: int, prefer_quality: bool = False) -> list[tuple[int, pa.Table]]:
    """Each image's best row in this shard (smallest choice hash, then row; with
    ``prefer_quality``, the highest ``quality`` first), as
    ``(bucket, table(id, q, h, shard, row))`` pieces (``q``: minus the quality, or 0)."""
    if table.num_rows == 0:
        return []
    ids = image_ids(table, image_column)
    h = choice_hashes(ids, table[text_column].combine_chunks(), seed)
    if prefer_quality:
        # A missing score ranks last; -quality so that the ascending sort puts the best first.
        from curation.quality.stage import quality_values

        q = -np.nan_to_num(quality_values(table, "matched shard"), nan=-1.0)
    else:
        q = np.zeros(len(h))
    rows = pa.table({"id": ids, "q": pa.array(q, pa.float64()), "h": pa.array(h, pa.uint64()),
                     "shard": pa.array(np.full(len(h), shard, np.int64)),
                     "row": pa.array(np.arange(len(h), dtype=np.int64))})
    best = _first_per_id(rows)
    # The smallest and largest url hash of each image: an image id whose rows name different
    # urls (keys that collide) is told apart from the alt-texts of one image.
    urls = table["url"].combine_chunks().cast(pa.string()).fill_null("") if "url" in table.column_names \
        else pa.array([""] * table.num_rows, pa.string())
    spans = pa.table({"id": ids, "u": pa.array(coin_hashes(urls, 0), pa.uint64())}).group_by("id").aggregate(
        [("u", "min"), ("u", "max")])
    best = best.join(spans, "id").sort_by([("id", "ascending")])
    bucket = coin_hashes(best["id"], 0) % np.uint64(buckets)
    return [(int(b), best.filter(pa.array(bucket == np.uint64(b)))) for b in np.unique(bucket)]


def bucket_winners(pieces: list[pa.Table]) -> dict[int, np.ndarray]:
    """The winning (shard -> sorted row numbers) of one bucket's candidates from every shard."""
    best = _first_per_id(pa.concat_tables(pieces))
    shards, rows = best["shard"].to_numpy(), best["row"].to_numpy()
    return {int(s): np.sort(rows[shards == s]) for s in np.unique(shards)}


def url_collisions(pieces: list[pa.Table]) -> tuple[int, list[str]]:
    """Image ids of one bucket whose rows name more than one url: (how many, a few of them)."""
    table = pa.concat_tables(pieces)
    if "u_min" not in table.column_names or table.num_rows == 0:
        return 0, []
    spans = table.group_by("id").aggregate([("u_min", "min"), ("u_max", "max")])
    clash = pc.not_equal(spans["u_min_min"], spans["u_max_max"])
    ids = spans["id"].filter(clash)
    return len(ids), [str(v) for v in ids.slice(0, 5).to_pylist()]


def _first_per_id(table: pa.Table) -> pa.Table:
    """The first row of each id in (id, q, h, shard, row) order."""
    order = table.sort_by([("id", "ascending"), ("q", "ascending"), ("h", "ascending"), ("shard", "ascending"),
                           ("row", "ascending")])
    ids = order["id"].combine_chunks()
    first = np.ones(len(ids), dtype=bool)
    if len(ids) > 1:
        first[1:] = pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1)).to_numpy(zero_copy_only=False)
    return order.filter(pa.array(first))


def choice_url(curated_dir: str, name: str) -> str:
    return join(curated_dir, CHOICE, f"{name}.parquet")


def chosen_rows(curated_dir: str, name: str) -> np.ndarray:
    """The rows of shard ``name`` chosen for their images (none when the shard won nothing)."""
    if not exists(join(curated_dir, CHOICE, COMPLETE)):
        raise RuntimeError(f"{join(curated_dir, CHOICE)}: the per-image choice was not completed")
    url = choice_url(curated_dir, name)
    return read_parquet(url)["row"].to_numpy() if exists(url) else np.zeros(0, np.int64)


def choice_table(rows: np.ndarray) -> pa.Table:
    return pa.table({"row": pa.array(np.asarray(rows, np.int64))})
