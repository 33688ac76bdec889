"""`curate summary`: the public summary of training content that the EU AI Act asks of a
general-purpose model's provider (Article 53(1)(d)), on the European Commission's template of
24 July 2025, filled from the pipeline's own records (``summary_facts``).

The sections come in the template's order (``TEMPLATE``). What only the provider knows (its
name, the model, other sources) comes from ``--provider FILE`` (YAML, the keys of
``PROVIDER_FIELDS``) or stays ``null`` and is listed under ``to_be_completed``. The body
follows ``summary.schema.json`` beside this module; ``validate`` checks it."""

import json
import math
from pathlib import Path

from curation.core.errors import InputError

TEMPLATE_NAME = ("European Commission, Template for the Public Summary of Training Content for general-purpose AI "
                 "models (Article 53(1)(d) AI Act), 24 July 2025")
TEMPLATE = (
    ("1", "General information", (("1.1", "Provider identification"), ("1.2", "Model identification"),
                                  ("1.3", "Modalities, overall training data size and other characteristics"))),
    ("2", "List of data sources", (("2.1", "Publicly available datasets"),
                                   ("2.2", "Private non-publicly available datasets obtained from third parties"),
                                   ("2.3", "Data crawled and scraped from online sources"), ("2.4", "User data"),
                                   ("2.5", "Synthetic data"), ("2.6", "Other sources of data"))),
    ("3", "Data processing aspects", (("3.1", "Respect of reservation of rights from text and data mining "
                                              "exception or limitation"),
                                      ("3.2", "Removal of illegal content"), ("3.3", "Other information"))),
)
# What only the provider knows, by subsection.
PROVIDER_FIELDS = {"1.1": ("provider_name", "provider_contact"),
                   "1.2": ("model_name", "model_versions", "placed_on_market"),
                   "1.3": ("other_characteristics",), "2.1": ("public_datasets",), "2.2": ("private_datasets",),
                   "2.3": ("crawler_purpose",), "2.4": ("user_data",), "2.6": ("other_sources",),
                   "3.2": ("illegal_content_measures",), "3.3": ("other_information",)}
# The template's size bands (section 1.3), as (upper bound, label).
IMAGE_BANDS = ((1e6, "Less than 1 million images"), (1e9, "1 million to 1 billion images"),
               (math.inf, "More than 1 billion images"))
TEXT_BANDS = ((1e9, "Less than 1 billion tokens"), (1e13, "1 billion to 10 trillion tokens"),
              (math.inf, "More than 10 trillion tokens"))
TOP_LANGUAGES = 20
SCHEMA = Path(__file__).resolve().parent / "summary.schema.json"


def band(value: float, bands) -> str:
    return next(label for upper, label in bands if value < upper)


def top_domain_count(domains: int, sme: bool) -> int:
    """The template's list length: the top 10% of domains by content size; for an SME the top
    5% or 1,000 domains, whichever is fewer."""
    if domains == 0:
        return 0
    return min(math.ceil(0.05 * domains), 1000) if sme else math.ceil(0.10 * domains)


def read_provider(url: str | None) -> dict:
    """The provider's own answers (flat YAML: the names of ``PROVIDER_FIELDS``)."""
    if url is None:
        return {}
    import yaml

    from curation.core.io import read_bytes

    try:
        body = yaml.safe_load(read_bytes(url)) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{url}: not YAML ({exc})") from None
    known = {name for names in PROVIDER_FIELDS.values() for name in names}
    if not isinstance(body, dict):
        raise InputError(f"{url}: a mapping of {', '.join(sorted(known))} expected")
    for key, value in body.items():
        if key not in known:
            raise InputError(f"{url}: unknown key {key!r} (known: {', '.join(sorted(known))})")
        if not (isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))):
            raise InputError(f"{url}: {key} must be a text or a list of texts")
    return body


def build_summary(*, card: dict, facts: dict, exported: bool, ingest: dict | None, captions: list[dict],
                  provider: dict, sme: bool, sources: dict) -> dict:
    """The summary body: the template's sections in order, then what is left to complete."""
    fields = {
        "1.3": general(card, facts, exported, ingest),
        "2.3": crawled(facts, exported, ingest, sme),
        "2.5": synthetic(captions, facts, exported),
        "3.1": opt_outs(facts, exported),
        "3.2": illegal_content(card, facts, exported),
        "3.3": other_information(card),
    }
    sections, missing = [], []
    for sid, title, subsections in TEMPLATE:
        subs = []
        for sub_id, sub_title in subsections:
            values = dict(fields.get(sub_id, {}))
            for name in PROVIDER_FIELDS.get(sub_id, ()):
                values[name] = provider.get(name)
                if values[name] is None:
                    missing.append(f"{sub_id} {name}")
            subs.append({"id": sub_id, "title": sub_title, "fields": values})
        sections.append({"id": sid, "title": title, "subsections": subs})
    return {"template": TEMPLATE_NAME, "generated_from": sources, "sme": sme, "sections": sections,
            "to_be_completed": missing}


def general(card: dict, facts: dict, exported: bool, ingest: dict | None) -> dict:
    images, words = facts.get("written", 0), facts.get("words", 0)
    langs = facts.get("langs", {})
    total = sum(langs.values()) or 1
    last = [d for d in ((ingest or {}).get("collection_period", {}).get("last"),
                        (facts.get("fetch_period") or (None, None))[1]) if d]
    return {
        "modalities": ["image", "text"],
        "size": {"image": {"samples": images, "bytes": facts.get("bytes") if exported else None,
                           "band": band(images, IMAGE_BANDS), "counted_from": "export" if exported else "run"},
                 "text": {"texts": images, "words": words, "band": band(words, TEXT_BANDS),
                          "counted_as": "whitespace-separated words of the alt-texts (a lower bound of tokens)"}},
        "types_of_content": "images and their alt-texts (image-text pairs) from web pages, balanced over "
                            "metadata entries (MetaCLIP curation)",
        "latest_collection_date": max(last) if last else None,
        "languages": [{"lang": lang or "unknown", "samples": n, "share": round(n / total, 6)}
                      for lang, n in sorted(langs.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_LANGUAGES]],
    }


def crawled(facts: dict, exported: bool, ingest: dict | None, sme: bool) -> dict:
    by_bytes, by_samples = facts.get("domain_bytes", {}), facts.get("domain_samples", {})
    domains = len(by_samples)
    n = top_domain_count(domains, sme)
    total_bytes, total_samples = sum(by_bytes.values()) or 1, sum(by_samples.values()) or 1
    ranked_bytes = sorted(by_bytes.items(), key=lambda kv: (-kv[1], kv[0]))[:n] if exported else []
    ranked_samples = sorted(by_samples.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    policy = facts.get("policy", {})
    period = (ingest or {}).get("collection_period")
    fetch = facts.get("fetch_period")
    return {
        "crawler": {"user_agent": policy.get("user_agent"), "opt_out_rules": policy.get("opt_out_checks"),
                    "behaviour": "fetches each image once over http(s) from public addresses, with a per-host "
                                 "connection and rate limit and a circuit breaker; honours robots.txt (RFC 9309), "
                                 "X-Robots-Tag directives and TDMRep's tdm-reservation before writing a sample"}
        if exported else None,
        "collection_period": {"pages": period if period and period.get("first") else None,
                              "images": {"first": fetch[0], "last": fetch[1]} if fetch else None},
        "content_description": f"{facts.get('written', 0)} images with alt-texts from {domains} "
                               f"domain{'' if domains == 1 else 's'}"
                               + (f"; pages from {ingest['files']} WARC/WAT files" if ingest else ""),
        "domains": domains,
        "top_domains_rule": ("top 5% of domains or 1,000, whichever is fewer (SME)" if sme else
                             "top 10% of domains") + f" by content size: {n} of {domains}",
        "top_domains_by_bytes": [{"domain": d, "bytes": b, "samples": by_samples.get(d, 0),
                                  "share_of_bytes": round(b / total_bytes, 6)} for d, b in ranked_bytes],
        "top_domains_by_samples": [{"domain": d, "samples": s, "share_of_samples": round(s / total_samples, 6)}
                                   for d, s in ranked_samples],
    }


def synthetic(captions: list[dict], facts: dict, exported: bool) -> dict:
    written = facts.get("written", 0) or 1
    with_caption = facts.get("captions", 0) if exported else None
    return {"caption_models": captions, "samples_with_synthetic_caption": with_caption,
            "share_of_samples": round(with_caption / written, 6) if with_caption is not None else None}


def opt_outs(facts: dict, exported: bool) -> dict:
    if not exported:
        return {"rules": None, "samples_fetched": None, "refused_by_rule": {}}
    statuses = facts.get("statuses", {})
    return {"rules": facts.get("policy", {}).get("opt_out_checks"),
            "samples_fetched": sum(statuses.values()) - statuses.get("removed_by_keep_list", 0),
            "refused_by_rule": dict(sorted(facts.get("opted_out", {}).items()))}


def illegal_content(card: dict, facts: dict, exported: bool) -> dict:
    policy = facts.get("policy", {})
    statuses = facts.get("statuses", {})
    return {"faces_blurred": {"enabled": bool(policy.get("blur_faces")), "samples": facts.get("samples_with_faces", 0),
                              "faces": facts.get("faces", 0)} if exported else None,
            "image_filter": {"hook": policy.get("image_filter"),
                             "filtered_by_reason": dict(sorted(facts.get("filtered", {}).items()))}
            if exported else None,
            "removed_by_keep_list": statuses.get("removed_by_keep_list", 0) if exported else None,
            "low_quality_rows": card.get("low_quality_rows")}


def other_information(card: dict) -> dict:
    return {"curation": {"method": "MetaCLIP balancing (arXiv 2309.16671): alt-texts matched against metadata "
                                   "entries, each entry sub-sampled to about t texts",
                         "t": card.get("t"), "unit": card.get("unit"), "pool_rows": card.get("pool_rows"),
                         "matched_rows": card.get("matched_rows"), "curated_rows": card.get("curated_rows"),
                         "metadata": card.get("_metadata")}}


# -- the schema -------------------------------------------------------------------------------

def validate_summary(body: dict) -> None:
    """Check a summary against ``summary.schema.json``, each subsection's fields included."""
    schema = json.loads(SCHEMA.read_text())
    validate(body, schema)
    for section in body["sections"]:
        for sub in section["subsections"]:
            if sub["id"] in schema["subsection_fields"]:
                validate(sub["fields"], schema["subsection_fields"][sub["id"]], f"summary.{sub['id']}")
    ids = [s["id"] for s in body["sections"]]
    subs = [[sub["id"] for sub in s["subsections"]] for s in body["sections"]]
    if ids != [s[0] for s in TEMPLATE] or subs != [[sub[0] for sub in s[2]] for s in TEMPLATE]:
        raise ValueError("summary: sections out of the template's order")


def validate(body, schema: dict, where: str = "summary") -> None:
    """Check ``body`` against a schema in the subset of JSON Schema ``summary.schema.json``
    uses (type, required, properties, additionalProperties, items, enum); ``ValueError``
    naming the place."""
    types = schema.get("type")
    if types is not None:
        allowed = types if isinstance(types, list) else [types]
        if not any(_is(body, t) for t in allowed):
            raise ValueError(f"{where}: {type(body).__name__} is not {' or '.join(allowed)}")
    if "enum" in schema and body not in schema["enum"]:
        raise ValueError(f"{where}: {body!r} is not one of {schema['enum']}")
    if isinstance(body, dict):
        for key in schema.get("required", []):
            if key not in body:
                raise ValueError(f"{where}: missing {key!r}")
        properties = schema.get("properties", {})
        for key, value in body.items():
            if key in properties:
                validate(value, properties[key], f"{where}.{key}")
            elif schema.get("additionalProperties", True) is False:
                raise ValueError(f"{where}: unexpected {key!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                validate(value, schema["additionalProperties"], f"{where}.{key}")
    if isinstance(body, list) and "items" in schema:
        for i, item in enumerate(body):
            validate(item, schema["items"], f"{where}[{i}]")


def _is(value, kind: str) -> bool:
    return {"object": isinstance(value, dict), "array": isinstance(value, list), "string": isinstance(value, str),
            "boolean": isinstance(value, bool), "null": value is None,
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, (int, float)) and not isinstance(value, bool)}[kind]
