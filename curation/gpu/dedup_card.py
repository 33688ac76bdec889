"""The data card's dedup block (``curate dedup --run``): what near-duplicate removal did to a
curated run's entries. Per policy: the near-duplicate groups, the rows removed, the entries
whose curated count fell and those it emptied, and tail coverage (entries whose run count is
below their t that keep at least one text) before and after.

The counts are over the embedded samples: the exported, decodable part of the curated set."""

import numpy as np

from curation.core import layout
from curation.core.errors import InputError
from curation.core.io import join, list_files, read_json, read_parquet, write_json_atomic

EXAMPLES = 10
CARD = "_dedup_card.json"  # "_": not a part of the keep list


def run_counts_and_t(run: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A run's entry counts, each entry's t and the entries' text."""
    from curation.export.finish import run_entry_table

    table, t = run_entry_table(run)
    return table["count"].to_numpy().astype(np.int64), t, table["entry"].to_pylist()


def summed_changes(out: str, size: int, policies: list[str]) -> tuple[np.ndarray, dict]:
    """The groups' entry tables (``_entries/``) added up: counts before, and after each policy."""
    from curation.gpu.semdedup import ENTRIES

    before = np.zeros(size, np.int64)
    after = {p: np.zeros(size, np.int64) for p in policies}
    for url in list_files(join(out, ENTRIES), (".parquet",)):
        table = read_parquet(url)
        ids = table["entry_id"].to_numpy()
        if len(ids) and ids.max() >= size:
            raise InputError(f"{url}: entry id {int(ids.max())} is past the run's {size} entries (embeddings of "
                             f"another run?)")
        np.add.at(before, ids, table["before"].to_numpy())
        for policy in policies:
            np.add.at(after[policy], ids, table[f"after_{policy}"].to_numpy())
    return before, after


def policy_block(policy: str, stats: dict, run_counts: np.ndarray, t: np.ndarray, entries: list[str],
                 before: np.ndarray, after: np.ndarray) -> dict:
    """One policy's figures (``stats``: the groups' summed stats)."""
    tail = (run_counts > 0) & (run_counts < t)
    fell = np.flatnonzero(after < before)
    worst = fell[np.lexsort((fell, -(before[fell] - after[fell])))][:EXAMPLES]
    return {"policy": policy, "duplicate_groups": stats.get(f"groups_{policy}", 0),
            "removed_rows": stats.get(f"removed_{policy}", 0),
            "entries_with_fewer_texts": int(len(fell)), "entries_emptied": int(((before > 0) & (after == 0)).sum()),
            "tail_entries": int(tail.sum()), "tail_covered_before": int((tail & (before > 0)).sum()),
            "tail_covered_after": int((tail & (after > 0)).sum()),
            "largest_drops": [{"entry_id": int(i), "entry": entries[i], "before": int(before[i]),
                               "after": int(after[i])} for i in worst]}


def dedup_block(out: str, run: str, policies: list[str], stats: dict, params: dict) -> dict:
    """The block for ``policies`` (the keep list's first), written beside the keep list and
    into the run's data card (``dedup``, by keep-list folder)."""
    run_counts, t, entries = run_counts_and_t(run)
    before, after = summed_changes(out, len(run_counts), policies)
    block = {"keep_list": out, "policy": policies[0], "threshold": params["threshold"],
             "samples": stats.get("samples", 0), "removed_rows": stats.get(f"removed_{policies[0]}", 0),
             "policies": [policy_block(p, stats, run_counts, t, entries, before, after[p]) for p in policies]}
    write_json_atomic(join(out, CARD), block)
    card = read_json(join(run, layout.DATACARD))
    card.setdefault("dedup", {})[out] = block
    write_json_atomic(join(run, layout.DATACARD), card)
    return block
