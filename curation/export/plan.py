"""The plan of an export: tar ``i`` holds samples ``[i * N, (i + 1) * N)`` of a global order,
the shards' rows in order (``plan_tars``), or (``--shuffle-seed``) sorted by the hash coin
``coin(seed, key)`` (a shuffle whose pieces are here; ``curation.export.run`` runs it).
"""


import hashlib
import json
import logging

import numpy as np
import pyarrow as pa

from curation.core import layout
from curation.core.hashing import coins
from curation.core.io import join, parquet_rows, read_parquet
from curation.core.shards import Shard

log = logging.getLogger("curate")


def shard_rows(url: str) -> int:
    return parquet_rows(url)


def plan_tars(shards: list[str], rows: list[int], samples_per_tar: int) -> list[Shard]:
    """Cut the shards' rows, in order, into tars: one ``Shard`` per tar, whose source is its
    rows as (shard url, first row, end row) ranges (no per-row state)."""
    starts = np.concatenate(([0], np.cumsum(rows))).astype(np.int64)
    total = int(starts[-1])
    tasks = []
    for t, begin in enumerate(range(0, total, samples_per_tar)):
        end = min(total, begin + samples_per_tar)
        pieces = []
        for s in range(int(np.searchsorted(starts, begin, side="right")) - 1, len(shards)):
            lo, hi = max(begin, starts[s]), min(end, starts[s + 1])
            if lo >= end:
                break
            if hi > lo:
                pieces.append(("range", shards[s], int(lo - starts[s]), int(hi - starts[s])))
        tasks.append(Shard(layout.shard_name(t), tuple(pieces), t))
    return tasks


# The shuffled order (``--shuffle-seed``) is a sort of every row by (coin(seed, key), key,
# shard, row), run as a shuffle on the executor (``curation.export.run``); each tar's rows are
# written to ``_plan/<tar>.parquet`` by the tasks. The functions below are its pieces.
PLAN = "_plan"


def shard_sort_keys(seed: int, index: int, url: str) -> list[tuple]:
    """``(coin, key, shard, row)`` of every row of a shard, the shuffle's sort key."""
    keys = read_parquet(url, columns=["key"])["key"].combine_chunks().cast(pa.string())
    u = coins(keys, seed)
    return [(float(c), k, index, row) for row, (c, k) in enumerate(zip(u.tolist(), keys.to_pylist()))]


def tar_plan(positions_rows: list[tuple[int, int, int]]) -> pa.Table:
    """One tar's rows from their (global position, shard, row), in position order: the
    tar's sample order, the same however the rows were sharded."""
    ordered = sorted(positions_rows)
    return pa.table({"shard": pa.array([p[1] for p in ordered], pa.int32()),
                     "row": pa.array([p[2] for p in ordered], pa.int64())})


def plan_url(out: str, tar: int) -> str:
    return join(out, PLAN, f"{layout.shard_name(tar)}.parquet")


def read_rows(pieces: tuple, shards: list[str] | None = None, as_text: list | None = None) -> pa.Table:
    """The rows of a tar, in the tar's order: from ``("range", url, start, end)`` pieces, or
    from a ``("plan", plan url)`` piece of a shuffled export (``shards``: the shard urls).
    ``as_text`` collects the columns ``concat_rows`` had to write as text."""
    tables = []
    for piece in pieces:
        if piece[0] == "range":
            _, url, start, end = piece
            tables.append(read_parquet(url).slice(start, end - start))
        else:
            plan = read_parquet(piece[1])
            shard_ids, rows = plan["shard"].to_numpy(), plan["row"].to_numpy()
            parts, where = [], []
            for s in dict.fromkeys(shard_ids.tolist()):
                mine = np.flatnonzero(shard_ids == s)
                parts.append(read_parquet(shards[s]).take(pa.array(rows[mine], pa.int64())))
                where.append(mine)
            grouped = concat_rows(parts, as_text)
            # Back from shard groups to the plan's order.
            tables.append(grouped.take(pa.array(np.argsort(np.concatenate(where), kind="stable"), pa.int64())))
    if not tables:
        return pa.table({})
    return concat_rows(tables, as_text)


def concat_rows(tables: list[pa.Table], as_text: list | None = None) -> pa.Table:
    """Tables of several curated shards as one. A pass-through column whose type differs
    between shards (int in one, string in another) becomes a string column, with a warning
    naming it: the pipeline never reads it, an image-filter hook may."""
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="default")
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    types: dict = {}
    for table in tables:
        for field in table.schema:
            types.setdefault(field.name, set()).add(field.type)
    clashing = sorted(name for name, kinds in types.items() if len(kinds) > 1)
    if as_text is not None:
        as_text.extend(n for n in clashing if n not in as_text)
    log.warning("export: column %s differs in type between curated shards (%s); written as text",
                ", ".join(clashing), "; ".join(f"{n}: {', '.join(sorted(map(str, types[n])))}" for n in clashing))
    return pa.concat_tables([_as_text(t, clashing) for t in tables], promote_options="default")


def _as_text(table: pa.Table, names: list[str]) -> pa.Table:
    for name in names:
        if name in table.column_names:
            values = [None if v is None else v if isinstance(v, str) else str(v) for v in table[name].to_pylist()]
            table = table.set_column(table.column_names.index(name), name, pa.array(values, pa.string()))
    return table


def plan_params(plan: dict) -> dict:
    """The parameters that key an export's done markers: the plan's options and a digest of
    its shards and row counts (the full plan is in the manifest)."""
    digest = hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()
    return {**{k: v for k, v in plan.items() if k not in ("shards", "rows", "source")}, "plan_sha256": digest}


def source_shard_names(pieces: tuple, shards: list[str] | None) -> list[str]:
    """The names (``00003``) of the shards a tar's rows come from."""
    urls = []
    for piece in pieces:
        if piece[0] == "range":
            urls.append(piece[1])
        else:
            urls += [shards[s] for s in np.unique(read_parquet(piece[1], columns=["shard"])["shard"].to_numpy())]
    return list(dict.fromkeys(u.rsplit("/", 1)[-1][: -len(".parquet")] for u in urls))
