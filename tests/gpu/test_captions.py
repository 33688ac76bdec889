"""Synthetic captions end to end on the CPU: curate with --min-quality, caption with the
tiny CoCa, import captions from another captioner, export with --captions, and train with a
caption mix; the mix itself (CaptionMixer) is checked for its rate, epochs and reruns."""

import html
import json

import pyarrow.parquet as pq
import pytest

from curation.export.online import CaptionMixer
from curation.gpu.tars import iter_samples
from jobs import cli
from tests.gpu.test_gpu_stages import COLORS, square
from tests.helpers import write_metadata, write_pool

JUNK = ["DSC_{i:04d}.jpg", "IMG_{i:04d}", "click here"]


def junk(i: int) -> str:
    return JUNK[(i // 3) % 3].format(i=i)


@pytest.fixture(scope="module")
def captioned(executor, tmp_path_factory):
    """48 colour squares: each with a descriptive alt-text, a third also with a junk one
    (same key); curated with --min-quality, captioned with coca-tiny, exported with captions."""
    root = tmp_path_factory.mktemp("captions")
    rows = []
    for i in range(12):
        for name, rgb in COLORS.items():
            key = f"{name}-{i:02d}"
            rows.append({"key": key, "url": None, "text": f"a photo of a {name} square", "image": square(rgb, i)})
            if i % 3 == 0:
                rows.append({"key": key, "url": None, "text": junk(i), "image": square(rgb, i)})
    write_pool(root / "pool", rows, shards=2)
    write_metadata(root / "meta.json", ["photo", "square", "DSC", "IMG", "click", *COLORS])
    assert cli.main(["curate", "--pool", str(root / "pool"), "--metadata", str(root / "meta.json"), "--out",
                     str(root / "run"), "--t", "1000", "--min-quality", "0.99"]) == 0
    assert cli.main(["caption", "--curated", str(root / "run"), "--out", str(root / "caps"), "--batch-size", "16",
                     "--max-tokens", "12"]) == 0
    assert cli.main(["export", "--curated", str(root / "run"), "--out", str(root / "shards"),
                     "--samples-per-tar", "20", "--captions", str(root / "caps")]) == 0
    return root


def test_min_quality_is_its_own_count_and_junk_never_reaches_curated(captioned):
    card = json.loads((captioned / "run" / "datacard.json").read_text())
    # --min-quality filters the matched rows (after match, before count): the junk that matched
    # an entry is dropped as low quality, the junk that matched nothing is unmatched.
    assert card["min_quality"] == 0.99 and card["low_quality_rows"] > 0
    assert card["pool_rows"] == card["matched_rows"] + card["unmatched_rows"] + card["rejected_rows"] == 64
    assert card["matched_rows"] == card["low_quality_rows"] + card["balance_input_rows"]
    curated = pq.read_table(captioned / "run" / "curated").to_pylist()
    assert len(curated) == 48 and all(r["text"].startswith("a photo of") for r in curated)
    assert all(r["quality"] >= 0.99 for r in curated)
    junk_texts = {junk(i) for i in range(0, 12, 3)}
    matched = pq.read_table(captioned / "run" / "matched").to_pylist()
    matched_junk = [r["text"] for r in matched if r["text"] in junk_texts]
    low = pq.read_table(captioned / "run" / "min_quality" / "_dropped").to_pylist()
    assert sorted(r["text"] for r in low) == sorted(matched_junk) and len(low) == card["low_quality_rows"]
    assert all(r["reason"] == "low_quality" and r["quality"] < 0.99 for r in low)


def test_caption_writes_one_caption_per_curated_image_and_is_reproducible(captioned, tmp_path, capsys):
    caps = pq.read_table(captioned / "caps").to_pylist()
    assert len(caps) == 48 and {r["status"] for r in caps} == {"ok"} and all(r["caption"] for r in caps)
    assert all(r["text"].startswith("a photo of") for r in caps)
    assert cli.main(["caption", "--curated", str(captioned / "run"), "--out", str(tmp_path / "again"),
                     "--batch-size", "7", "--max-tokens", "12"]) == 0
    again = pq.read_table(tmp_path / "again").to_pylist()
    assert [(r["key"], r["caption"]) for r in again] == [(r["key"], r["caption"]) for r in caps]
    card = json.loads((captioned / "run" / "datacard.json").read_text())
    assert card["captions"][str(captioned / "caps")]["captioned"] == 48
    capsys.readouterr()
    assert cli.main(["status", "--out", str(captioned / "caps")]) == 0
    assert json.loads(capsys.readouterr().out)["caption"]["complete"] is True
    assert cli.main(["report", "--out", str(captioned / "run")]) == 0
    page = (captioned / "run" / "report.html").read_text()
    assert "Synthetic captions" in page and html.escape(caps[0]["caption"]) in page


def test_prompted_captions_continue_the_alt_text(captioned, tmp_path):
    assert cli.main(["caption", "--curated", str(captioned / "run"), "--out", str(tmp_path / "prompted"),
                     "--prompt", "--max-tokens", "14"]) == 0
    caps = pq.read_table(tmp_path / "prompted").to_pylist()
    assert len(caps) == 48 and sum(1 for r in caps if r["caption"]) >= 40
    assert not any(r["caption"] and r["caption"].startswith("a photo of") for r in caps)


def test_export_writes_syn_txt_beside_txt(captioned):
    caps = {r["key"]: r["caption"] for r in pq.read_table(captioned / "caps").to_pylist()}
    samples = [s for tar in sorted((captioned / "shards").glob("*.tar")) for s in iter_samples(str(tar))]
    assert len(samples) == 48
    assert all(s["syn.txt"] == caps[s["json"]["key"]] and s["txt"].startswith("a photo of") for s in samples)
    stats = json.loads((captioned / "shards" / "export_stats.json").read_text())
    assert stats["captions"] == {"with_caption": 48, "without_caption": 0}


def test_imported_captions_are_laid_out_and_unknown_keys_reported(captioned, tmp_path, capsys):
    lines = [{"key": f"red-{i:02d}", "caption": f"red square number {i}"} for i in range(12)]
    lines += [{"key": "no-such-image", "caption": "x"}, {"key": "red-00", "caption": "a second caption"},
              {"key": None, "url": None, "caption": "no key"}]
    (tmp_path / "caps.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n{not json\n")
    capsys.readouterr()
    assert cli.main(["captions", "import", "--in", str(tmp_path / "caps.jsonl"), "--curated",
                     str(captioned / "run"), "--out", str(tmp_path / "imported")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["unknown_keys"] == 1 and summary["unknown_key_examples"] == ["no-such-image"]
    assert summary["captioned"] == 12 and summary["failed"] == {"no_caption": 36}
    # Every input row is imported or counted: an unreadable line, a row without a key, a second caption.
    assert summary["imported"] == 13 and sum(summary["input_rows_left_out"].values()) == 3
    assert summary["input_rows_left_out"]["duplicate_key"] == 1
    assert cli.main(["export", "--curated", str(captioned / "run"), "--out", str(tmp_path / "shards"),
                     "--samples-per-tar", "100", "--captions", str(tmp_path / "imported")]) == 0
    samples = list(iter_samples(str(tmp_path / "shards" / "00000.tar")))
    with_caption = {s["json"]["key"]: s["syn.txt"] for s in samples if "syn.txt" in s}
    assert with_caption == {line["key"]: line["caption"] for line in lines[:12]}


def test_bad_caption_inputs_are_clear_errors(captioned, tmp_path, caplog):
    import pyarrow as pa

    pq.write_table(pa.table({"key": ["red-00"], "caption": pa.array([{"x": 1}])}), tmp_path / "caps.parquet")
    assert cli.main(["captions", "import", "--in", str(tmp_path / "caps.parquet"), "--curated",
                     str(captioned / "run"), "--out", str(tmp_path / "imported")]) == 2
    assert "caps.parquet: column 'caption' is struct<x: int64>, not text" in caplog.text
    base = ["caption", "--curated", str(captioned / "run")]
    assert cli.main([*base, "--out", str(tmp_path / "a"), "--model", "no-such-model"]) == 2
    assert "--model 'no-such-model': not an open_clip model" in caplog.text
    assert cli.main([*base, "--out", str(tmp_path / "b"), "--pretrained", str(tmp_path / "none.pt")]) == 2
    assert "none.pt: no such checkpoint file" in caplog.text


def test_caption_mix_rate_epochs_and_reruns():
    samples = [{"__key__": f"k{i}", "txt": f"alt {i}", "syn.txt": f"caption {i}"} for i in range(4000)]

    def chosen(ratio, epoch, seed=0):
        mixer = CaptionMixer(ratio, seed, epoch)
        return [s["txt"].startswith("caption") for s in mixer(dict(s) for s in samples)]

    first = chosen(0.5, 0)
    assert 0.47 < sum(first) / len(first) < 0.53
    assert chosen(0.5, 0) == first
    assert chosen(0.5, 1) != first and 0.47 < sum(chosen(0.5, 1)) / 4000 < 0.53
    assert 0.13 < sum(chosen(0.15, 3)) / 4000 < 0.17
    assert not any(chosen(0.0, 0)) and all(chosen(1.0, 2))
    mixer = CaptionMixer(1.0)
    assert list(mixer([{"__key__": "a", "txt": "alt"}])) == [{"__key__": "a", "txt": "alt"}]
    assert mixer.used["no_caption"] == 1


def test_training_with_a_caption_mix_runs(captioned):
    out = captioned / "train"
    assert cli.main(["train", "--shards", str(captioned / "shards"), "--out", str(out), "--batch-size", "16",
                     "--epochs", "2", "--syn-ratio", "0.5", "--model", "tiny"]) == 0
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["syn_ratio"] == 0.5 and "epoch_2.pt" in summary["checkpoints"]
    used = summary["texts_used"]
    assert used["no_caption"] == 0 and 0.3 < used["caption"] / (used["caption"] + used["alt_text"]) < 0.7


def test_caption_fetches_images_by_url_and_records_why_one_has_none(executor, tmp_path):
    """Rows without image bytes: the image comes through the export's fetcher (local files
    here, allowed by flag); a missing file, an unreadable one and a refusal are statuses."""
    from tests.gpu.test_gpu_stages import square

    (tmp_path / "imgs").mkdir()
    rows = []
    for i, (name, rgb) in enumerate(COLORS.items()):
        path = tmp_path / "imgs" / f"{name}.png"
        path.write_bytes(square(rgb, i))
        rows.append({"key": name, "url": str(path), "text": f"a {name} square"})
    (tmp_path / "imgs" / "broken.png").write_bytes(b"not a png")
    rows += [{"key": "gone", "url": str(tmp_path / "imgs" / "gone.png"), "text": "a gone square"},
             {"key": "broken", "url": str(tmp_path / "imgs" / "broken.png"), "text": "a broken square"}]
    write_pool(tmp_path / "pool", rows)
    write_metadata(tmp_path / "meta.json", ["square"])
    assert cli.main(["curate", "--pool", str(tmp_path / "pool"), "--metadata", str(tmp_path / "meta.json"), "--out",
                     str(tmp_path / "run"), "--t", "100"]) == 0
    base = ["caption", "--curated", str(tmp_path / "run"), "--max-tokens", "10"]
    assert cli.main([*base, "--out", str(tmp_path / "caps"), "--allow-local-files"]) == 0
    status = {r["key"]: (r["status"], r["caption"]) for r in pq.read_table(tmp_path / "caps").to_pylist()}
    assert status["gone"] == ("failed_to_download", None) and status["broken"] == ("decode_error", None)
    assert all(status[name][0] == "ok" and status[name][1] for name in COLORS)
    assert cli.main([*base, "--out", str(tmp_path / "refused")]) == 0  # local files not allowed: refused
    assert {r["status"] for r in pq.read_table(tmp_path / "refused").to_pylist()} == {"refused"}
    # Other parameters into the same folder are refused; --overwrite starts it again.
    assert cli.main([*base, "--out", str(tmp_path / "refused"), "--allow-local-files", "--max-tokens", "9"]) == 2
    assert cli.main([*base, "--out", str(tmp_path / "refused"), "--allow-local-files", "--overwrite"]) == 0
    assert {r["key"]: r["status"] for r in pq.read_table(tmp_path / "refused").to_pylist()}["red"] == "ok"
