"""Write ``unigrams.tsv`` (``word<TAB>count``) from the ``wordfreq`` package's English
"large" list, counts expressed per billion words, for ``curate metadata build --unigrams``.

    .venv/bin/pip install wordfreq==3.1.1
    .venv/bin/python metadata/default/make_unigrams.py /tmp/unigrams.tsv

wordfreq ships its frequency tables inside the package (no download), so the output
depends only on the package version.
"""

import sys

import wordfreq

PER = 1_000_000_000


def main(out: str) -> None:
    words = wordfreq.top_n_list("en", 10_000_000, wordlist="large")
    with open(out, "w", encoding="utf-8") as f:
        for word in words:
            count = round(wordfreq.word_frequency(word, "en", wordlist="large") * PER)
            if count > 0 and "\t" not in word and "\n" not in word:
                f.write(f"{word}\t{count}\n")


if __name__ == "__main__":
    main(sys.argv[1])
