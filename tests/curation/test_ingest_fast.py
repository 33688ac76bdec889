"""The fast paths of ingest against their definitions: the per-page URL resolver against
``resolve``/``url_key`` (urllib), batched language id against py3langid's ``classify``,
the compiled SipHash-1-3 against CPython's own ``hash``, and the fixed-width dedup
against a first-occurrence reference; ARC files still go through warcio."""

import functools
import gzip
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.core import layout
from curation.ingest import dedup
from curation.ingest.langid import identify, identify_many
from curation.ingest.pairhash import pair_hashes, siphash13
from curation.ingest.records import FileCounts, iter_pages
from curation.ingest.urls import PageResolver, resolve, url_key

PAGES = [("http://site.com/dir/page.html", None), ("https://Site.COM", None), ("http://base.com/a/b.html", "/static/"),
         ("http://x.com:8080/a/", None), ("http://x.com/a;p/b", None), (None, None), ("http://s.com/a/b/", "../c/"),
         ("https://h.org/a//b/c.html", None), ("http://h.org/./x/", None), ("http://user@H.org/p", " //cdn.h.org/s/ "),
         ("ftp://files.org/x", None), ("http://[::1]/a", None), ("http://h.org", "javascript:void(0)"),
         ("https://xn--bcher-kva.example/b\u00fccher/", None)]
PIECES = ["", "/", "//", ".", "..", "a", "B", "img.jpg", "%20", "\u00e9", "\u4e2d", ";p", "?", "?q=1", "#f", ":", "\\",
          " ", "\t", "\n", "http:", "https:", "HTTP:", "data:", "javascript:", "cdn.x.com", "h.org:99999", "[::1",
          "@", "~u", "&", "=", "+", "\u3000"]


def expected(page, base, src):
    url = resolve(page, base, src)
    return None if url is None else (url, url_key(url))


@settings(max_examples=1500, deadline=None)
@given(page=st.sampled_from(PAGES), parts=st.lists(st.sampled_from(PIECES), max_size=8),
       spaces=st.sampled_from(["", " ", "  \t"]))
def test_the_page_resolver_equals_resolve_then_url_key(page, parts, spaces):
    src = spaces + "".join(parts) + spaces
    assert PageResolver(*page)(src) == expected(*page, src)


@pytest.mark.parametrize("src", ["/img/a.jpg", "img/a.jpg", "//cdn.x.com/a.png", "https://X.com/p?q=1", "http://x.com",
                                 "http://x.com?q", "../a.jpg", "a//b.jpg", "/a/./b", "x.jpg?", "a:b", "img.jpg?t=1:2",
                                 "data:image/gif;base64,R0", "", None, "./a", "HTTP://x.com/a", "/a//b", "/.x",
                                 "/a/.hidden/b.jpg", "/a?b=/.", "b.jpg#frag", "/b\u00fccher/\u4e2d.jpg"])
def test_the_common_forms_resolve_like_urllib(src):
    for page in PAGES:
        assert PageResolver(*page)(src) == expected(*page, src)


SENTENCES = ["A small brown dog sleeping on the sofa", "Un petit chien qui dort sur le canapé",
             "Ein kleiner Hund schläft auf dem Sofa", "一只小狗在沙发上睡觉", "ソファの上で寝ている小さな犬",
             "소파에서 자는 작은 개", "สุนัขตัวเล็กนอนบนโซฟา", "Маленькая собака спит на диване",
             "كلب صغير ينام على الأريكة", "ALL CAPS ALT TEXT FOR A PHOTO", "", " ", "x", "DSC_1234.JPG", "🐶🛋",
             "Cafe\u0301 au lait", "Srpski jezik je južnoslovenski jezik", "српски језик"]


@functools.lru_cache(maxsize=1)
def py3langid():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def reference(texts):
    return [py3langid().classify(t) for t in texts]


def assert_same_language(texts):
    langs, probs = identify_many(texts)
    for text, lang, prob, (want_lang, want_prob) in zip(texts, langs, probs, reference(texts)):
        assert lang == want_lang, text
        assert abs(prob - want_prob) <= 5e-5 + 1e-6, text  # rounded to 4 places, float32 sums


def test_batched_language_id_equals_py3langid_on_sentences():
    assert_same_language(SENTENCES)
    assert identify("Ein kleiner Hund schl\u00e4ft auf dem Sofa")[0] == "de"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8", categories=["L", "M", "N", "P", "Zs", "S"]),
                        max_size=60), min_size=1, max_size=20))
def test_batched_language_id_equals_py3langid_on_any_text(texts):
    assert_same_language(texts)


def test_siphash13_is_the_hash_cpython_uses():
    messages = [b"a", b"abcdefg", b"abcdefgh", b"abcdefghi", "h\u00e9llo, w\u00f6rld".encode(), bytes(range(256))]
    code = f"for m in {messages!r}: print(hash(m))"
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": "0"},
                          capture_output=True, text=True, check=True)
    assert sys.hash_info.algorithm == "siphash13"  # CPython's default since 3.11
    for message, want in zip(messages, done.stdout.split()):
        got = siphash13(message, 0, 0)
        signed = got - (1 << 64) if got >= 1 << 63 else got
        assert (-2 if signed == -1 else signed) == int(want)


def test_pair_hashes_depend_only_on_the_pairs():
    urls = pa.array(["http://a.com/1.jpg", "http://a.com/1.jpg", "http://a.com/2.jpg", "http://b.com/\u00e9.jpg", "",
                     "u1", "u2", "a longer url first", "u1"])
    texts = pa.array(["a dog", "a dog!", "a dog", "\u72ac", "", "a", "a", "", "b"])
    hashes = pair_hashes(urls, texts)
    assert len({tuple(h) for h in hashes}) == len(urls)
    assert np.array_equal(pair_hashes(pa.array(["u1"]), pa.array(["a"])), hashes[5:6])  # no state left by a row
    assert np.array_equal(pair_hashes(urls.cast(pa.large_string()), texts), hashes)
    assert np.array_equal(pair_hashes(urls.slice(2, 2), texts.slice(2, 2)), hashes[2:4])
    assert np.array_equal(pair_hashes(pa.chunked_array([urls[:2], urls[2:]]), texts), hashes)


def write_parsed(folder, files):
    for i, pairs in enumerate(files):
        name = layout.shard_name(i)
        table = pa.table({"key": [f"k{i}-{j}" for j in range(len(pairs))], "url": [u for u, _ in pairs],
                          "text": [t for _, t in pairs]})
        pq.write_table(table, layout.data_url(str(folder), name))
        (folder / f"{name}.hashes").write_bytes(pair_hashes(table["url"], table["text"]).tobytes())


def run_dedup(folder, files, shards):
    names = [layout.shard_name(i) for i in range(len(files))]
    offsets = dedup.output_ranges([len(f) for f in files], None)
    ranges = dedup.output_ranges([len(f) for f in files], shards)
    reducers = 3
    blocks = [b for i, n in enumerate(names) for b in dedup.hash_blocks(str(folder), n, int(offsets[i]), reducers)]
    routed = [r for part in range(reducers) for r in dedup.route(dedup.duplicates([b for p, b in blocks if p == part]),
                                                                 ranges)]
    rows = []
    files = dedup.ParsedFiles(str(folder), names)
    for shard in range(len(ranges) - 1):
        drop = np.frombuffer(b"".join(b for s, b in routed if s == shard), dtype=np.int64)
        url = str(folder / f"out-{shard}.parquet")
        n = dedup.write_pool_shard(url, files, offsets, int(ranges[shard]), int(ranges[shard + 1]), drop)
        table = pq.read_table(url)
        assert table.num_rows == n
        rows.append(list(zip(table["key"].to_pylist(), table["url"].to_pylist(), table["text"].to_pylist())))
    return rows


@pytest.mark.parametrize("shards", [None, 1, 2, 7])
def test_dedup_keeps_the_first_occurrence_in_input_order(tmp_path, shards):
    files = [[("u1", "a"), ("u2", "b"), ("u1", "a"), ("u3", "c")], [], [("u2", "b"), ("u4", "d"), ("u1", "A")],
             [("u5", "e")], [("u5", "e"), ("u6", "f"), ("u6", "f")]]
    write_parsed(tmp_path, files)
    out = run_dedup(tmp_path, files, shards)
    flat = [row for shard in out for row in shard]
    seen, want = set(), []
    for i, pairs in enumerate(files):
        for j, pair in enumerate(pairs):
            if pair not in seen:
                seen.add(pair)
                want.append((f"k{i}-{j}", *pair))
    assert flat == want
    assert len(out) == (len(files) if shards is None else shards)
    if shards is None:  # one output shard per input file: file 3 has no duplicate and is copied as it is
        assert (tmp_path / "out-3.parquet").read_bytes() == (tmp_path / "00003.parquet").read_bytes()


def test_arc_files_are_read_with_warcio(tmp_path):
    def record(url, ctype, body):
        return f"{url} 1.2.3.4 20050614070159 {ctype} {len(body)}\n".encode() + body + b"\n"

    desc = b"1 0 InternetArchive\nURL IP-address Archive-date Content-type Archive-length\n"
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<img src='/a.jpg' alt='an arc image'>"
    records = [record("filedesc://t.arc", "text/plain", desc), record("http://arc.example/p", "text/html", http)]
    (tmp_path / "t.arc").write_bytes(b"".join(records))
    (tmp_path / "t.arc.gz").write_bytes(b"".join(gzip.compress(r) for r in records))
    for name in ("t.arc", "t.arc.gz"):
        counts = FileCounts()
        pages = list(iter_pages(str(tmp_path / name), counts))
        assert [p.url for p in pages] == ["http://arc.example/p"] and b"an arc image" in pages[0].body
        assert (counts.records, counts.bad_records) == (2, 0)


def test_a_plain_warc_with_garbage_after_its_records_keeps_them(tmp_path):
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=False)
    for i in range(3):
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(f"http://p.com/{i}", "response", http_headers=headers,
                                                      payload=io.BytesIO(b"<img src='a.jpg' alt='x'>")))
    (tmp_path / "plain.warc").write_bytes(buf.getvalue() + b"WARC/1.0\r\nnot a header line\r\n\r\ngarbage")
    counts = FileCounts()
    assert [p.url for p in iter_pages(str(tmp_path / "plain.warc"), counts)] == [f"http://p.com/{i}" for i in range(3)]
    assert counts.bad_records >= 1  # the damaged tail is counted, never fatal
