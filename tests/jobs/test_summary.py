"""`curate summary` on an export from a loopback fleet: twelve hosts, samples refused by
robots.txt, by X-Robots-Tag noai and by tdm-reservation, a face blurred, some captioned; the
summary's figures are checked against counts made here from the tars and status tables."""

import json
import math
import re
import tarfile
from collections import Counter
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.report.summary import TEMPLATE, top_domain_count, validate_summary
from jobs import cli
from tests.helpers import write_metadata, write_pool
from tests.jobs.test_fetcher import ASTRONAUT, Host, png, send
from tests.jobs.test_ingest import PAGE2, write_warc

HOSTS = 12


def noise_png(side: int, seed: int) -> bytes:
    """A PNG of noise (it does not compress, so its bytes grow with its area)."""
    import io

    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 255, (side, side, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def fleet():
    hosts = []
    for i in range(HOSTS):
        routes = {"*": send(noise_png(16 + 12 * i, i))}
        if i == 0:
            routes.update({"/robots.txt": send(b"User-agent: *\nDisallow: /private/\n"),
                           "/noai.png": send(png(), headers={"X-Robots-Tag": "noai"}),
                           "/face.jpg": send(ASTRONAUT.read_bytes())})
        if i == 1:
            routes["/tdm.png"] = send(png(), headers={"tdm-reservation": "1"})
        hosts.append(Host(f"127.0.0.{20 + i}", routes))
    yield hosts
    for host in hosts:
        host.stop()


@pytest.fixture(scope="module")
def summarised(executor, tmp_path_factory, fleet):
    root = tmp_path_factory.mktemp("summary")
    urls = [f"{fleet[0].url}/{p}" for p in ("private/a.png", "private/b.png", "noai.png", "face.jpg")]
    urls += [f"{fleet[1].url}/tdm.png"]
    # Host i serves 12 - i images (host 0 the most samples, the last the largest images).
    urls += [f"{host.url}/img{j}.png" for i, host in enumerate(fleet) for j in range(HOSTS - i)]
    rows = [{"key": f"k{n:03d}", "url": u, "text": f"a dog picture number {n}", "lang": "de" if n % 4 else "en"}
            for n, u in enumerate(urls)]
    pool = write_pool(root / "pool", rows)
    meta = write_metadata(root / "meta.json", ["dog", "picture"])
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(root / "run"),
                     "--t", "1000"]) == 0
    captioned = [r["key"] for r in rows[::3]]
    pq.write_table(pa.table({"key": captioned, "caption": [f"a synthetic caption {k}" for k in captioned]}),
                   root / "caps.parquet")
    assert cli.main(["captions", "import", "--curated", str(root / "run"), "--in", str(root / "caps.parquet"),
                     "--out", str(root / "caps")]) == 0
    assert cli.main(["export", "--curated", str(root / "run"), "--out", str(root / "tars"), "--samples-per-tar",
                     "16", "--captions", str(root / "caps"), "--blur-faces", "--allow-private-addresses",
                     "--retries", "0"]) == 0
    (root / "cc").mkdir()
    write_warc(root / "cc" / "a.warc.gz", [("http://base.com/page.html", PAGE2, "text/html")])
    assert cli.main(["ingest", "--input", str(root / "cc"), "--out", str(root / "ingested")]) == 0
    (root / "provider.yaml").write_text("provider_name: Example Lab\nmodel_name: example-clip\n")
    assert cli.main(["summary", "--run", str(root / "run"), "--export", str(root / "tars"), "--captions",
                     str(root / "caps"), "--ingest", str(root / "ingested"), "--provider", str(root / "provider.yaml"),
                     "--out", str(root / "summary")]) == 0
    body = json.loads((root / "summary" / "summary.json").read_text())
    return root, body, {s["id"]: s["fields"] for section in body["sections"] for s in section["subsections"]}


def tar_counts(folder):
    """Per domain: bytes and samples of the images in the tars, read from the tars themselves."""
    by_bytes, by_samples = Counter(), Counter()
    for path in sorted(folder.glob("*.tar")):
        with tarfile.open(path) as tar:
            members = {m.name: m for m in tar.getmembers()}
            for name, member in members.items():
                if not name.endswith(".json"):
                    continue
                key = name[:-5]
                host = urlsplit(json.loads(tar.extractfile(member).read())["url"]).hostname
                image = next(m for n, m in members.items() if n.startswith(key + ".") and n.endswith((".png", ".jpg")))
                by_bytes[host] += image.size
                by_samples[host] += 1
    return by_bytes, by_samples


def status_rows(folder):
    return [r for p in sorted(folder.glob("0*.parquet")) for r in pq.read_table(p).to_pylist()]


def test_top_domains_equal_a_count_over_the_tars(summarised):
    root, _, fields = summarised
    by_bytes, by_samples = tar_counts(root / "tars")
    crawled = fields["2.3"]
    assert crawled["domains"] == len(by_samples) == HOSTS
    n = top_domain_count(HOSTS, sme=False)
    assert n == 2
    expected_bytes = sorted(by_bytes.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    expected_samples = sorted(by_samples.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    assert [(d["domain"], d["bytes"]) for d in crawled["top_domains_by_bytes"]] == expected_bytes
    assert [(d["domain"], d["samples"]) for d in crawled["top_domains_by_samples"]] == expected_samples
    # Bytes and samples rank differently here: the last hosts serve few but large images.
    assert expected_bytes[0][0] != expected_samples[0][0]
    assert fields["1.3"]["size"]["image"] == {"samples": sum(by_samples.values()), "bytes": sum(by_bytes.values()),
                                              "band": "Less than 1 million images", "counted_from": "export"}


def test_refusals_faces_and_captions_equal_the_status_tables(summarised):
    root, _, fields = summarised
    rows = status_rows(root / "tars")
    refused = Counter(r["error_message"] for r in rows if r["status"] == "opted_out")
    assert refused == {"robots": 2, "x-robots-tag:noai": 1, "tdm-reservation": 1}
    assert fields["3.1"]["refused_by_rule"] == dict(refused)
    assert fields["3.1"]["samples_fetched"] == len(rows)
    assert fields["3.1"]["rules"] == "robots.txt,x-robots-tag:noai|noimageai|noindex|noimageindex,tdm-reservation"
    assert fields["3.2"]["faces_blurred"] == {"enabled": True, "samples": 1, "faces": 1}
    written = [r for r in rows if r["status"] == "success"]
    with_caption = sum(r["caption"] for r in written)
    assert 0 < with_caption < len(written)
    assert fields["2.5"]["samples_with_synthetic_caption"] == with_caption
    assert fields["2.5"]["caption_models"][0]["captions"] > 0
    assert fields["2.3"]["crawler"]["user_agent"].startswith("metaclip-curation/")
    fetched = sorted(r["fetched_at"] for r in rows if r["fetched_at"])
    assert fields["2.3"]["collection_period"]["images"] == {"first": fetched[0], "last": fetched[-1]}
    pages = fields["2.3"]["collection_period"]["pages"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", pages["first"])
    languages = {lang["lang"]: lang["samples"] for lang in fields["1.3"]["languages"]}
    assert languages == dict(Counter(r["lang"] for r in written))


def test_every_section_in_order_the_schema_and_what_is_left_to_complete(summarised, tmp_path):
    root, body, fields = summarised
    validate_summary(body)
    assert [s["id"] for s in body["sections"]] == ["1", "2", "3"]
    assert [sub["id"] for s in body["sections"] for sub in s["subsections"]] == \
        [sub[0] for s in TEMPLATE for sub in s[2]]
    assert fields["1.1"]["provider_name"] == "Example Lab" and fields["1.2"]["model_name"] == "example-clip"
    assert "1.1 provider_name" not in body["to_be_completed"] and "1.1 provider_contact" in body["to_be_completed"]
    markdown = (root / "summary" / "summary.md").read_text()
    headings = re.findall(r"^### (\d\.\d) ", markdown, re.MULTILINE)
    assert headings == [sub[0] for s in TEMPLATE for sub in s[2]]
    assert "- **Provider contact:** _to be completed_" in markdown
    page = (root / "summary" / "summary.html").read_text()
    assert re.findall(r"<h3 id='s(\d\.\d)'>", page) == headings and "Example Lab" in page
    broken = json.loads(json.dumps(body))
    del broken["sections"][0]["subsections"][2]["fields"]["size"]
    with pytest.raises(ValueError, match=r"summary.1.3: missing 'size'"):
        validate_summary(broken)
    (tmp_path / "bad.yaml").write_text("provider_nme: typo\n")
    assert cli.main(["summary", "--run", str(root / "run"), "--provider", str(tmp_path / "bad.yaml"),
                     "--out", str(tmp_path / "s")]) == 2


def test_without_an_export_the_run_urls_are_counted(summarised, tmp_path):
    root, _, _ = summarised
    assert cli.main(["summary", "--run", str(root / "run"), "--out", str(tmp_path / "s")]) == 0
    body = json.loads((tmp_path / "s" / "summary.json").read_text())
    validate_summary(body)
    fields = {s["id"]: s["fields"] for section in body["sections"] for s in section["subsections"]}
    curated = [r for p in sorted((root / "run" / "curated").glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
    assert fields["2.3"]["domains"] == len({urlsplit(r["url"]).hostname for r in curated})
    assert fields["1.3"]["size"]["image"]["bytes"] is None and fields["2.3"]["top_domains_by_bytes"] == []


def test_the_top_domain_rule():
    assert [top_domain_count(n, sme=False) for n in (0, 1, 10, 11, 25_000)] == [0, 1, 1, 2, 2500]
    assert [top_domain_count(n, sme=True) for n in (1, 20, 21, 100_000)] == [1, 1, 2, 1000]
    assert math.ceil(0.05 * 19_999) == 1000 and top_domain_count(19_999, sme=True) == 1000
