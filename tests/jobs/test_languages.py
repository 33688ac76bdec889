"""Per-language curation on a mixed-language pool: each text meets its language's list,
and each language gets the t whose tail proportion matches the reference language's."""

import json
import random

import numpy as np
import pyarrow.parquet as pq

from curation.chain.balancing import tail_proportion
from curation.chain.config import BalanceConfig, CountConfig, MatchConfig
from curation.chain.run import run_balance, run_count, run_match
from curation.matching import Matcher
from tests.helpers import write_pool

LISTS = {"en": ["dog", "cat", "red", "car", "hot dog"], "zh": ["猫", "狗", "红色"], "ja": ["猫", "東京", "サッカー"]}


def make_rows(n: int) -> list[dict]:
    rng = random.Random(7)
    vocab = {"en": ["dog", "cat", "red", "car", "a", "the"], "zh": ["猫", "狗", "红色", "的", "dog"],
             "ja": ["猫", "東京", "の", " サッカー ", "cat"], "fr": ["chat", "dog", "le"], None: ["cat", "car"]}
    weights = {"en": [8, 4, 2, 1, 3, 3], "zh": [6, 2, 1, 3, 1], "ja": [5, 2, 3, 1, 1], "fr": [1, 1, 1], None: [1, 1]}
    rows = []
    for i in range(n):
        lang = rng.choice(["en", "en", "zh", "ja", "fr", None])
        sep = "" if lang in ("zh", "ja") else " "
        words = rng.choices(vocab[lang], weights=weights[lang], k=rng.randint(1, 3))
        rows.append({"key": f"k{i}", "url": f"u{i}", "text": sep.join(words), "lang": lang})
    return rows


def reference_t(counts: np.ndarray, proportion: float) -> int:
    """Meta CLIP 2's p_to_t (see tests/curation/test_balancing.py), with the t >= 1 guard."""
    from tests.curation.test_balancing import reference_p_to_t

    return max(1, reference_p_to_t(counts, proportion))


def test_mixed_language_pool(executor, tmp_path):
    meta = tmp_path / "meta"
    meta.mkdir()
    for lang, entries in LISTS.items():
        (meta / f"{lang}.json").write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    rows = make_rows(900)
    pool = write_pool(tmp_path / "pool", rows, shards=3)
    out = tmp_path / "out"
    run_match(executor, MatchConfig(pool=str(pool), metadata=str(meta), out=str(out)))
    run_count(executor, CountConfig(out=str(out)))
    card = run_balance(executor, BalanceConfig(out=str(out), t=40, seed=0))

    # Lists are concatenated in sorted language order: en 0-4, ja 5-7, zh 8-10.
    offsets = {"en": 0, "ja": 5, "zh": 8}
    matchers = {lang: Matcher(entries) for lang, entries in LISTS.items()}
    expected = {}
    for r in rows:
        lang = r["lang"] if r["lang"] in LISTS else "en"
        expected[r["key"]] = [offsets[lang] + i for i in matchers[lang].match(r["text"])]
    matched = {r["key"]: r["entry_ids"] for f in sorted((out / "matched").glob("*.parquet"))
               for r in pq.read_table(f).to_pylist()}
    assert matched == {k: v for k, v in expected.items() if v}

    counts = pq.read_table(out / "entry_counts.parquet")
    assert counts["lang"].to_pylist() == ["en"] * 5 + ["ja"] * 3 + ["zh"] * 3
    c = counts["count"].to_numpy()
    ref = tail_proportion(c[0:5], 40)
    thresholds = {row["lang"]: row["t"] for row in card["languages"]}
    assert thresholds == {"en": 40, "ja": reference_t(c[5:8], ref), "zh": reference_t(c[8:11], ref)}
    assert thresholds["ja"] < 40 and thresholds["zh"] < 40
    routed = {row["lang"]: row["texts"] for row in card["languages"]}
    assert routed == {lang: sum(1 for r in rows if (r["lang"] if r["lang"] in LISTS else "en") == lang)
                      for lang in LISTS}
    by_lang = json.loads((out / "entry_counts.json").read_text())
    assert by_lang["zh"]["猫"] == c[8] and by_lang["ja"]["猫"] == c[5]


def test_language_codes_route_to_lists():
    from curation.matching.langroute import LangRouter

    router = LangRouter(["en", "ja", "zh", "pt", "he", "zh-hant"], {"chinese": "zh", "x-klingon": "en"})
    cases = {"zh": "zh", "zh-Hans": "zh", "zh_CN": "zh", "zh-Hans-CN": "zh", "ZH": "zh", "zho": "zh", "chi": "zh",
             "cmn": "zh", "zh-Hant": "zh-hant", "zh-Hant-TW": "zh-hant", "ja": "ja", "jpn": "ja", "ja-JP": "ja",
             "pt-BR": "pt", "por": "pt", "pt_PT": "pt", "iw": "he", "heb": "he", "eng": "en", "en-US": "en",
             "chinese": "zh", "x-klingon": "en", "fr": None, "fra": None, "": None, None: None, "tlh": None}
    assert {code: router.route(code) for code in cases} == cases


def test_routing_in_a_run_counts_languages_without_a_list(executor, tmp_path):
    meta = tmp_path / "meta"
    meta.mkdir()
    for lang, entries in LISTS.items():
        (meta / f"{lang}.json").write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    rows = [{"key": key, "url": "u", "text": text, "lang": lang} for key, text, lang in [
        ("a", "猫", "zh-Hans"), ("b", "猫", "jpn"), ("c", "a dog", "fr"), ("d", "a dog", "fr"),
        ("e", "猫", "klingon")]]
    lang_map = tmp_path / "map.json"
    lang_map.write_text('{"klingon": "zh"}')
    pool = write_pool(tmp_path / "pool", rows)
    from jobs import cli

    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(tmp_path / "out"),
                     "--lang-map", str(lang_map), "--t", "5"]) == 0
    card = json.loads((tmp_path / "out" / "datacard.json").read_text())
    assert {r["lang"]: r["texts"] for r in card["languages"]} == {"en": 2, "ja": 1, "zh": 2}
    assert card["unrouted_langs"] == {"fr": 2}
    assert "Languages without a list" in (tmp_path / "out" / "report.html").read_text()
