"""`curate serve` driven in a real headless browser (Playwright with Debian's Chromium): find an
entry, open it and see its texts; type an alt-text and see its entries; search the kNN index by
text and by an uploaded image and see the export's images.

The browser is installed by the test set-up: ``make test`` runs ``make browser`` (Debian's
``chromium``; Playwright cannot download its own browsers here). Without it the module is
skipped, saying so."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jobs import cli
from tests.helpers import write_metadata, write_pool
from tests.services import free_port, wait_for_port

IMAGES = Path(__file__).resolve().parents[1] / "data" / "eval_images"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium: `make browser` installs Debian's")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A run of the 29 clip-art images (texts from their class folders), its export, the
    export's embeddings and index (tiny model), and ``curate serve`` on a loopback port."""
    root = tmp_path_factory.mktemp("browser")
    files = sorted(IMAGES.rglob("*.png"))
    rows = [{"key": f"img{i:03d}", "url": None, "text": f"a picture of {p.parent.name} ({p.stem.replace('_', ' ')})",
             "image": p.read_bytes()} for i, p in enumerate(files)]
    pool = write_pool(root / "pool", rows, shards=2)
    meta = write_metadata(root / "m.json", ["picture", "animals", "buildings", "food", "plants", "tools"])
    run, tars, emb, index = (root / name for name in ("run", "tars", "emb", "index"))
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(run), "--t", "1000",
                     "--unit", "text"]) == 0
    assert cli.main(["export", "--curated", str(run), "--out", str(tars)]) == 0
    assert cli.main(["embed", "--shards", str(tars), "--out", str(emb), "--model", "tiny", "--batch-size", "8"]) == 0
    assert cli.main(["index", "--embeddings", str(emb), "--out", str(index)]) == 0
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "jobs.cli", "serve", str(run), "--export", str(tars),
                               "--index", str(index), "--model", "tiny", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=120)
        yield f"http://127.0.0.1:{port}", files
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def page(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # Chromium's sandbox needs user namespaces that a container's root may not have.
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser.new_page()
        browser.close()


def test_find_an_entry_open_it_and_see_its_texts(served, page):
    base, _ = served
    page.goto(f"{base}/entries")
    page.fill("input[name=q]", "food")
    page.click("button:text-is('search')")
    page.wait_for_url("**/entries?q=food*")
    links = page.locator("table a")
    assert links.all_inner_texts() == ["food"]
    links.first.click()
    page.wait_for_url("**/entry/*")
    assert page.locator("h1").inner_text() == "food"
    texts = page.locator("li").all_inner_texts()
    assert texts and all(t.startswith("a picture of food") for t in texts)


def test_type_an_alt_text_and_see_its_entries(served, page):
    base, _ = served
    page.goto(f"{base}/try")
    page.fill("input[name=text]", "a picture of plants and tools")
    page.click("button:text-is('try')")
    page.wait_for_url("**/try?text=*")
    assert sorted(page.locator("table a").all_inner_texts()) == ["picture", "plants", "tools"]
    assert "keep probability of the text" in page.content()


def test_knn_by_text_and_by_image_shows_images(served, page):
    base, files = served
    page.goto(f"{base}/knn")
    page.fill("input[name=text]", "a picture of buildings")
    page.click("button:text-is('search by text')")
    page.wait_for_url("**/knn?text=*")
    images = page.locator("figure img")
    assert images.count() == 12
    # Every result is an image the browser decoded (served from the export's tars).
    assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    assert all(c.startswith("a picture of ") for c in page.locator("figcaption").all_inner_texts())
    page.set_input_files("input[name=image]", str(files[7]))
    page.click("button:text-is('search by image')")
    page.wait_for_load_state()
    first = page.locator("figure img").first
    assert first.get_attribute("alt") == "img007"  # an uploaded image finds itself first
    assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
