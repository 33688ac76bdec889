"""The per-image choice as a shuffle on any executor (``--unit image``): each shard's best
row per image goes to its image's bucket, each bucket picks the winning row of every image,
and the winners go back to their shards' ``_choice/`` files (``curation.chain.imageunit``)."""

import logging
from functools import partial

import numpy as np

from curation.core.errors import InputError
from curation.core.executor import Step
from curation.core.io import (
    exists,
    file_identity,
    join,
    read_json,
    read_parquet,
    remove,
    write_json_atomic,
    write_parquet_atomic,
)

log = logging.getLogger("curate")


def _candidates(params: dict, seed: int, buckets: int, item) -> list:
    from curation.chain.imageunit import shard_candidates

    index, shard = item
    image_column = params.get("image_column", "key")
    columns = {"key", image_column, params["text_column"]} | ({"quality"} if params.get("prefer_quality") else set())
    if "url" in _columns_of(shard.source):
        columns.add("url")
    table = read_parquet(shard.source, columns=sorted(columns))
    return shard_candidates(table, index, image_column, params["text_column"], seed, buckets,
                            bool(params.get("prefer_quality")))


COLLISIONS = -1  # the pseudo-shard that carries a bucket's url collisions to the last step


def _winners(index: int, pairs: list) -> list:
    """One bucket partition: the winning (shard, rows) of each bucket in it, and its image
    ids that name several urls."""
    from curation.chain.imageunit import bucket_winners, url_collisions

    by_bucket: dict = {}
    for bucket, piece in pairs:
        by_bucket.setdefault(bucket, []).append(piece)
    out = [pair for pieces in by_bucket.values() for pair in bucket_winners(pieces).items()]
    found = [url_collisions(pieces) for pieces in by_bucket.values()]
    count = sum(n for n, _ in found)
    if count:
        out.append((COLLISIONS, (count, [e for _, examples in found for e in examples][:5])))
    return out


def _write_choices(curated_dir: str, names: list[str], index: int, pairs: list) -> list:
    """One shard partition: each shard's chosen rows written to ``_choice/``; their counts."""
    from curation.chain.imageunit import choice_table, choice_url

    by_shard: dict = {}
    written: list = []
    for shard, rows in pairs:
        if shard == COLLISIONS:
            written.append(rows)  # (count, examples): passed on to the driver
            continue
        by_shard.setdefault(shard, []).append(rows)
    for shard, parts in by_shard.items():
        rows = np.sort(np.concatenate(parts))
        write_parquet_atomic(choice_url(curated_dir, names[shard]), choice_table(rows))
        written.append(len(rows))
    return written


def _columns_of(url: str) -> dict:
    """Column name -> type of a Parquet shard (its schema only)."""
    import pyarrow.parquet as pq

    from curation.core.io import open_read

    with open_read(url) as f:
        return {field.name: field.type for field in pq.ParquetFile(f).schema_arrow}


def check_choice_columns(executor, stage, shards: list) -> None:
    """Every shard has the image column (and, ``--prefer-quality``, a numeric quality column)."""
    image_column = stage.params.get("image_column", "key")
    columns = executor.map(_columns_of, [shard.source for shard in shards], "balance: read schemas")
    missing = [shard.source for shard, names in zip(shards, columns) if image_column not in names]
    if missing:
        raise InputError(f"{missing[0]}: no image column {image_column!r} (--image-column)"
                         + (f", nor in {len(missing) - 1} other shards" if len(missing) > 1 else ""))
    if stage.params.get("prefer_quality"):
        from curation.quality.stage import is_score_type

        for shard, types in zip(shards, columns):
            if "quality" not in types:
                raise InputError(f"{shard.source}: --prefer-quality needs a quality column; score the pool with "
                                 "`curate quality` or match with --min-quality (0 keeps every row)")
            if not is_score_type(types["quality"]):
                raise InputError(f"{shard.source}: column 'quality' is {types['quality']}, not a number")


def run_image_choice(executor, stage, shards: list) -> int:
    """Choose one alt-text per image over every shard; skipped when the choice was completed
    before over the same input files (their sizes and stamps). Returns the number of images."""
    from curation.chain.imageunit import CHOICE, COMPLETE

    marker = join(stage.out_dir, CHOICE, COMPLETE)
    inputs = {shard.name: file_identity(shard.source) for shard in shards}
    if exists(marker):
        done = read_json(marker)
        if done.get("inputs", inputs) == inputs:
            return done["images"]
        log.warning("%s: the matched shards changed since the choice was made; choosing again", marker)
    # A new choice may move an image's winner between shards: every balance shard is redone.
    remove(join(stage.out_dir, CHOICE))
    remove(join(stage.out_dir, "_done"))
    check_choice_columns(executor, stage, shards)
    buckets = max(1, min(len(shards), 4 * executor.parallelism))
    names = [shard.name for shard in shards]
    written = executor.shuffle(
        list(enumerate(shards)), partial(_candidates, stage.params, stage.seed, buckets),
        [Step(buckets, _winners),
         Step(max(1, min(len(shards), buckets)), partial(_write_choices, stage.out_dir, names))],
        f"balance: one alt-text per image over {len(shards)} shards")
    images = int(sum(w for w in written if not isinstance(w, tuple)))
    clashes = [w for w in written if isinstance(w, tuple)]
    collisions = {"images": sum(n for n, _ in clashes), "examples": [e for _, ex in clashes for e in ex][:5]}
    if collisions["images"]:
        log.warning("balance: %d image ids (%s: %s) name more than one url: their rows are taken as alt-texts of "
                    "one image; give --image-column a column that tells images apart", collisions["images"],
                    stage.params.get("image_column", "key"), ", ".join(collisions["examples"]))
    write_json_atomic(marker, {"images": images, "shards": len(shards), "inputs": inputs,
                               "url_collisions": collisions})
    log.info("balance: %d images among the matched rows", images)
    return images
