"""`curate summary`'s command and its renderings: ``summary.json`` (the body), ``summary.md``
and ``summary.html`` (the same sections, for people)."""

import html
import json
import sys

from curation.core.io import join, write_bytes_atomic
from curation.report.summary import PROVIDER_FIELDS, build_summary, read_provider, validate_summary

TO_COMPLETE = "to be completed"  # a provider's field left empty
NOT_RECORDED = "not recorded"  # a fact the given records do not hold (e.g. bytes without an export)


def run_summary(executor, cfg) -> dict:
    """Gather the facts, build, check and write the three files; returns the body."""
    from curation.core.lineage import code_version
    from curation.report import summary_facts as facts

    card = facts.run_card(cfg.run)
    gathered = facts.export_facts(executor, cfg.export) if cfg.export else facts.run_facts(executor, cfg.run)
    folders = [c.strip() for c in (cfg.captions or "").split(",") if c.strip()]
    body = build_summary(card=card, facts=gathered, exported=cfg.export is not None,
                         ingest=facts.ingest_facts(cfg.ingest) if cfg.ingest else None,
                         captions=facts.caption_facts(folders), provider=read_provider(cfg.provider), sme=cfg.sme,
                         sources={"run": cfg.run, "export": cfg.export, "ingest": cfg.ingest, "captions": folders,
                                  "provider": cfg.provider, "code_version": code_version()})
    validate_summary(body)
    write_bytes_atomic(join(cfg.out, "summary.json"),
                       (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    write_bytes_atomic(join(cfg.out, "summary.md"), markdown(body).encode("utf-8"))
    write_bytes_atomic(join(cfg.out, "summary.html"), page(body).encode("utf-8"))
    return body


def summary_command(cfg: dict, executor) -> int:
    body = run_summary(executor, cfg["summary"])
    sys.stdout.write(json.dumps({"out": cfg["summary"].out, "to_be_completed": len(body["to_be_completed"])}) + "\n")
    return 0


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _text(value) -> str:
    if value is None:
        return NOT_RECORDED
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return "; ".join(f"{_label(k)}: {_text(v)}" for k, v in value.items()) if value else "none"
    return str(value)


def _is_table(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def markdown(body: dict) -> str:
    """The summary as Markdown: a heading per section and subsection, a line per field, a
    table per list of records (domains, languages, caption models)."""
    lines = ["# Public summary of training content", "", f"Template: {body['template']}.", ""]
    for section in body["sections"]:
        lines += [f"## {section['id']}. {section['title']}", ""]
        for sub in section["subsections"]:
            lines += [f"### {sub['id']} {sub['title']}", ""]
            for name, value in sub["fields"].items():
                if value is None and name in PROVIDER_FIELDS.get(sub["id"], ()):
                    lines.append(f"- **{_label(name)}:** _{TO_COMPLETE}_")
                elif _is_table(value):
                    columns = list(value[0])
                    lines += ["", f"**{_label(name)}**", "", "| " + " | ".join(_label(c) for c in columns) + " |",
                              "| " + " | ".join("---" for _ in columns) + " |"]
                    lines += ["| " + " | ".join(_text(row.get(c)) for c in columns) + " |" for row in value]
                    lines.append("")
                else:
                    lines.append(f"- **{_label(name)}:** {_text(value)}")
            lines.append("")
    lines += [f"## {TO_COMPLETE.capitalize()}", ""]
    lines += [f"- {item}" for item in body["to_be_completed"]] or ["- nothing"]
    return "\n".join(lines) + "\n"


def page(body: dict) -> str:
    """The summary as one self-contained HTML page, the same sections as the Markdown."""
    e = html.escape
    out = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Public summary of training content"
           "</title><style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:"
           "collapse}td,th{border:1px solid #ccc;padding:2px 6px}.todo{color:#a00}</style></head><body>",
           "<h1>Public summary of training content</h1>", f"<p>Template: {e(body['template'])}.</p>"]
    for section in body["sections"]:
        out.append(f"<h2 id='s{e(section['id'])}'>{e(section['id'])}. {e(section['title'])}</h2>")
        for sub in section["subsections"]:
            out.append(f"<h3 id='s{e(sub['id'])}'>{e(sub['id'])} {e(sub['title'])}</h3><dl>")
            for name, value in sub["fields"].items():
                shown = f"<span class='todo'>{TO_COMPLETE}</span>" if value is None and name in \
                    PROVIDER_FIELDS.get(sub["id"], ()) else _html_value(value)
                out.append(f"<dt>{e(_label(name))}</dt><dd>{shown}</dd>")
            out.append("</dl>")
    items = "".join(f"<li>{e(i)}</li>" for i in body["to_be_completed"]) or "<li>nothing</li>"
    out.append(f"<h2>{TO_COMPLETE.capitalize()}</h2><ul class='todo'>{items}</ul></body></html>")
    return "\n".join(out) + "\n"


def _html_value(value) -> str:
    e = html.escape
    if _is_table(value):
        columns = list(value[0])
        head = "".join(f"<th>{e(_label(c))}</th>" for c in columns)
        rows = "".join("<tr>" + "".join(f"<td>{e(_text(r.get(c)))}</td>" for c in columns) + "</tr>" for r in value)
        return f"<table><tr>{head}</tr>{rows}</table>"
    return e(_text(value))
