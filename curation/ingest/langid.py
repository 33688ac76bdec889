"""Language identification with py3langid's bundled model (no download at run time)."""

from functools import lru_cache


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def identify(text: str) -> tuple[str, float]:
    """``(ISO 639-1 code, probability)`` of ``text``."""
    lang, prob = _identifier().classify(text)
    return lang, round(float(prob), 4)
