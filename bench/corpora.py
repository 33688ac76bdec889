"""Real text in many languages, from packages on PyPI, fetched once into ``.bench/corpora/``:

- sentences: the translation catalogs (``.po``) that ship in Django's and Sphinx's wheels
  (about 100 languages, UI strings and messages written by people), and Wagtail's and
  django-allauth's for the worldwide lists' held-out comparison (more text per language,
  Thai included);
- Thai words and Wikipedia titles from PyThaiNLP's corpus (wordfreq has no Thai), and the
  Thai National Corpus's word frequencies that PyThaiNLP ships.
"""

import re
import subprocess
import sys
import zipfile
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPORA = REPO / ".bench" / "corpora"
WHEELS = {"django": "django==5.2.19",  # the last series that installs on Python 3.11
          "sphinx": "sphinx==8.1.3", "pythainlp": "pythainlp==5.4.0",
          "clip_benchmark": "clip-benchmark==1.6.2",  # class names and prompts in many languages
          "wagtail": "wagtail==8.0.1", "django_allauth": "django-allauth==65.22.1"}
# The catalogs behind the worldwide lists' held-out comparison, and each language's catalog
# names in them (Sphinx names Simplified Chinese zh_CN, the others zh_Hans). English is the
# source strings (msgid) of the German catalogs.
WIDE_PACKAGES = ("django", "sphinx", "wagtail", "django_allauth")
CATALOG_NAMES = {"zh": ("zh_Hans", "zh_CN"), "ja": ("ja",), "th": ("th",), "de": ("de",), "fr": ("fr",)}
_PLACEHOLDER = re.compile(r"%(\([^)]*\))?[-#0 +]*\d*(\.\d+)?[sdifr%]|\{[^}]*\}")


def wheel(name: str) -> Path:
    """The wheel of package ``name`` (one of ``WHEELS``), downloaded on first use."""
    pattern = f"{name}-*.whl"
    found = sorted(p for p in CORPORA.glob("*.whl") if p.name.lower().startswith(f"{name}-"))
    if not found:
        CORPORA.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", WHEELS[name], "-d", str(CORPORA)],
                       check=True)
        found = sorted(p for p in CORPORA.glob("*.whl") if p.name.lower().startswith(f"{name}-"))
    if not found:
        raise FileNotFoundError(f"no {pattern} in {CORPORA}")
    return found[-1]


def _po_strings(text: str) -> list[str]:
    """The translated strings (``msgstr`` and ``msgstr[n]``) of one ``.po`` catalog."""
    from curation.quality.fit import po_translations

    return po_translations(text)


def _clean(message: str) -> str:
    """A UI string as a caption would read: placeholders and markup removed, one line."""
    message = _PLACEHOLDER.sub("", message)
    message = re.sub(r"<[^>]+>", "", message)
    return " ".join(message.split())


@lru_cache(maxsize=2)
def po_sentences(packages: tuple[str, ...] = ("django",)) -> dict[str, list[str]]:
    """Language code (as the catalogs name it, e.g. ``zh_Hans``, ``pt_BR``) to its distinct
    translated strings of at least two characters; the header entries are skipped."""
    by_lang: dict[str, list[str]] = {}
    for package in packages:
        with zipfile.ZipFile(wheel(package)) as archive:
            for name in sorted(n for n in archive.namelist() if n.endswith(".po") and "/locale/" in n):
                lang = name.split("/locale/")[1].split("/")[0]
                for message in _po_strings(archive.read(name).decode("utf-8", errors="replace")):
                    message = _clean(message)
                    if len(message) >= 2 and "Content-Type:" not in message and "Project-Id" not in message:
                        by_lang.setdefault(lang, []).append(message)
    return {lang: list(dict.fromkeys(msgs)) for lang, msgs in by_lang.items()}


def thai_entries() -> list[str]:
    """PyThaiNLP's Thai word list and Thai Wikipedia titles, distinct, in that order."""
    with zipfile.ZipFile(wheel("pythainlp")) as archive:
        lines = []
        for name in ("pythainlp/corpus/words_th.txt", "pythainlp/corpus/wikipedia_titles_th.txt"):
            lines += archive.read(name).decode("utf-8").splitlines()
    return list(dict.fromkeys(line.strip() for line in lines if line.strip()))


@lru_cache(maxsize=16)
def catalog_sentences(lang: str, packages: tuple[str, ...] = ("django",)) -> tuple[str, ...]:
    """The distinct strings of ``lang`` in the catalogs of ``packages`` (``po_sentences``, its
    catalog names in ``CATALOG_NAMES`` order); English (``en``) is the source strings of the
    German catalogs."""
    if lang != "en":
        by_code = po_sentences(packages)
        return tuple(dict.fromkeys(s for code in CATALOG_NAMES.get(lang, (lang,)) for s in by_code.get(code, ())))
    found = []
    for package in packages:
        with zipfile.ZipFile(wheel(package)) as archive:
            for name in sorted(n for n in archive.namelist() if n.endswith(".po") and "/locale/de/" in n):
                text = archive.read(name).decode("utf-8", "replace")
                found += [_clean(m) for m in re.findall(r'^msgid "(.+)"$', text, re.MULTILINE)]
    return tuple(dict.fromkeys(s for s in found if len(s) >= 2))


def frequent_words(lang: str, n: int) -> list[str]:
    """A language's ``n`` most frequent words from a general frequency list: wordfreq's, or
    for Thai (which wordfreq lacks) the Thai National Corpus's counts that PyThaiNLP ships
    (ties by the word)."""
    if lang != "th":
        from wordfreq import top_n_list

        return top_n_list(lang, n)
    with zipfile.ZipFile(wheel("pythainlp")) as archive:
        lines = archive.read("pythainlp/corpus/tnc_freq.txt").decode("utf-8").splitlines()
    rows = [line.split("\t") for line in lines if "\t" in line]
    return [w for w, _ in sorted(((w, int(c)) for w, c in rows), key=lambda r: (-r[1], r[0]))[:n]]
