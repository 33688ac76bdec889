"""`curate metadata build|stats|diff|import|ngrams`: tools for curators of entry lists (their
flags are generated from the configs in ``curation.core.config``; see ``jobs.cli``)."""

import json
import sys

import numpy as np
import pyarrow as pa

from curation.core.io import exists, read_bytes, read_json, write_parquet_atomic
from curation.matching.metadata_io import load_metadata, manifest_url, parse_metadata
from metadata.build import BuildOptions, SourceFiles, build_list
from metadata.manifest import encode_list, write_list
from metadata.versioning import diff_lists, id_mapping, list_stats


def _print(value) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def build_command(cfg: dict, executor=None) -> int:
    args = cfg["build"]
    files = SourceFiles(wordnet=args.wordnet, wordnet_lemmas=args.wordnet_lemmas, unigrams=args.unigrams,
                        bigrams=args.bigrams, titles=args.titles, title_project=args.title_project, extra=args.extra)
    opts = BuildOptions(budget=args.budget, min_unigram_count=args.min_unigram_count,
                        min_bigram_pmi=args.min_bigram_pmi, min_title_views=args.min_title_views,
                        numbers=args.numbers, lang=args.lang)
    result, info = build_list(files, opts)
    manifest = write_list(args.out, encode_list(result.entries), info)
    _print({k: manifest[k] for k in ("file", "sha256", "entries", "per_source", "excluded")})
    return 0


def stats_command(cfg: dict, executor=None) -> int:
    args = cfg["stats"]
    metadata = load_metadata(args.file)
    out = {"file": args.file, "sha256": metadata.sha256, **list_stats(metadata.entries)}
    if exists(manifest_url(args.file)):
        manifest = read_json(manifest_url(args.file))
        out["manifest"] = {k: manifest.get(k) for k in ("per_source", "thresholds", "date", "inputs")}
        out["manifest_matches"] = manifest.get("sha256") == metadata.sha256
    _print(out)
    return 0


def diff_command(cfg: dict, executor=None) -> int:
    args = cfg["diff"]
    old, new = load_metadata(args.old).entries, load_metadata(args.new).entries
    diff = diff_lists(old, new)
    shown = {**diff, "added": diff["added"][: args.show], "removed": diff["removed"][: args.show],
             "added_count": len(diff["added"]), "removed_count": len(diff["removed"])}
    if args.mapping:
        mapping = id_mapping(old, new)
        write_parquet_atomic(args.mapping, pa.table({"old_id": pa.array(np.arange(len(old)), pa.int32()),
                                                     "new_id": pa.array(mapping, pa.int32())}))
        shown["mapping"] = args.mapping
    _print(shown)
    return 0


def import_command(cfg: dict, executor=None) -> int:
    args = cfg["import"]
    data = read_bytes(args.file)
    entries = parse_metadata(data, args.file)  # validates: a list of strings
    manifest = write_list(args.out, data, {"entries": len(entries), "per_source": {"import": len(entries)},
                                           "inputs": [{"source": "import", "path": args.file}]})
    _print({k: manifest[k] for k in ("file", "sha256", "entries")})
    return 0


def ngrams_command(cfg: dict, executor=None) -> int:
    from curation.core.io import current_storage
    from jobs.ngrams import run_ngrams
    from jobs.spark import get_spark

    args = cfg["ngrams"]
    spark = get_spark(cfg["spark"].master, "curate metadata ngrams", cfg["spark"].conf)
    _print(run_ngrams(spark, args.corpus, args.out, args.text_column, args.pageviews, args.project,
                      args.partitions, current_storage()))
    return 0
