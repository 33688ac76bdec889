"""`curate metadata wiki`: one list per language from Wikipedia dumps, on any executor: one
task per multistream block (or per plain dump file), the counts added up on the driver (which
holds one language's counts at a time, as `curate metadata build` does)."""

import json
import re
import sys
import time
from functools import partial

from curation.core.errors import InputError
from curation.core.io import is_dir, join, list_files

CHUNK = 512  # blocks per executor call: the driver merges results as they come


def dumps_of(cfg) -> list[tuple[str, str]]:
    """(lang, dump url) pairs to build."""
    from curation.quality.filters import normalise_lang
    from metadata.wiki import dump_info

    if cfg.dump is not None:
        return [(normalise_lang(cfg.lang), cfg.dump)]
    if not is_dir(cfg.dumps):
        raise InputError(f"{cfg.dumps}: not a folder of dumps")
    found = []
    for url in list_files(cfg.dumps, (".xml.bz2", ".xml")):
        if "-index" in url.rsplit("/", 1)[-1]:
            continue
        wiki = dump_info(url)["wiki"]
        if wiki is None:
            raise InputError(f"{url}: not a dump name (xxwiki-DATE-pages-articles...); use --dump with --lang")
        found.append((normalise_lang(re.sub(r"wiki$", "", wiki).replace("_", "-")), url))
    if not found:
        raise InputError(f"{cfg.dumps}: no dumps (*.xml.bz2, *.xml)")
    return found


def build_language(executor, cfg, lang: str, url: str) -> dict:
    """Count one dump on the executor, build and write ``<lang>.json``; returns its manifest."""
    from metadata.build import BuildResult
    from metadata.manifest import encode_list, file_sha256, write_list
    from metadata.segment import segmenter_info
    from metadata.wiki import dump_info, index_url, plan_blocks, read_namespaces
    from metadata.worldwide import WikiCounts, WikiRules, build_wiki_list, count_block, read_wordnet_lemmas

    segmenter = segmenter_info(lang)  # a missing segmenter fails here, before any task
    blocks = plan_blocks(url)
    namespaces = read_namespaces(url)
    counts = WikiCounts()
    start = time.perf_counter()
    for i in range(0, len(blocks), CHUNK):
        for part in executor.map(partial(count_block, lang, namespaces), blocks[i:i + CHUNK],
                                 f"wiki {lang}: blocks {i}-{min(i + CHUNK, len(blocks))} of {len(blocks)}"):
            counts.add(part)
    seconds = time.perf_counter() - start
    rules = WikiRules(cfg.unigram_share, cfg.max_unigrams, cfg.min_bigram_pmi, cfg.max_bigrams, cfg.title_share,
                      cfg.max_titles, cfg.numbers)
    wordnet = read_wordnet_lemmas(cfg.wordnet_lmf, lang) if cfg.wordnet_lmf else []
    pageviews = None
    if cfg.pageviews:
        from metadata.sources import read_pageviews

        pageviews = read_pageviews(cfg.pageviews, lang)
    result: BuildResult = build_wiki_list(counts, lang, rules, wordnet, pageviews)
    inputs = [{"source": "dump", "path": url, "sha256": file_sha256(url)}]
    if index_url(url):
        inputs.append({"source": "index", "path": index_url(url), "sha256": file_sha256(index_url(url))})
    for kind, extra in (("wordnet", cfg.wordnet_lmf), ("pageviews", cfg.pageviews)):
        if extra and not is_dir(extra):
            inputs.append({"source": kind, "path": extra, "sha256": file_sha256(extra)})
    info = {"entries": len(result.entries), "per_source": result.per_source, "excluded": result.excluded,
            "lang": lang, "dump": dump_info(url), **segmenter,
            "thresholds": {k: getattr(rules, k) for k in rules.__dataclass_fields__},
            "titles_ranked_by": "page views" if pageviews is not None else "links to the article",
            "pages": counts.pages, "redirects": counts.redirect_pages, "blocks": counts.blocks, "inputs": inputs}
    manifest = write_list(join(cfg.out, f"{lang}.json"), encode_list(result.entries), info)
    manifest["seconds"] = round(seconds, 3)
    return manifest


def wiki_command(cfg: dict, executor) -> int:
    c = cfg["wiki"]
    for lang, url in dumps_of(c):
        manifest = build_language(executor, c, lang, url)
        sys.stdout.write(json.dumps({k: manifest[k] for k in ("file", "lang", "entries", "per_source", "pages",
                                                               "blocks", "segmenter")}, ensure_ascii=False) + "\n")
    return 0
