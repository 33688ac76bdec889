"""The report for the bundled sample: valid PNG plots, and tables equal to the data card."""

import io
import json
import struct
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from jobs import cli
from tests.helpers import write_metadata, write_pool

REPO = Path(__file__).resolve().parents[2]


class Tables(HTMLParser):
    """Collects every table as rows of cell texts, and every <img src>."""

    def __init__(self):
        super().__init__()
        self.tables, self.images, self._cell = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


def number(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.fixture(scope="module")
def sample_run(executor, tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "out"
    assert cli.main(["curate", "--pool", str(REPO / "sample" / "pool"), "--metadata",
                     str(REPO / "metadata" / "default" / "metadata.json"), "--out", str(out), "--t", "100"]) == 0
    return out


def test_report_plots_are_valid_pngs(sample_run):
    page = Tables()
    page.feed((sample_run / "report.html").read_text())
    assert {Path(src).name for src in page.images} == {"accounting.png", "rank.png", "matches_per_text.png",
                                                       "sources.png"}
    for src in page.images:
        path = sample_run / src
        width, height = png_size(path)
        assert 300 <= width <= 2000 and 200 <= height <= 1500, (src, width, height)
        assert path.stat().st_size > 5000


def test_report_tables_equal_the_data_card(sample_run):
    card = json.loads((sample_run / "datacard.json").read_text())
    page = Tables()
    page.feed((sample_run / "report.html").read_text())
    summary, top, tail, sources, lineage = page.tables
    values = {row[0]: row[1] for row in summary[1:]}
    for key in ("pool_rows", "matched_rows", "unmatched_rows", "rejected_rows", "curated_rows", "entries",
                "entries_matched", "entries_above_t"):
        assert number(values[key.replace("_", " ")]) == card[key]
    assert abs(number(values["tail proportion"]) - card["tail_proportion"]) < 1e-3
    assert [[int(number(r[0])), r[1], int(number(r[2])), number(r[3]), int(number(r[4]))] for r in top[1:]] == \
        [[e["entry_id"], e["entry"], e["count"], e["expected_after"], e["curated"]] for e in card["top_entries"]]
    assert all(0 < number(r[2]) <= card["t"] for r in tail[1:]) and len(tail) > 1
    assert [[r[0], number(r[3]), number(r[4])] for r in sources[1:]] == \
        [[s["source"], s["matches"], s["curated_matches"]] for s in card["sources"]]
    assert sum(s["matches"] for s in card["sources"]) == card["matches"]
    assert dict(lineage[1:])["metadata_sha256"] == card["metadata_sha256"]


def test_sample_grid_when_images_exist(executor, tmp_path):
    rows = []
    for i, color in enumerate(["red", "green", "blue"]):
        buf = io.BytesIO()
        Image.new("RGB", (300, 200), color).save(buf, format="PNG")
        rows.append({"url": f"u{i}", "text": f"a {color} car", "image": buf.getvalue()})
    rows.append({"url": "u9", "text": "a broken car", "image": b"not an image"})
    pool = write_pool(tmp_path / "pool", rows)
    meta = write_metadata(tmp_path / "m.json", ["car", "red"])
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(tmp_path / "o"),
                     "--t", "10"]) == 0
    thumbs = sorted((tmp_path / "o" / "report").glob("sample_*.png"))
    assert len(thumbs) == 3
    assert max(png_size(thumbs[0])) == 128
    assert "a green car" in (tmp_path / "o" / "report.html").read_text()
