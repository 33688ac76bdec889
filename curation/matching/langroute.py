"""Language routing: which per-language metadata list a text's ``lang`` value goes to.

Language-id tools and pools write languages in many forms: py3langid's ISO 639-1 codes
(``zh``), BCP-47 tags with a script or region (``zh-Hans``, ``zh_CN``, ``pt-BR``), ISO 639-2
and 639-3 codes (``zho``, ``chi``, ``jpn``, ``cmn``), and old codes (``iw``, ``in``). A value
is tried, case-insensitively, against the list names in this order:

1. the override file's entry for the value as given (``--lang-map``: a JSON object
   ``{"code": "list name"}``), then
2. the whole tag (``zh-hant``: a list of that name wins),
3. language + script (``zh-hant`` from ``zh-Hant-TW``),
4. the language subtag, with three-letter and old codes mapped to ISO 639-1 by ``ALIASES``.

A value that reaches no list is counted per value (the data card's ``unrouted_langs``) and
its text is matched against the default list.
"""

import json

# ISO 639-2/B, 639-2/T and 639-3 codes (and old two-letter codes) of the languages that
# py3langid identifies, mapped to their ISO 639-1 code.
ALIASES = {
    "afr": "af", "amh": "am", "arg": "an", "ara": "ar", "asm": "as", "aze": "az", "bel": "be", "bul": "bg",
    "ben": "bn", "bod": "bo", "tib": "bo", "bre": "br", "bos": "bs", "cat": "ca", "ces": "cs", "cze": "cs",
    "cym": "cy", "wel": "cy", "dan": "da", "deu": "de", "ger": "de", "dzo": "dz", "ell": "el", "gre": "el",
    "eng": "en", "epo": "eo", "spa": "es", "est": "et", "eus": "eu", "baq": "eu", "fas": "fa", "per": "fa",
    "pes": "fa", "fin": "fi", "fao": "fo", "fra": "fr", "fre": "fr", "gle": "ga", "glg": "gl", "guj": "gu",
    "heb": "he", "iw": "he", "hin": "hi", "hrv": "hr", "hat": "ht", "hun": "hu", "hye": "hy", "arm": "hy",
    "ind": "id", "in": "id", "isl": "is", "ice": "is", "ita": "it", "jpn": "ja", "jav": "jv", "jw": "jv",
    "kat": "ka", "geo": "ka", "kaz": "kk", "khm": "km", "kan": "kn", "kor": "ko", "kur": "ku", "kir": "ky",
    "lat": "la", "ltz": "lb", "lao": "lo", "lit": "lt", "lav": "lv", "mlg": "mg", "mkd": "mk", "mac": "mk",
    "mal": "ml", "mon": "mn", "mar": "mr", "msa": "ms", "may": "ms", "zsm": "ms", "mlt": "mt", "mya": "my",
    "bur": "my", "nob": "nb", "nep": "ne", "nld": "nl", "dut": "nl", "nno": "nn", "nor": "no", "oci": "oc",
    "ori": "or", "pan": "pa", "pol": "pl", "pus": "ps", "por": "pt", "que": "qu", "ron": "ro", "rum": "ro",
    "mo": "ro", "rus": "ru", "kin": "rw", "sme": "se", "sin": "si", "slk": "sk", "slo": "sk", "slv": "sl",
    "sqi": "sq", "alb": "sq", "srp": "sr", "swe": "sv", "swa": "sw", "swh": "sw", "tam": "ta", "tel": "te",
    "tha": "th", "tgl": "tl", "fil": "tl", "tur": "tr", "uig": "ug", "ukr": "uk", "urd": "ur", "vie": "vi",
    "vol": "vo", "wln": "wa", "xho": "xh", "yid": "yi", "ji": "yi", "zho": "zh", "chi": "zh", "cmn": "zh",
    "zul": "zu",
}


def load_lang_map(url: str | None) -> dict:
    """The override file (a JSON object of code -> list name), or an empty map."""
    if not url:
        return {}
    from curation.core.errors import InputError
    from curation.core.io import read_bytes

    try:
        value = json.loads(read_bytes(url))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{url}: not a JSON object of language code -> list name ({exc})") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InputError(f"{url}: not a JSON object of language code -> list name")
    return value


class LangRouter:
    """Routes ``lang`` values to list names; see the module docstring."""

    def __init__(self, lists, overrides: dict | None = None):
        self.by_lower = {name.lower(): name for name in lists}
        self.overrides = dict(overrides or {})
        self._cache: dict = {}

    def route(self, value) -> str | None:
        """The list for ``value``, or None (no list)."""
        if value is None:
            return None
        value = str(value)
        if value not in self._cache:
            self._cache[value] = self._route(value)
        return self._cache[value]

    def _route(self, value: str) -> str | None:
        if value in self.overrides:
            return self.by_lower.get(self.overrides[value].lower())
        tag = value.strip().replace("_", "-").lower()
        parts = [p for p in tag.split("-") if p]
        if not parts:
            return None
        candidates = [tag]
        if len(parts) > 1 and len(parts[1]) == 4:  # language-Script
            candidates.append(f"{parts[0]}-{parts[1]}")
        candidates += [parts[0], ALIASES.get(parts[0], parts[0])]
        return next((self.by_lower[c] for c in candidates if c in self.by_lower), None)
