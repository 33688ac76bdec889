"""`curate serve`: the pages a curator uses, through Flask's test client on a real run:
find an entry, open it and see its texts, try an alt-text, see the rejects; and nothing
outside the run can be read, nothing written."""

import json

import pytest

from curation.report.serve import make_app
from jobs import cli
from tests.helpers import write_metadata, write_pool


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    rows = [{"url": f"http://h/{i}.jpg", "text": t} for i, t in enumerate(
        ["a red dog on the beach"] * 6 + ["a cat on a sofa", "the cat and the dog", "a lighthouse at dusk", None])]
    (root / "pool").mkdir()
    write_pool(root / "pool", rows)
    (root / "pool" / "bad.jsonl").write_text('{"text": "a dog"}\n{oops\n')
    meta = write_metadata(root / "m.json", ["dog", "cat", "lighthouse", "sofa"])
    assert cli.main(["curate", "--pool", str(root / "pool"), "--metadata", str(meta), "--out", str(root / "run"),
                     "--t", "2", "--unit", "text"]) == 0
    (root / "secret.txt").write_text("outside the run")
    app = make_app(str(root / "run"))
    app.testing = True
    return app.test_client(), root


def test_find_an_entry_open_it_and_see_its_texts(client):
    c, _ = client
    page = c.get("/entries?q=DO").get_data(as_text=True)
    assert ">dog</a>" in page and "cat" not in page.split("<table>")[1]
    page = c.get("/entries?sort=count").get_data(as_text=True)
    assert page.index(">dog</a>") < page.index(">cat</a>") and "head" in page and "tail" in page
    entry = c.get("/entry/0").get_data(as_text=True)  # dog: matched by 7 texts, t = 2
    assert "<td>count</td><td>7</td>" in entry and "keep probability</td><td>0.2857" in entry
    assert entry.count("a red dog on the beach") >= 1 and "the cat and the dog" in entry
    assert c.get("/entry/999").status_code == 404


def test_try_a_text_shows_its_entries_keep_probability_and_quality(client):
    c, _ = client
    page = c.get("/try", query_string={"text": "A dog and a cat"}).get_data(as_text=True)
    assert ">dog</a>" in page and ">cat</a>" in page and "quality score" in page

    def keep(text):
        page = c.get("/try", query_string={"text": text}).get_data(as_text=True)
        return float(page.split("keep probability of the text</td><td>")[1].split("<")[0])
    assert keep("A dog and a cat") == 1.0  # cat is a tail entry (2 texts, t = 2)
    assert abs(keep("a big dog") - 2 / 7) < 1e-4 and keep("no entry here") == 0.0


def test_rejects_card_and_overview(client):
    c, _ = client
    rejects = c.get("/rejects").get_data(as_text=True)
    assert "invalid JSON" in rejects and "{oops" in rejects
    assert json.loads(c.get("/card").get_data())["curated_rows"] > 0
    overview = c.get("/").get_data(as_text=True)
    assert "<td>pool_rows</td>" in overview and "/report/rank.png" in overview
    assert c.get("/report/rank.png").data[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("path", ["/report/../datacard.json", "/report/..%2F..%2Fsecret.txt",
                                  "/report/%2Fetc%2Fpasswd", "/report/http:%2F%2Fexample.com%2Fx.png",
                                  "/entry/..%2F1", "/../secret.txt"])
def test_nothing_outside_the_run_can_be_read(client, path):
    c, root = client
    response = c.get(path)
    assert response.status_code == 404 and b"outside the run" not in response.data


def test_knn_needs_a_local_export(client):
    from curation.core.errors import InputError

    _, root = client
    for export in (None, "s3://bucket/tars"):
        with pytest.raises(InputError, match="--index needs a local --export"):
            make_app(str(root / "run"), export, str(root / "index"))


def test_no_request_writes(client):
    c, root = client
    before = sorted(p.relative_to(root) for p in (root / "run").rglob("*"))
    for path in ("/", "/entries", "/entry/0", "/try", "/rejects", "/card"):
        assert c.post(path).status_code == 405
    c.get("/try", query_string={"text": "dog"})
    assert sorted(p.relative_to(root) for p in (root / "run").rglob("*")) == before


def test_the_command_serves_on_loopback(client):
    import subprocess
    import sys
    import urllib.request

    from tests.services import free_port, wait_for_port

    _, root = client
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "jobs.cli", "serve", str(root / "run"), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/entries?q=light", timeout=10) as response:
            assert ">lighthouse</a>" in response.read().decode()
    finally:
        server.terminate()
        server.wait(timeout=30)
