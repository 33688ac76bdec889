"""Write the inputs of the shipped quality weights (``make quality-weights``) into a folder:
``django-<lang>/``, the ``.po`` catalogs of Django's wheel for each language (real sentences
written by people), the descriptive half of the fit for languages other than English (English
uses WordNet's glosses and lemmas). The junk half is generated (``curation.quality.junk``).
Openclipart and clip-benchmark are kept out of the fit: they are the held-out evaluation
(``bench.quality_eval``).

    python sample/make_quality_inputs.py build/quality de fr es zh
"""

import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# Django's locale folder of a language whose code is not the folder's name.
LOCALES = {"zh": "zh_Hans"}


def main(out: str, langs: list[str]) -> None:
    from bench.corpora import wheel

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel("django")) as archive:
        for lang in langs:
            target = folder / f"django-{lang}"
            target.mkdir(exist_ok=True)
            for name in sorted(archive.namelist()):
                if name.endswith(".po") and f"/locale/{LOCALES.get(lang, lang)}/LC_MESSAGES/" in name:
                    flat = name.split("/locale/")[0].replace("/", "-") + ".po"
                    (target / flat).write_bytes(archive.read(name))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
