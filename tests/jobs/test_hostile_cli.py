"""Hostile inputs through the command line (issue 28's list, the part fixed so far): each ends
in one clear line naming the file, flag or value, or in a warning the data card records;
never a traceback or a silent change of the result."""

import json

import pytest

from jobs import cli
from tests.helpers import make_rows, write_metadata, write_pool


@pytest.fixture
def pool(tmp_path):
    return write_pool(tmp_path / "pool", make_rows(60, seed=3), shards=1)


@pytest.mark.parametrize("args, message", [
    (["metadata", "build", "--bigrams", "b.tsv", "--out", "o.json"], "--bigrams 'b.tsv': needs --unigrams too"),
    (["metadata", "build", "--budget", "0", "--out", "o.json"], "--budget 0: must be an integer >= 1"),
    (["metadata", "build", "--min-bigram-pmi", "nan", "--out", "o.json"], "--min-bigram-pmi nan: must be a finite"),
    (["export", "--curated", "run", "--out", "tars", "--timeout", "1e300"], "--timeout 1e+300: must be at most"),
    (["export", "--curated", "run", "--out", "tars", "--tar-deadline", "1e12"], "--tar-deadline 1000000000000.0"),
    (["export", "--curated", "run", "--out", "tars", "--user-agent", "bot\r\nX-Evil: 1"], "one non-empty line"),
])
def test_bad_values_are_refused_by_their_config(args, message, caplog):
    assert cli.main(args) == 2
    assert message in caplog.text and "Traceback" not in caplog.text


def test_a_metadata_file_with_a_bom_matches_its_first_entry(tmp_path, pool):
    meta = tmp_path / "m.txt"
    meta.write_bytes("\ufeffdog\ncat\n".encode("utf-8"))
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(tmp_path / "o"),
                     "--t", "5"]) == 0
    card = json.loads((tmp_path / "o" / "datacard.json").read_text())
    assert [e["entry"] for e in card["top_entries"]][:1] == ["dog"] and card["top_entries"][0]["count"] > 0


@pytest.mark.parametrize("body", ["dog\n\ncat\n", "dog\n   \n"])
def test_an_empty_line_of_a_text_list_is_refused(tmp_path, pool, caplog, body):
    meta = tmp_path / "m.txt"
    meta.write_text(body)
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(tmp_path / "o")]) == 2
    assert f"metadata {meta}: line 2 is empty or blank" in caplog.text
    assert not (tmp_path / "o" / "matched").exists()


def test_a_blank_entry_of_a_json_list_is_kept_warned_about_and_recorded(tmp_path, pool, caplog):
    meta = write_metadata(tmp_path / "m.json", ["dog", "", "cat"])  # MetaCLIP's lists are JSON: kept as given
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(tmp_path / "o"),
                     "--t", "5"]) == 0
    assert "entries [1] are empty or blank" in caplog.text
    assert json.loads((tmp_path / "o" / "datacard.json").read_text())["metadata_blank_entries"] == [1]


def test_duplicate_metadata_entries_are_warned_about_and_recorded(tmp_path, pool, caplog):
    meta = write_metadata(tmp_path / "m.json", ["dog", "cat", "dog"])
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(tmp_path / "o"),
                     "--t", "5"]) == 0
    assert "1 entries are listed more than once ('dog')" in caplog.text
    card = json.loads((tmp_path / "o" / "datacard.json").read_text())
    assert card["metadata_duplicates"] == {"entries": 1, "examples": ["dog"]}
    import pyarrow.parquet as pq

    counts = pq.read_table(tmp_path / "o" / "entry_counts.parquet")["count"].to_pylist()
    assert counts[0] == counts[2] > 0  # each copy keeps its id, matches and counts
