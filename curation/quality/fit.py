"""Fitting the filter weights of one language on a labelled set: descriptive text of the
language (``--reference``: WordNet glosses and lemmas, translation catalogs, ...) against junk
(``--junk`` files, or the families of ``curation.quality.junk`` generated from ``JUNK_SEED``).

A filter's weight is the probability that a text it fails is junk, with the two halves taken
as equally likely: ``w = r_junk / (r_junk + r_good)``, where ``r`` is the share of each half
that the filter fails (plus ``1 / n`` on both sides, so that a filter that fails nothing
weighs one half, no evidence either way). A detector that fires on junk and almost never on
descriptive text gets a weight near 1; one that fails descriptive text as often as junk gets
one half or less. The score multiplies ``1 - w`` over the filters a text fails
(``curation.quality.score``).

This departs from arXiv 2405.01582 (section 3), whose weight is the relative drop in a
reference language model's perplexity when a filter's failures are removed. That rule is still
measured and written beside each weight (``perplexity_drop``: a character n-gram model,
``curation.quality.lm``, trained on half the reference and measured on the other half plus
the junk): a model of fluent text finds fluent boilerplate ("click here", "Image 3") ordinary,
so the rule gives the boilerplate and placeholder detectors nothing, and they are what alt-text
pruning is for. Same inputs, same bytes out."""

import ast
import hashlib
import json

from curation.core.errors import InputError
from curation.quality.filters import FILTERS, evaluate, normalise_lang
from curation.quality.lm import CharLM, perplexity

DIGITS = 6
JUNK_SEED = 1
JUNK_PER_FAMILY = 2000


def fit_weights(reference: list[str], junk: list[str], lang: str, order: int = 4) -> dict:
    """The weights file body for ``lang`` from descriptive texts and junk texts (lists of str)."""
    if len(reference) < 2:
        raise InputError("quality fit: the reference corpus has fewer than 2 texts")
    if not junk:
        raise InputError("quality fit: no junk texts")
    good = [evaluate(t, lang) for t in reference]
    bad = [evaluate(t, lang) for t in junk]
    epsilon = 1.0 / (len(good) + len(bad))
    drops = _perplexity_drops(reference, junk, lang, order)
    filters = {}
    for j, name in enumerate(FILTERS):
        r_good = sum(v[j] is False for v in good) / len(good)
        r_junk = sum(v[j] is False for v in bad) / len(bad)
        weight = (r_junk + epsilon) / (r_junk + r_good + 2 * epsilon)
        filters[name] = {"weight": round(weight, DIGITS), "reference_fail_rate": round(r_good, DIGITS),
                         "junk_fail_rate": round(r_junk, DIGITS), "perplexity_drop": drops[name]}
    return {"lang": lang, "order": order, "filters": filters, "reference_texts": len(reference),
            "junk_texts": len(junk)}


def _perplexity_drops(reference: list[str], junk: list[str], lang: str, order: int) -> dict:
    """The paper's weight of each filter (recorded, not used): the relative perplexity drop."""
    lm = CharLM(order).fit(reference[0::2])
    scored = list(reference[1::2]) + list(junk)
    nll = [lm.nll(t) for t in scored]
    predictions = [len(t) + 1 for t in scored]
    verdicts = [evaluate(t, lang) for t in scored]
    ppl_all = perplexity(sum(nll), sum(predictions))
    drops = {}
    for j, name in enumerate(FILTERS):
        keep = [i for i, v in enumerate(verdicts) if v[j] is not False]
        ppl = perplexity(sum(nll[i] for i in keep), sum(predictions[i] for i in keep))
        drops[name] = round(max(0.0, (ppl_all - ppl) / ppl_all), DIGITS) if keep and len(keep) < len(scored) else 0.0
    return drops


def generated_junk(lang: str, per_family: int = JUNK_PER_FAMILY, seed: int = JUNK_SEED) -> list[str]:
    """Every junk family of ``curation.quality.junk``, ``per_family`` texts each."""
    from curation.quality.junk import generate_all

    return [t for texts in generate_all(per_family, seed, lang).values() for t in texts]


def digest(texts: list[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass") + b"\n")
    return h.hexdigest()


def weights_bytes(body: dict) -> bytes:
    return (json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


# -- reading corpora ----------------------------------------------------------------------

def read_texts(sources: str, lang: str | None = None, text_column: str = "text") -> list[str]:
    """Texts from comma-separated files or folders: ``.txt`` (one a line), ``.po`` catalogs
    (their translations), WordNet ``data.*`` files (glosses) and ``index.*`` files (lemmas,
    ``golden_retriever`` as ``golden retriever``), and pool shards (``.parquet``,
    ``.jsonl``; only rows of ``lang`` when they have a ``lang`` column). Empty texts are skipped."""
    from curation.core.io import is_dir, list_files

    texts: list[str] = []
    for source in (s.strip() for s in sources.split(",") if s.strip()):
        urls = list_files(source, _SUFFIXES) if is_dir(source) else [source]
        if not urls:
            raise InputError(f"{source}: no text files ({', '.join(_SUFFIXES)}, WordNet data.*)")
        for url in urls:
            texts += [t for t in _read_one(url, lang, text_column) if t and t.strip()]
    return texts


_SUFFIXES = (".txt", ".po", ".parquet", ".jsonl", ".jsonl.gz", ".noun", ".verb", ".adj", ".adv")


def _read_one(url: str, lang: str | None, text_column: str) -> list[str]:
    from curation.core.io import exists, read_bytes

    if not exists(url):
        raise InputError(f"{url}: not found")
    name = url.rsplit("/", 1)[-1]
    if name.endswith((".parquet", ".jsonl", ".jsonl.gz")):
        from curation.chain.pool import read_pool_shard

        table = read_pool_shard(url, text_column).table
        texts = table[text_column].to_pylist()
        if lang and "lang" in table.column_names:
            texts = [t for t, v in zip(texts, table["lang"].to_pylist()) if normalise_lang(v) == lang]
        return texts
    raw = read_bytes(url).decode("utf-8", errors="replace")
    if name.endswith(".po"):
        return po_translations(raw)
    if name.startswith("data."):
        return wordnet_glosses(raw)
    if name.startswith("index."):
        return wordnet_lemmas(raw)
    return raw.splitlines()


def po_translations(text: str) -> list[str]:
    """The translated strings of a gettext catalog, the header skipped."""
    out, current, active = [], [], False
    for line in text.splitlines() + [""]:
        line = line.strip()
        if line.startswith("msgstr"):
            if active and current:
                out.append("".join(current))
            current, active = [_literal(line.split(" ", 1)[-1])], True
        elif line.startswith('"') and active:
            current.append(_literal(line))
        else:
            if active and current:
                out.append("".join(current))
            current, active = [], False
    return [s for s in out if s and "Content-Type:" not in s]


def _literal(quoted: str) -> str:
    try:
        value = ast.literal_eval(quoted)
    except (ValueError, SyntaxError):
        return ""
    return value if isinstance(value, str) else ""


def wordnet_glosses(text: str) -> list[str]:
    """The glosses of a WordNet 3.0 ``data.*`` file (after ``| ``), the licence header skipped."""
    return [line.split("| ", 1)[1].strip() for line in text.splitlines() if "| " in line and not line.startswith("  ")]


def wordnet_lemmas(text: str) -> list[str]:
    """The lemmas of a WordNet 3.0 ``index.*`` file (its first field), underscores as spaces."""
    return [line.split(" ", 1)[0].replace("_", " ") for line in text.splitlines()
            if line and not line.startswith("  ")]
