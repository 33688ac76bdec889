"""Write the inputs of the shipped quality weights (``make quality-weights``) into a folder:

- ``openclipart-names.txt``: the file names of Debian's ``openclipart-png`` images, one a
  line (``jigsaw_green_09.png``): real file-name alt-texts, the junk the filters target;
- ``django-<lang>/``: the ``.po`` catalogs of Django's wheel for each language (real
  sentences written by people), the reference corpora of languages other than English
  (English uses WordNet's glosses).

    python sample/make_quality_inputs.py build/quality de fr es
"""

import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
OPENCLIPART = Path("/usr/share/openclipart/png")


def main(out: str, langs: list[str]) -> None:
    from bench.corpora import wheel

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    if not OPENCLIPART.is_dir():
        sys.exit(f"error: {OPENCLIPART} missing; install openclipart-png (Debian: apt-get install openclipart-png)")
    names = sorted(p.name for p in OPENCLIPART.rglob("*.png"))
    (folder / "openclipart-names.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    with zipfile.ZipFile(wheel("django")) as archive:
        for lang in langs:
            target = folder / f"django-{lang}"
            target.mkdir(exist_ok=True)
            for name in sorted(archive.namelist()):
                if name.endswith(".po") and f"/locale/{lang}/LC_MESSAGES/" in name:
                    flat = name.split("/locale/")[0].replace("/", "-") + ".po"
                    (target / flat).write_bytes(archive.read(name))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
