"""`curate metadata build|stats|diff|import|ngrams`: tools for curators of entry lists."""

import json
import sys

import numpy as np
import pyarrow as pa

from curation.io import exists, read_bytes, read_json, write_parquet_atomic
from curation.metadata_io import load_metadata, parse_metadata
from metadata.build import BuildOptions, SourceFiles, build_list
from metadata.manifest import encode_list, manifest_url, write_list
from metadata.versioning import diff_lists, id_mapping, list_stats


def add_parser(sub) -> None:
    p = sub.add_parser("metadata", help="build, inspect, compare and import metadata lists",
                       description="Build, inspect, compare and import metadata lists.")
    msub = p.add_subparsers(dest="metadata_command", required=True, metavar="SUBCOMMAND")
    _build_parser(msub)
    s = msub.add_parser("stats", help="summary numbers of a list (and its manifest)")
    s.add_argument("file", help="metadata list (JSON list or one entry a line)")
    d = msub.add_parser("diff", help="added/removed entries and an old -> new id mapping")
    d.add_argument("old")
    d.add_argument("new")
    d.add_argument("--mapping", help="write old_id,new_id (-1: removed) as Parquet here")
    d.add_argument("--show", type=int, default=10, help="how many added/removed entries to print (default 10)")
    i = msub.add_parser("import", help="take an existing MetaCLIP metadata.json as is, with a manifest")
    i.add_argument("file", help="MetaCLIP metadata.json (a JSON list of strings)")
    i.add_argument("--out", required=True, help="where to write the list (its manifest goes beside it)")
    _ngrams_parser(msub)


def _build_parser(msub) -> None:
    b = msub.add_parser("build", help="build a list from WordNet, n-gram counts, page views and extra lists",
                        description="Build a metadata list; sources in the order of the arguments' table.")
    b.add_argument("--wordnet", help="folder of WordNet 3.0 data.* files (e.g. /usr/share/wordnet)")
    b.add_argument("--wordnet-lemmas", choices=["head", "all"], default="head",
                   help="head: synset names as MetaCLIP takes them (default); all: every lemma")
    b.add_argument("--unigrams", help="TSV ngram<TAB>count (file or folder of parts)")
    b.add_argument("--bigrams", help="TSV 'a b'<TAB>count; PMI needs --unigrams too")
    b.add_argument("--titles", help="Wikimedia page-view dump lines 'project title views bytes', or TSV")
    b.add_argument("--title-project", default="en", help="page-view project to count (default: en)")
    b.add_argument("--extra", action="append", default=[], help="extra entries (one a line, or JSON); repeatable")
    b.add_argument("--no-numbers", action="store_true", help="leave out the numbers 0..99")
    b.add_argument("--budget", type=int, default=500_000, help="maximum entries (default 500000)")
    b.add_argument("--min-unigram-count", type=int, default=100)
    b.add_argument("--min-bigram-pmi", type=float, default=30.0, help="PMI in bits (default 30)")
    b.add_argument("--min-title-views", type=int, default=70)
    b.add_argument("--lang", default="en", help="language of the list (no-space languages join bigrams)")
    b.add_argument("--out", required=True, help="output FILE.json (FILE.manifest.json is written beside it)")


def _ngrams_parser(msub) -> None:
    n = msub.add_parser("ngrams", help="Spark job: unigram/bigram counts of a corpus, page-view sums")
    n.add_argument("--corpus", help="folder of .txt/.jsonl/.parquet text shards")
    n.add_argument("--text-column", default="text")
    n.add_argument("--pageviews", help="folder of Wikimedia page-view dump files")
    n.add_argument("--project", default="en")
    n.add_argument("--out", required=True, help="folder for unigrams/, bigrams/, titles/")
    n.add_argument("--partitions", type=int, default=None, help="output parts per kind")
    n.add_argument("--master", default=None)
    n.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE")


def run(args) -> int:
    handler = {"build": _build, "stats": _stats, "diff": _diff, "import": _import, "ngrams": _ngrams}
    return handler[args.metadata_command](args)


def _print(value) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _build(args) -> int:
    files = SourceFiles(wordnet=args.wordnet, wordnet_lemmas=args.wordnet_lemmas, unigrams=args.unigrams,
                        bigrams=args.bigrams, titles=args.titles, title_project=args.title_project, extra=args.extra)
    opts = BuildOptions(budget=args.budget, min_unigram_count=args.min_unigram_count,
                        min_bigram_pmi=args.min_bigram_pmi, min_title_views=args.min_title_views,
                        numbers=not args.no_numbers, lang=args.lang)
    result, info = build_list(files, opts)
    manifest = write_list(args.out, encode_list(result.entries), info)
    _print({k: manifest[k] for k in ("file", "sha256", "entries", "per_source", "excluded")})
    return 0


def _stats(args) -> int:
    metadata = load_metadata(args.file)
    out = {"file": args.file, "sha256": metadata.sha256, **list_stats(metadata.entries)}
    if exists(manifest_url(args.file)):
        manifest = read_json(manifest_url(args.file))
        out["manifest"] = {k: manifest.get(k) for k in ("per_source", "thresholds", "date", "inputs")}
        out["manifest_matches"] = manifest.get("sha256") == metadata.sha256
    _print(out)
    return 0


def _diff(args) -> int:
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


def _import(args) -> int:
    data = read_bytes(args.file)
    entries = parse_metadata(data, args.file)  # validates: a list of strings
    manifest = write_list(args.out, data, {"entries": len(entries), "per_source": {"import": len(entries)},
                                           "inputs": [{"source": "import", "path": args.file}]})
    _print({k: manifest[k] for k in ("file", "sha256", "entries")})
    return 0


def _ngrams(args) -> int:
    from jobs.common import conf_pair
    from jobs.ngrams import run_ngrams
    from jobs.spark import get_spark

    spark = get_spark(args.master, "curate metadata ngrams", dict(conf_pair(c) for c in args.conf))
    _print(run_ngrams(spark, args.corpus, args.out, args.text_column, args.pageviews, args.project, args.partitions))
    return 0
