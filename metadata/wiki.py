"""Reading MediaWiki XML export dumps (``pages-articles``), as Wikimedia publishes them.

- A multistream dump (``*-multistream.xml.bz2`` with its ``*-multistream-index.txt.bz2``) is
  split into blocks by the index: each block is one bz2 stream of about 100 pages, a task of
  its own. The first stream holds ``<siteinfo>`` (the namespace names of the language).
- A plain ``.xml.bz2`` or ``.xml`` dump is one task, read as a stream.

Only articles (namespace 0) are kept; a redirect page yields its target (``redirect``) and no
text. Wikitext becomes plain text with mwparserfromhell (``plain_text``): templates,
references, tables, galleries and other non-prose tags are removed, as are links to files,
images and categories (in the language's own namespace names too); other links are replaced
by their text, and their targets are collected (titles ranked by the links pointing at them).
"""

import bz2
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from curation.core.errors import InputError

# Tags whose content is not prose.
DROPPED_TAGS = frozenset({"ref", "references", "table", "gallery", "math", "chem", "code", "pre", "score",
                          "syntaxhighlight", "source", "timeline", "graph", "mapframe", "templatedata", "nowiki",
                          "imagemap", "hiero", "poem", "ce", "sup", "sub"})
# Namespaces whose links are not prose: File (6), Category (14), and their canonical names.
DROPPED_NAMESPACES = (6, 14)
CANONICAL = {"file", "image", "category", "media"}
_INTERWIKI = re.compile(r"^[a-z]{2,3}(?:-[a-z]+)*$")
_DUMP_NAME = re.compile(r"^(?P<db>[a-z_\-]+)wiki-(?P<date>\d{8}|latest)-")


@dataclass
class Page:
    title: str
    text: str | None = None  # plain text of an article; None for a redirect
    redirect: str | None = None
    links: list = field(default_factory=list)


@dataclass(frozen=True)
class Block:
    """One task's share of a dump: a byte range of a multistream file, or a whole file."""

    url: str
    start: int = 0
    end: int | None = None  # None: to the end (a whole file)


def dump_info(url: str) -> dict:
    """The wiki and date a dump's file name carries (``zhwiki-20240501-pages-articles...``)."""
    name = url.rsplit("/", 1)[-1]
    m = _DUMP_NAME.match(name)
    return {"file": name, "wiki": (m["db"] + "wiki") if m else None, "date": m["date"] if m else None}


def index_url(url: str) -> str | None:
    """The multistream index beside a multistream dump, when it is there."""
    from curation.core.io import exists

    if "-multistream" not in url or not url.endswith(".xml.bz2"):
        return None
    candidate = url[: -len(".xml.bz2")] + "-index.txt.bz2"
    return candidate if exists(candidate) else None


def plan_blocks(url: str) -> list[Block]:
    """The blocks of a dump: one per multistream stream (by the index), else the whole file."""
    from curation.core.io import get_fs, read_bytes

    index = index_url(url)
    if index is None:
        return [Block(url)]
    offsets = sorted({int(line.split(":", 1)[0]) for line in bz2.decompress(read_bytes(index)).decode(
        "utf-8", "replace").splitlines() if line.strip()})
    fs, path = get_fs(url)
    size = fs.size(path)
    bounds = offsets + [size]
    # The stream before the first indexed one is the header (siteinfo): read by every block.
    return [Block(url, start, end) for start, end in zip(bounds, bounds[1:]) if end > start]


def read_namespaces(url: str) -> dict[str, int]:
    """Lower-cased namespace name -> number, from the dump's ``<siteinfo>``."""
    return {name.lower(): number for name, number in _namespaces(_head_xml(url))}


def _head_xml(url: str) -> str:
    """The dump's text up to ``</siteinfo>`` (the first stream of a multistream dump)."""
    from curation.core.io import get_fs

    fs, path = get_fs(url)
    with fs.open(path, "rb") as raw:
        reader = bz2.BZ2File(raw) if url.endswith(".bz2") else raw
        text = b""
        while b"</siteinfo>" not in text:
            chunk = reader.read(1 << 16)
            if not chunk:
                break
            text += chunk
    return text.decode("utf-8", "replace").split("</siteinfo>")[0]


def _namespaces(head: str):
    for m in re.finditer(r'<namespace[^>]*key="(-?\d+)"[^>]*>([^<]*)</namespace>', head):
        yield m.group(2), int(m.group(1))


def iter_pages(block: Block, namespaces: dict[str, int]):
    """The articles and redirects of one block, in dump order."""
    from curation.core.io import get_fs

    fs, path = get_fs(block.url)
    try:
        if block.end is not None:
            with fs.open(path, "rb") as f:
                f.seek(block.start)
                data = bz2.decompress(f.read(block.end - block.start))
            text = data.decode("utf-8", "replace")
            if "<page>" not in text:
                return  # the header or the footer stream
            body = "<pages>" + text[text.index("<page>"):].replace("</mediawiki>", "") + "</pages>"
            elements = ET.fromstring(body).iter("page")
            yield from (p for p in (_page(e, "", namespaces) for e in elements) if p is not None)
            return
        with fs.open(path, "rb") as raw:
            stream = bz2.BZ2File(raw) if block.url.endswith(".bz2") else raw
            for _, element in ET.iterparse(stream, events=("end",)):
                if element.tag.rsplit("}", 1)[-1] == "page":
                    ns = element.tag[: element.tag.index("}") + 1] if element.tag.startswith("{") else ""
                    page = _page(element, ns, namespaces)
                    if page is not None:
                        yield page
                    element.clear()
    except (ET.ParseError, OSError, EOFError, ValueError) as exc:
        where = f"bytes {block.start}-{block.end}" if block.end is not None else "the file"
        raise InputError(f"{block.url}: not a MediaWiki XML dump ({where}: {exc})") from None


def _page(element, ns: str, namespaces: dict[str, int]) -> Page | None:
    if (element.findtext(f"{ns}ns") or "").strip() != "0":
        return None
    title = (element.findtext(f"{ns}title") or "").strip()
    redirect = element.find(f"{ns}redirect")
    if redirect is not None:
        return Page(title, redirect=normalise_title(redirect.get("title") or ""))
    wikitext = element.findtext(f"{ns}revision/{ns}text") or ""
    text, links = plain_text(wikitext, namespaces)
    return Page(title, text=text, links=links)


def normalise_title(title: str) -> str:
    """A link target as a page title: no section, spaces for underscores, first letter upper."""
    title = " ".join(title.split("#", 1)[0].replace("_", " ").split())
    return title[:1].upper() + title[1:]


def plain_text(wikitext: str, namespaces: dict[str, int]) -> tuple[str, list[str]]:
    """Prose of one article, and the titles it links to."""
    import mwparserfromhell

    code = mwparserfromhell.parse(wikitext)
    links = []
    for node in code.filter(recursive=False):
        _drop_or_keep(code, node, namespaces, links)
    text = code.strip_code(normalize=True, collapse=True)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line and not line.startswith(("|", "!", "{|", "|}"))), links


def _drop_or_keep(code, node, namespaces: dict[str, int], links: list) -> None:
    from mwparserfromhell.nodes import Comment, Heading, Tag, Template, Wikilink

    if isinstance(node, (Template, Comment)):
        _remove(code, node)
    elif isinstance(node, Heading):
        _remove(code, node)  # section titles ("See also", "References") are not prose
    elif isinstance(node, Tag):
        if str(node.tag).lower() in DROPPED_TAGS or node.wiki_markup in ("{|",):
            _remove(code, node)
        elif node.contents is not None:
            for child in node.contents.filter(recursive=False):
                _drop_or_keep(node.contents, child, namespaces, links)
    elif isinstance(node, Wikilink):
        target = str(node.title).strip()
        prefix = target.lstrip(":").split(":", 1)[0].strip().lower() if ":" in target else ""
        if prefix and (prefix in CANONICAL or namespaces.get(prefix) in DROPPED_NAMESPACES):
            _remove(code, node)
        elif prefix and (prefix in namespaces or _INTERWIKI.match(prefix)):
            _remove(code, node)  # other namespaces (Help:, Wikipedia:, ...) and other languages (fr:)
        else:
            links.append(normalise_title(target))


def _remove(code, node) -> None:
    try:
        code.remove(node)
    except ValueError:
        pass
