"""Word segmentation for building metadata lists: ``segment(lang, text)``, one call for every
language. Languages written without spaces between words get a real segmenter, each an
optional package (``pip install .[worldwide]``, ``requirements-worldwide.txt``):

| lang | segmenter |
| --- | --- |
| zh | jieba (its default dictionary, precise mode) |
| ja | fugashi with the unidic-lite dictionary (MeCab) |
| th | PyThaiNLP, ``newmm`` |
| lo | LaoNLP |
| km | khmer-nltk |
| bo | botok (its ``general`` dialect pack must be installed: botok downloads it on first use) |
| my | syllables (no maintained Burmese word segmenter is on PyPI): a break before each |
|    | consonant that starts a syllable, the rule Myanmar syllable breakers use |

Every other language is split as the matcher splits text (``metadata.ngrams.tokens``), so an
entry built from these tokens can match the text it came from. A language whose segmenter is
not installed is a clear error naming the package."""

import re
from functools import cache

from curation.core.errors import InputError

PACKAGES = {"zh": "jieba", "ja": "fugashi", "th": "pythainlp", "lo": "laonlp", "km": "khmer-nltk", "bo": "botok"}
_DICTIONARIES = {"ja": "unidic-lite"}
# A Myanmar consonant that starts a syllable: not after a virama (stacked), not before an asat
# or a virama (a final consonant).
_MY_SYLLABLE = re.compile(r"(?<!\u1039)([\u1000-\u102a\u103f\u104c-\u104f])(?![\u103a\u1039])")


def segmenter_info(lang: str) -> dict:
    """Name and version of the segmenter of ``lang`` (for the list's manifest)."""
    from importlib.metadata import PackageNotFoundError, version

    package = PACKAGES.get(lang)
    if package is None:
        return {"segmenter": "myanmar-syllables" if lang == "my" else "matcher-spacing"}
    try:
        info = {"segmenter": package, "version": version(package)}
        if lang in _DICTIONARIES:
            info["dictionary"] = f"{_DICTIONARIES[lang]} {version(_DICTIONARIES[lang])}"
        return info
    except PackageNotFoundError:
        raise _missing(lang) from None


def _missing(lang: str) -> InputError:
    extra = f" and {_DICTIONARIES[lang]}" if lang in _DICTIONARIES else ""
    return InputError(f"--lang {lang}: segmenting {lang} needs the {PACKAGES[lang]} package{extra} "
                      f"(pip install -r requirements-worldwide.txt, or .[worldwide])")


def segment(lang: str, text: str) -> list[str]:
    """The words of ``text`` in language ``lang``, whitespace and empty tokens dropped."""
    if lang == "my":
        words = _MY_SYLLABLE.sub(r" \1", text).split()
    elif lang in PACKAGES:
        words = _segmenter(lang)(text)
    else:
        from metadata.ngrams import tokens

        return tokens(text)
    return [w.strip() for w in words if w and w.strip()]


@cache
def _segmenter(lang: str):
    try:
        return _LOADERS[lang]()
    except ImportError:
        raise _missing(lang) from None


def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()  # its own instance: the default dictionary, loaded once
    return lambda text: tokenizer.lcut(text, cut_all=False, HMM=True)


def _fugashi():
    import fugashi
    import unidic_lite

    tagger = fugashi.Tagger(f"-d {unidic_lite.DICDIR}")
    return lambda text: [w.surface for w in tagger(text)]


def _pythainlp():
    from pythainlp.tokenize import word_tokenize

    return lambda text: word_tokenize(text, engine="newmm", keep_whitespace=False)


def _laonlp():
    from laonlp.tokenize import word_tokenize

    return word_tokenize


def _khmer():
    from khmernltk import word_tokenize

    return word_tokenize


def _botok():
    from botok import WordTokenizer

    try:
        tokenizer = WordTokenizer()
    except Exception as exc:  # noqa: BLE001 - botok fails in many ways without its dialect pack
        raise InputError(f"--lang bo: botok has no dialect pack ({exc}); install botok's 'general' pack "
                         f"where it can download it") from None
    return lambda text: [t.text for t in tokenizer.tokenize(text, split_affixes=False)]


_LOADERS = {"zh": _jieba, "ja": _fugashi, "th": _pythainlp, "lo": _laonlp, "km": _khmer, "bo": _botok}
