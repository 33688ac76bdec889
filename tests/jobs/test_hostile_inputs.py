"""Issue 28's remaining hostile inputs through the command line, as a table, and hypothesis
over metadata files and YAML configs: each case ends in one clear line naming the file, key
or value (exit 2), or runs with a warning (and a data-card record where it changes the
result); never a traceback, a hang or a silent change."""

import io
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from curation.core.errors import CurationError
from curation.export.images import ResizeOptions, prepare
from jobs import cli
from tests.helpers import write_metadata


def png(size=(8, 8), fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "red").save(buf, format=fmt)
    return buf.getvalue()


def table(**columns) -> pa.Table:
    n = len(next(iter(columns.values())))
    return pa.table({"url": [None] * n, **columns})


def write(folder, name, t):
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(t, folder / name)


def damaged_page(folder):
    """A shard whose data page was altered after it was written with page checksums."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = [f"a dog number {i}" for i in range(500)]
    pq.write_table(pa.table({"text": texts}), folder / "p.parquet", compression="NONE", write_page_checksum=True)
    data = bytearray((folder / "p.parquet").read_bytes())
    at = data.find(b"a dog number 300")
    data[at:at + 5] = b"XXXXX"
    (folder / "p.parquet").write_bytes(bytes(data))


def image_of_text(folder):
    write(folder, "p.parquet", table(text=["a dog"], image=["/photos/dog.jpg"]))


def dangling_link(folder):
    write(folder, "p.parquet", table(text=["a dog"]))
    os.symlink(folder / "nowhere.parquet", folder / "q.parquet")


# (name, how the pool is made, extra flags, message in the log)
REFUSED = [
    ("an image column of text", image_of_text, [], "column 'image' has type string, expected binary"),
    ("a damaged data page", damaged_page, [], "CRC checksum verification failed"),
    ("a symbolic link to nothing", dangling_link, [], "q.parquet: a symbolic link to nothing"),
    ("a text column no shard has", lambda f: write(f, "p.parquet", table(text=["a dog"])),
     ["--text-column", "caption"], "no text column 'caption'"),
]


@pytest.mark.parametrize("name, make, flags, message", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_with_one_clear_line(tmp_path, caplog, name, make, flags, message):
    make(tmp_path / "pool")
    meta = write_metadata(tmp_path / "m.json", ["dog"])
    assert cli.main(["curate", "--pool", str(tmp_path / "pool"), "--metadata", str(meta), "--out",
                     str(tmp_path / "run"), *flags]) == 2
    assert message in caplog.text and "Traceback" not in caplog.text


def test_a_list_map_to_a_missing_list_is_refused(tmp_path, caplog):
    write(tmp_path / "pool", "p.parquet", table(text=["a dog", "un chien"], lang=["en", "fr"]))
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "en.json").write_text('["dog"]')
    (tmp_path / "map.json").write_text('{"fr": "french"}')
    assert cli.main(["curate", "--pool", str(tmp_path / "pool"), "--metadata", str(tmp_path / "lists"),
                     "--lang-map", str(tmp_path / "map.json"), "--out", str(tmp_path / "run")]) == 2
    assert "no list for 'fr' -> 'french'" in caplog.text and "(lists: en)" in caplog.text


def test_linked_shards_are_read_and_other_files_named(tmp_path, caplog):
    outside = tmp_path / "elsewhere"
    write(outside, "shard.parquet", table(text=["a dog", "a dog again"]))
    write(tmp_path / "pool", "p.parquet", table(text=["a dog"]))
    os.symlink(outside / "shard.parquet", tmp_path / "pool" / "linked.parquet")
    for name in ("x.JSONL", "y.ndjson", "z.csv"):
        (tmp_path / "pool" / name).write_text('{"text": "a dog"}\n')
    meta = write_metadata(tmp_path / "m.json", ["dog"])
    assert cli.main(["curate", "--pool", str(tmp_path / "pool"), "--metadata", str(meta), "--out",
                     str(tmp_path / "run"), "--t", "10"]) == 0
    card = json.loads((tmp_path / "run" / "datacard.json").read_text())
    assert card["pool_rows"] == 3 and card["pool_files_not_read"] == ["x.JSONL", "y.ndjson", "z.csv"]
    assert "3 file(s) not read as pool shards" in caplog.text and "x.JSONL, y.ndjson, z.csv" in caplog.text


def test_pass_through_columns_of_differing_types_are_exported_as_text(tmp_path, caplog):
    write(tmp_path / "pool", "a.parquet", table(key=["a"], text=["a dog"], image=[png()], extra=[1]))
    write(tmp_path / "pool", "b.parquet", table(key=["b"], text=["a dog"], image=[png()], extra=["x"]))
    meta = write_metadata(tmp_path / "m.json", ["dog"])
    assert cli.main(["curate", "--pool", str(tmp_path / "pool"), "--metadata", str(meta), "--out",
                     str(tmp_path / "run"), "--t", "10"]) == 0
    assert cli.main(["export", "--curated", str(tmp_path / "run"), "--out", str(tmp_path / "tars")]) == 0
    assert "column extra differs in type between curated shards (extra: int64, string)" in caplog.text
    assert json.loads((tmp_path / "tars" / "sizes.json").read_text()) == {"00000.tar": 2}
    assert json.loads((tmp_path / "tars" / "export_stats.json").read_text())["columns_as_text"] == ["extra"]
    card = json.loads((tmp_path / "run" / "datacard.json").read_text())
    assert card["exports"][str(tmp_path / "tars")]["columns_as_text"] == ["extra"]


def test_image_ids_naming_several_urls_are_warned_about_and_recorded(tmp_path, caplog):
    write(tmp_path / "pool", "a.parquet", pa.table({"key": ["k1", "k2"], "url": ["http://a/1", "http://a/2"],
                                                    "text": ["a dog", "a dog"]}))
    write(tmp_path / "pool", "b.parquet", pa.table({"key": ["k1", "k3"], "url": ["http://b/1", "http://b/3"],
                                                    "text": ["a dog too", "a dog"]}))
    meta = write_metadata(tmp_path / "m.json", ["dog"])
    assert cli.main(["curate", "--pool", str(tmp_path / "pool"), "--metadata", str(meta), "--out",
                     str(tmp_path / "run"), "--t", "10"]) == 0
    card = json.loads((tmp_path / "run" / "datacard.json").read_text())
    assert card["image_id_url_collisions"] == {"images": 1, "examples": ["k1"]}
    assert "1 image ids (key: k1) name more than one url" in caplog.text


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "ICO", "TGA", "PCX", "PPM"])
def test_formats_the_training_loader_skips_are_written_as_png(fmt):
    out = prepare(png((16, 16), fmt), ResizeOptions())
    assert out.status == "ok" and out.ext == "png" and out.info == {"converted_from": fmt}
    assert Image.open(io.BytesIO(out.data)).format == "PNG"


def test_resize_never_passes_the_pixel_limit():
    out = prepare(png((1, 1)), ResizeOptions(size=12_000), max_pixels=1_000_000)
    assert out.status == "ok" and out.width * out.height <= 1_000_000


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    from curation.export.fetch import Fetcher
    from curation.export.policy import FetchOptions

    os.mkfifo(tmp_path / "fifo")
    fetcher = Fetcher(FetchOptions(allow_local_files=True))
    try:
        got = fetcher.fetch(str(tmp_path / "fifo"))
    finally:
        fetcher.close()
    assert (got.status, got.error) == ("refused", f"{tmp_path / 'fifo'}: not a regular file")


# -- hypothesis: metadata files and YAML configs ------------------------------------------------

entries = st.lists(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12), max_size=8)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=entries, form=st.sampled_from(["json", "txt", "bom-txt", "crlf-txt", "broken-json", "json-object"]))
def test_any_metadata_file_loads_or_is_refused_clearly(tmp_path, items, form):
    from curation.matching.metadata_io import load_metadata

    path = tmp_path / ("m.json" if "json" in form else "m.txt")
    if form == "json":
        path.write_text(json.dumps(items))
    elif form == "broken-json":
        path.write_text(json.dumps(items)[:-1])
    elif form == "json-object":
        path.write_text(json.dumps({"entries": items}))
    else:
        body = ("\r\n" if form == "crlf-txt" else "\n").join(items)
        path.write_bytes((("\ufeff" if form == "bom-txt" else "") + body).encode("utf-8"))
    try:
        metadata = load_metadata(str(path))
    except CurationError as exc:
        assert str(path) in str(exc)
        return
    assert all(isinstance(e, str) for e in metadata.entries)
    assert not any(e.startswith("\ufeff") for e in metadata.entries)
    if form.endswith("txt"):  # a blank entry of a JSON list is kept (MetaCLIP's format), warned about
        assert all(e.strip() for e in metadata.entries)


scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=8), st.lists(st.integers(), max_size=2), st.dictionaries(
                        st.text(max_size=3), st.integers(), max_size=2))
SECTION_KEYS = {"match": ["pool", "metadata", "out", "text_column", "variant", "min_quality"],
                "balance": ["t", "seed", "unit", "overwrite"], "spark": ["master", "conf"],
                "executor": ["executor", "workers"], "bogus": ["x"]}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=st.dictionaries(st.sampled_from(sorted(SECTION_KEYS)), st.dictionaries(
    st.sampled_from(sorted({k for keys in SECTION_KEYS.values() for k in keys})), scalars, max_size=4), max_size=3))
def test_any_yaml_config_runs_or_is_refused_clearly(tmp_path, config):
    import yaml

    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    # The pool does not exist: a config that passes every check still ends in a clear error.
    code = cli.main(["curate", "--config", str(path), "--pool", str(tmp_path / "no-pool"), "--metadata",
                     str(tmp_path / "no-meta.json"), "--out", str(tmp_path / "out"), "--executor", "local"])
    assert code == 2
