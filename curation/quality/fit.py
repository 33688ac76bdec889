"""Fitting the filter weights of one language (arXiv 2405.01582, section 3): a reference
language model (a character n-gram model, ``curation.quality.lm``) is trained on half of a
reference corpus of good text; for each filter, the perplexity of the texts that pass it is
compared with that of all texts, and the weight is the relative drop,
``max(0, (ppl_all - ppl_pass) / ppl_all)``: a filter that removes text the reference model
finds unlikely gets weight, one that removes ordinary text gets none. The texts are the
held-out half of the reference plus the alt-texts given (``--texts``), so the weights
reflect the junk of the pool they will score. Same inputs, same bytes out.

One departure, on purpose: a filter keeps a floor weight of ``FLOOR`` even when its drop is
smaller. A reference model finds fluent boilerplate ("click here", "Image 3") ordinary text,
so the paper's rule gives those filters nothing, yet they are what alt-text pruning is for;
the floor keeps them ranking texts. The measured drop is in the file beside the weight."""

import ast
import hashlib
import json

from curation.core.errors import InputError
from curation.quality.filters import FILTERS, evaluate, normalise_lang
from curation.quality.lm import CharLM, perplexity

DIGITS = 6
FLOOR = 0.01


def fit_weights(reference: list[str], texts: list[str], lang: str, order: int = 4) -> dict:
    """The weights file body for ``lang`` from reference texts and alt-texts (lists of str)."""
    if len(reference) < 2:
        raise InputError("quality fit: the reference corpus has fewer than 2 texts")
    lm = CharLM(order).fit(reference[0::2])
    scored = list(reference[1::2]) + list(texts)
    nll = [lm.nll(t) for t in scored]
    predictions = [len(t) + 1 for t in scored]
    verdicts = [evaluate(t, lang) for t in scored]
    ppl_all = perplexity(sum(nll), sum(predictions))
    filters = {}
    for j, name in enumerate(FILTERS):
        keep = [i for i, v in enumerate(verdicts) if v[j] is not False]
        ppl = perplexity(sum(nll[i] for i in keep), sum(predictions[i] for i in keep))
        drop = max(0.0, (ppl_all - ppl) / ppl_all) if keep and len(keep) < len(scored) else 0.0
        filters[name] = {"weight": round(max(FLOOR, drop), DIGITS), "drop": round(drop, DIGITS),
                         "pass_rate": round(len(keep) / len(scored), DIGITS),
                         "perplexity": round(ppl, DIGITS) if keep else None}
    return {"lang": lang, "order": order, "filters": filters, "perplexity_all": round(ppl_all, DIGITS),
            "texts": len(scored), "reference_texts": len(reference)}


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
    (their translations), WordNet ``data.*`` files (glosses), and pool shards (``.parquet``,
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
