"""Metadata building on small real WordNet-format files and count files made here."""

import json
import math

import numpy as np

from jobs import cli
from metadata.build import BuildOptions, SourceFiles, build, build_list, select_bigrams
from metadata.ngrams import count_ngrams, pmi
from metadata.versioning import carry_counts, diff_lists, id_mapping
from metadata.wordnet import all_lemma_names, synset_head_names

HEADER = "  1 This software and database is being provided to you, the LICENSEE, by Princeton\n"
NOUNS = [
    "00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which is perceived",
    "02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 023 @ 02083346 n 0000 | a member of the genus Canis",
    "08542304 15 n 02 U.S. 0 United_States 0 000 | North American republic",
    "13742573 23 n 01 .22 0 000 | a caliber",
    "07697537 13 n 02 hotdog 0 hot_dog 0 000 | a frankfurter served hot",
    "02121620 05 n 01 Dog 0 000 | a duplicate head after lowercasing",
]
ADJS = ["00001740 00 a 02 able 0 able(p) 0 000 | having the necessary means",
        "01383582 00 s 01 galore(ip) 0 000 | in great numbers"]


def write_wordnet(folder):
    folder.mkdir()
    (folder / "data.noun").write_text(HEADER + "\n".join(NOUNS) + "\n", encoding="latin-1")
    (folder / "data.adj").write_text(HEADER + "\n".join(ADJS) + "\n", encoding="latin-1")
    return folder


def test_wordnet_synset_names_as_the_reference_takes_them(tmp_path):
    wn = write_wordnet(tmp_path / "wn")
    assert synset_head_names(str(wn)) == ["entity", "dog", "u", "", "hotdog", "dog", "able", "galore"]
    assert "Canis familiaris" in all_lemma_names(str(wn)) and "able" in all_lemma_names(str(wn))


def test_build_order_dedup_exclusions_budget():
    sources = [("a", ["x", "", "y", "x", "...", "z" * 257]), ("b", ["y", "w", "v"]), ("c", ["u"])]
    result = build(sources, budget=4)
    assert result.entries == ["x", "y", "w", "v"]
    assert result.per_source == {"a": 2, "b": 2, "c": 0}
    assert result.excluded == {"empty": 1, "punctuation only": 1, "over 256 characters": 1}


def test_thresholds_and_pmi(tmp_path):
    (tmp_path / "uni.tsv").write_text("new\t1000\nyork\t200\nthe\t5000\ncat\t99\nhot\t300\ndog\t300\n")
    (tmp_path / "bi.tsv").write_text("new york\t150\nthe cat\t2\nhot dog\t60\n")
    (tmp_path / "views").write_text("en Hot_dog 50 0\nen Hot_dog 30 0\nen Paris 60 0\nfr Paris 900 0\n")
    files = SourceFiles(unigrams=str(tmp_path / "uni.tsv"), bigrams=str(tmp_path / "bi.tsv"),
                        titles=str(tmp_path / "views"))
    uni_total, bi_total = 6799, 212
    expect_ny = math.log2((150 / bi_total) / ((1000 / uni_total) * (200 / uni_total)))
    assert math.isclose(pmi(150, 1000, 200, uni_total, bi_total), expect_ny)
    result, info = build_list(files, BuildOptions(min_bigram_pmi=4.0, numbers=False))
    # unigrams >= 100 by count; bigrams by PMI; "Hot dog" reaches 80 views, "Paris" only 60 in en.
    # (ties by string: "dog" before "hot"; "new york" has the higher PMI, 7.35 vs 7.18 bits)
    assert result.entries == ["the", "new", "dog", "hot", "york", "new york", "hot dog", "Hot dog"]
    assert expect_ny > pmi(60, 300, 300, uni_total, bi_total) > 4.0 > pmi(2, 5000, 99, uni_total, bi_total)
    assert info["per_source"] == {"unigrams": 5, "bigrams": 2, "titles": 1}
    assert [i["source"] for i in info["inputs"]] == ["unigrams", "bigrams", "titles"]


def test_no_space_languages_join_bigrams():
    uni = {"東京": 10, "タワー": 10}
    assert select_bigrams({"東京 タワー": 10}, uni, 0.0, "ja") == ["東京タワー"]
    assert select_bigrams({"東京 タワー": 10}, uni, 0.0, "en") == ["東京 タワー"]


def test_two_builds_are_byte_identical(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    wn = write_wordnet(tmp_path / "wn")
    (tmp_path / "extra.txt").write_text("猫\nentity\n")
    for name in ("a.json", "b.json"):
        assert cli.main(["metadata", "build", "--wordnet", str(wn), "--extra", str(tmp_path / "extra.txt"),
                         "--out", str(tmp_path / name)]) == 0
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert (tmp_path / "a.manifest.json").read_text().replace("a.json", "") == \
        (tmp_path / "b.manifest.json").read_text().replace("b.json", "")
    entries = json.loads((tmp_path / "a.json").read_text())
    assert entries[:6] == ["entity", "dog", "u", "hotdog", "able", "galore"]
    assert entries[6:] == [str(i) for i in range(100)] + ["猫"]
    manifest = json.loads((tmp_path / "a.manifest.json").read_text())
    assert manifest["per_source"] == {"wordnet": 6, "numbers": 100, "extra": 1}
    assert manifest["excluded"] == {"empty": 1} and manifest["date"] == "2023-11-14"


def test_diff_mapping_carries_counts(tmp_path, capsys):
    old, new = ["a", "b", "c", "d"], ["b", "a", "d", "e"]
    mapping = id_mapping(old, new)
    assert mapping.tolist() == [1, 0, -1, 2]
    assert carry_counts(np.array([10, 20, 30, 40]), mapping, 4).tolist() == [20, 10, 40, -1]
    diff = diff_lists(old, new)
    assert (diff["added"], diff["removed"], diff["kept"], diff["renumbered"]) == (["e"], ["c"], 3, 3)
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    import pyarrow.parquet as pq

    assert cli.main(["metadata", "diff", str(tmp_path / "old.json"), str(tmp_path / "new.json"),
                     "--mapping", str(tmp_path / "map.parquet")]) == 0
    assert json.loads(capsys.readouterr().out)["removed_count"] == 1
    assert pq.read_table(tmp_path / "map.parquet")["new_id"].to_pylist() == [1, 0, -1, 2]


def test_import_keeps_bytes_and_stats_reads_manifest(tmp_path, capsys):
    src = tmp_path / "metaclip.json"
    src.write_text('["dog", "cat",  "猫"]')
    assert cli.main(["metadata", "import", str(src), "--out", str(tmp_path / "m.json")]) == 0
    assert (tmp_path / "m.json").read_bytes() == src.read_bytes()
    capsys.readouterr()
    assert cli.main(["metadata", "stats", str(tmp_path / "m.json")]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["entries"] == 3 and stats["cjk_like_edges"] == 1 and stats["manifest_matches"] is True


def test_count_ngrams_on_matching_tokens():
    uni, bi = count_ngrams(["A hot dog, please.", "hot dog"])
    assert uni == {"A": 1, "hot": 2, "dog": 2, "please": 1}
    assert bi == {"A hot": 1, "hot dog": 2}
