"""Real sentences in many languages, offline: the translation catalogs (``.po``) that ship in
Django's wheel (about 100 languages, UI strings written by people), fetched once from the
package registry into ``.bench/corpora/``, and WordNet's glosses for English.
"""

import ast
import re
import subprocess
import sys
import zipfile
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPORA = REPO / ".bench" / "corpora"
DJANGO = "django==5.2.19"  # the last series that installs on Python 3.11
_PLACEHOLDER = re.compile(r"%(\([^)]*\))?[-#0 +]*\d*(\.\d+)?[sdifr%]|\{[^}]*\}")


def _django_wheel() -> Path:
    found = sorted(CORPORA.glob("[Dd]jango-*.whl"))
    if not found:
        CORPORA.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", DJANGO, "-d", str(CORPORA)],
                       check=True)
        found = sorted(CORPORA.glob("[Dd]jango-*.whl"))
    return found[-1]


def _po_strings(text: str) -> list[str]:
    """The translated strings (``msgstr`` and ``msgstr[n]``) of one ``.po`` catalog."""
    out, current, in_msgstr = [], [], False
    for line in text.splitlines() + [""]:
        line = line.strip()
        if line.startswith("msgstr"):
            if current:
                out.append("".join(current))
            current, in_msgstr = [_unquote(line.split(" ", 1)[1])], True
        elif line.startswith('"') and in_msgstr:
            current.append(_unquote(line))
        else:
            if in_msgstr and current:
                out.append("".join(current))
            current, in_msgstr = [], False
    return out


def _unquote(quoted: str) -> str:
    try:
        return ast.literal_eval(quoted)
    except (ValueError, SyntaxError):
        return ""


def _clean(message: str) -> str:
    """A UI string as a caption would read: placeholders and markup removed, one line."""
    message = _PLACEHOLDER.sub("", message)
    message = re.sub(r"<[^>]+>", "", message)
    return " ".join(message.split())


@lru_cache(maxsize=1)
def po_sentences() -> dict[str, list[str]]:
    """Language code (Django's, e.g. ``zh_Hans``, ``pt_BR``) to its distinct translated
    strings of at least two characters; the header entries are skipped."""
    by_lang: dict[str, list[str]] = {}
    with zipfile.ZipFile(_django_wheel()) as wheel:
        for name in sorted(n for n in wheel.namelist() if n.endswith(".po")):
            lang = name.split("/locale/")[1].split("/")[0]
            for message in _po_strings(wheel.read(name).decode("utf-8", errors="replace")):
                message = _clean(message)
                if len(message) >= 2 and "Content-Type:" not in message and "Project-Id" not in message:
                    by_lang.setdefault(lang, []).append(message)
    return {lang: list(dict.fromkeys(msgs)) for lang, msgs in by_lang.items()}
