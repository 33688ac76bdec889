"""Small Wikipedia dumps in MediaWiki's export format, built from real sentences (a
translation catalog's strings): multistream ``.xml.bz2`` with its index, or one plain
``.xml.bz2``; articles with templates, references, tables, files, categories and links;
redirect pages; a talk page (namespace 1) that must be skipped."""

import bz2
import random
from xml.sax.saxutils import escape, quoteattr

HEADER = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" xml:lang="{lang}">
  <siteinfo>
    <sitename>Wikipedia</sitename>
    <dbname>{lang}wiki</dbname>
    <namespaces>
      <namespace key="0" case="first-letter" />
      <namespace key="1" case="first-letter">Talk</namespace>
      <namespace key="4" case="first-letter">Wikipedia</namespace>
      <namespace key="6" case="first-letter">{file}</namespace>
      <namespace key="10" case="first-letter">Template</namespace>
      <namespace key="14" case="first-letter">{category}</namespace>
    </namespaces>
  </siteinfo>
"""
FOOTER = "</mediawiki>\n"
# Each language's own File: and Category: names, as its dump declares them.
NAMES = {"en": ("File", "Category"), "zh": ("File", "Category"), "ja": ("ファイル", "カテゴリ"),
         "th": ("ไฟล์", "หมวดหมู่"), "de": ("Datei", "Kategorie")}
MARKUP = ("{{", "}}", "[[", "]]", "<ref", "</", "wikitable", "thumb", "Infobox", "cite", "Category", "File:")


def page_xml(title: str, ns: int, text: str | None = None, redirect: str | None = None, page_id: int = 1) -> str:
    redirect_tag = f"    <redirect title={quoteattr(redirect)} />\n" if redirect else ""
    body = f"#REDIRECT [[{redirect}]]" if redirect else text
    return (f"  <page>\n    <title>{escape(title)}</title>\n    <ns>{ns}</ns>\n    <id>{page_id}</id>\n{redirect_tag}"
            f"    <revision>\n      <id>{page_id}</id>\n      <timestamp>2024-05-01T00:00:00Z</timestamp>\n"
            f"      <text bytes=\"{len(body)}\" xml:space=\"preserve\">{escape(body)}</text>\n    </revision>\n"
            f"  </page>\n")


def wiki_pages(lang: str, titles: list[str], sentences: list[str], seed: int = 0) -> tuple[list, list[str]]:
    """Articles (one per title, the sentences shared out among them, marked up), one redirect
    per fifth article (``Alias <n>``), a talk page; and the redirect titles."""
    rng = random.Random(seed)
    file_ns, category_ns = NAMES.get(lang, ("File", "Category"))
    pages, redirects = [], []
    per_page = max(4, -(-len(sentences) // len(titles)))
    for i, title in enumerate(titles):
        chunk = sentences[per_page * i: per_page * (i + 1)]
        # Four places in the article's markup; the rest of its sentences go into the last.
        body = (chunk[:3] + [" ".join(chunk[3:])] if len(chunk) > 3 else chunk) + [""] * 4
        links = rng.sample(titles, min(3, len(titles)))
        alias = f"Alias {i - i % 5}" if i >= 5 else None
        text = (f"{{{{Infobox thing|name={title}|image=Example.jpg|caption=Not prose}}}}\n"
                f"'''{title}''' {body[0]} [[{links[0]}]] {body[1]}"
                f"<ref>{{{{cite web|url=http://example.org|title=A reference title}}}}</ref>\n"
                f"== Section ==\n{body[2]} [[{links[1]}|{links[1]}]] "
                f"[[{alias or links[2]}|{links[2]}]]\n"
                "{| class=\"wikitable\"\n|-\n! Header cell !! Other\n|-\n| Table cell || 42\n|}\n"
                f"[[{file_ns}:Example.jpg|thumb|A file caption]]\n{body[3]}\n"
                f"[[{category_ns}:Things]]\n[[fr:Chose]]\n")
        pages.append(("article", title, text))
        if i % 5 == 0:
            redirects.append(f"Alias {i}")
            pages.append(("redirect", f"Alias {i}", title))
    pages.append(("talk", f"Talk:{titles[0]}", "Talk page text that is not an article."))
    return pages, redirects


def write_dump(folder, lang: str, pages: list, multistream: bool = True, per_stream: int = 3) -> str:
    """Write ``<lang>wiki-20240501-pages-articles[-multistream].xml.bz2`` (and its index);
    returns the dump's path."""
    head = HEADER.format(lang=lang, file=NAMES.get(lang, ("File",))[0], category=NAMES.get(lang, ("", "Category"))[1])
    xml_pages = []
    for n, (kind, title, value) in enumerate(pages, start=1):
        if kind == "article":
            xml_pages.append((n, title, page_xml(title, 0, value, page_id=n)))
        elif kind == "redirect":
            xml_pages.append((n, title, page_xml(title, 0, redirect=value, page_id=n)))
        else:
            xml_pages.append((n, title, page_xml(title, 1, value, page_id=n)))
    name = f"{lang}wiki-20240501-pages-articles{'-multistream' if multistream else ''}.xml.bz2"
    path = folder / name
    if not multistream:
        path.write_bytes(bz2.compress((head + "".join(x for _, _, x in xml_pages) + FOOTER).encode("utf-8")))
        return str(path)
    streams, index = [bz2.compress(head.encode("utf-8"))], []
    offset = len(streams[0])
    for i in range(0, len(xml_pages), per_stream):
        chunk = xml_pages[i:i + per_stream]
        data = bz2.compress("".join(x for _, _, x in chunk).encode("utf-8"))
        index += [f"{offset}:{n}:{title}" for n, title, _ in chunk]
        streams.append(data)
        offset += len(data)
    streams.append(bz2.compress(FOOTER.encode("utf-8")))
    path.write_bytes(b"".join(streams))
    (folder / name.replace(".xml.bz2", "-index.txt.bz2")).write_bytes(bz2.compress(("\n".join(index) + "\n")
                                                                                 .encode("utf-8")))
    return str(path)
