# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export SPARK_LOCAL_IP ?= 127.0.0.1
export PYSPARK_PYTHON := $(abspath $(BIN)/python)

.PHONY: browser quality-weights bench-scale install install-cuda check-java check-python test demo lint bench bench-gpu clean metadata-default

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt requirements-gpu.txt requirements-worldwide.txt setup.cfg | check-python check-java
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

# The pins (numpy 2.4, pyspark 4.3, pyarrow 26, matplotlib, pillow) need Python 3.11 or newer;
# say so plainly instead of failing deep inside pip.
check-python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "error: $(PYTHON) is $$($(PYTHON) --version 2>&1 || echo missing); this project needs Python 3.11+" \
	  "(set PYTHON=python3.11 or newer)" >&2; exit 1; }

# On a CUDA 13 machine: FAISS's GPU build in place of faiss-cpu (k-means and indexes on the GPU).
install-cuda: install
	$(BIN)/pip uninstall -q -y faiss-cpu
	$(BIN)/pip install -q -r requirements-gpu-cuda.txt
	$(BIN)/python -c "import faiss; print('faiss', faiss.__version__, 'GPUs:', faiss.get_num_gpus())"

# The browser tests of `curate serve` (tests/gpu/test_serve_browser.py) drive Debian's Chromium
# through Playwright, which cannot download its own browsers here: install it when missing (as
# root, with apt), else say how. CHROMIUM=/path/to/chromium names another build.
browser:
	@command -v chromium >/dev/null 2>&1 || [ -n "$(CHROMIUM)" ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || { \
	      DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; } || \
	      echo "warning: apt-get could not install chromium; the browser tests are skipped" >&2; \
	  else echo "warning: no chromium (Debian: sudo apt-get install chromium); the browser tests are skipped" >&2; fi; }

# PySpark 4 needs Java 17 or newer; say so plainly instead of failing deep inside Spark.
check-java:
	@command -v java >/dev/null 2>&1 || { echo "error: java not found; PySpark 4 needs Java 17+" \
	  "(Debian: apt-get install openjdk-17-jre-headless)" >&2; exit 1; }
	@v=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1); \
	  [ "$${v:-0}" -ge 17 ] || { echo "error: Java $$v found; PySpark 4 needs Java 17+" >&2; exit 1; }

test: install browser
	$(BIN)/python -m pytest

demo: install
	$(BIN)/curate curate --pool sample/pool --metadata metadata/default/metadata.json \
	  --out demo-out --t 100 --seed 0 --overwrite
	$(BIN)/curate summary --run demo-out --out demo-out/summary

lint: install
	$(BIN)/ruff check curation jobs metadata tests sample bench

clean:
	rm -rf $(VENV) demo-out .pytest_cache

# Rebuild the shipped default metadata list from offline sources: WordNet 3.0 (Debian's
# wordnet-base) and the wordfreq package's English unigram list.
WORDNET ?= /usr/share/wordnet
metadata-default: install
	@test -f $(WORDNET)/data.noun || { echo "error: $(WORDNET)/data.noun missing;" \
	  "install WordNet 3.0 (Debian: apt-get install wordnet-base) or set WORDNET=DIR" >&2; exit 1; }
	$(BIN)/pip install -q wordfreq==3.1.1
	mkdir -p build
	$(BIN)/python metadata/default/make_unigrams.py build/unigrams.tsv
	SOURCE_DATE_EPOCH=$${SOURCE_DATE_EPOCH:-1764115200} $(BIN)/curate metadata build --wordnet $(WORDNET) --unigrams build/unigrams.tsv \
	  --extra metadata/default/extra.txt --out metadata/default/metadata.json

# Benchmarks: inputs generated once into .bench/ (WordNet from Debian's wordnet-base, wordfreq, the
# translation catalogs of Django's and Sphinx's wheels and PyThaiNLP's Thai words, fetched from PyPI);
# export against img2dataset (in its own virtualenv) on Debian's openclipart-png images.
bench: install
	@test -f /usr/share/wordnet/data.noun || { echo "error: /usr/share/wordnet missing;" \
	  "install Debian's wordnet-base (apt-get install wordnet-base)" >&2; exit 1; }
	@test -d /usr/share/openclipart/png || { echo "error: /usr/share/openclipart/png missing;" \
	  "install Debian's openclipart-png (apt-get install openclipart-png)" >&2; exit 1; }
	$(BIN)/pip install -q wordfreq==3.1.1
	$(BIN)/python -m bench.run --out .bench/results.json
	$(BIN)/python -m bench.e2e --out .bench/e2e.json
	$(BIN)/python -m bench.matchers --out .bench/matchers.json
	$(BIN)/python -m bench.ingest --out .bench/ingest.json
	$(BIN)/python -m bench.quality --out .bench/quality.json
	$(BIN)/python -m bench.quality_eval --out .bench/quality_eval.json
	$(BIN)/python -m bench.wiki --out .bench/wiki.json
	$(BIN)/python -m bench.serve --out .bench/serve.json
	test -x .bench/i2d-venv/bin/python || { $(PYTHON) -m venv .bench/i2d-venv && \
	  .bench/i2d-venv/bin/pip install -q img2dataset==1.47.0; }
	$(BIN)/python -m bench.export --out .bench/export.json

# Past one machine: dedup and index at 1M and 4M vectors, export shuffle planning at 10M rows.
bench-scale: install
	$(BIN)/python -m bench.scale --out .bench/scale.json

# GPU benchmark (a machine with one NVIDIA GPU; inputs generated on the spot, no network).
bench-gpu: install
	$(BIN)/python -m bench.gpu --out .bench/gpu.json

# Refit the shipped quality weights (curation/quality/weights/, with manifest.json): descriptive
# text (English: WordNet's glosses and lemmas; others: Django's .po catalogs) against the junk
# families of curation.quality.junk. bench.quality_eval measures them on held-out sources.
QUALITY_LANGS := de fr es it ja ko ru th zh
quality-weights: install
	@test -f $(WORDNET)/data.noun || { echo "error: $(WORDNET)/data.noun missing;" \
	  "install WordNet 3.0 (Debian: apt-get install wordnet-base) or set WORDNET=DIR" >&2; exit 1; }
	$(BIN)/python sample/make_quality_inputs.py build/quality $(QUALITY_LANGS)
	$(BIN)/curate quality fit --reference $(WORDNET)/data.noun,$(WORDNET)/index.noun --lang en \
	  --out curation/quality/weights/en.json
	for l in $(QUALITY_LANGS); do $(BIN)/curate quality fit --reference build/quality/django-$$l --lang $$l \
	  --out curation/quality/weights/$$l.json || exit 1; done
