"""Metadata lists: JSON list or one entry a line; anything else is a clear error."""

import hashlib

import pytest

from curation.core.errors import InputError
from curation.matching.metadata_io import load_metadata


def test_json_and_text_lists(tmp_path):
    (tmp_path / "m.json").write_text('["dog", "hot dog", "猫"]', encoding="utf-8")
    (tmp_path / "m.txt").write_text("dog\nhot dog\r\n猫\n", encoding="utf-8")
    a, b = load_metadata(str(tmp_path / "m.json")), load_metadata(str(tmp_path / "m.txt"))
    assert a.entries == b.entries == ["dog", "hot dog", "猫"]
    assert a.sha256 == hashlib.sha256((tmp_path / "m.json").read_bytes()).hexdigest()


@pytest.mark.parametrize("content, message", [
    ('{"a": 1}', "expected a JSON list of strings, got dict"),
    ('["a", 3]', "entry 1 is int 3, not a string"),
    ('["a", ', "invalid JSON"),
])
def test_bad_metadata_is_named(tmp_path, content, message):
    path = tmp_path / "m.json"
    path.write_text(content)
    with pytest.raises(InputError, match=f"m.json: {message}"):
        load_metadata(str(path))


def test_missing_metadata_file(tmp_path):
    with pytest.raises(InputError, match="nope.json: file not found"):
        load_metadata(str(tmp_path / "nope.json"))
