"""The heuristic filters of the quality score. Each looks at one alt-text and says whether it
passes (``True``), fails (``False``) or does not apply (``None``: e.g. all-caps in a script
without case, stop words in a language without a list). Alt-text junk is what they target:
camera file names (``DSC_1234.jpg``), generic words ("Image 3", "logo"), calls to action
("click here"), keyword stuffing, shouting, URLs.

| filter | passes when |
| --- | --- |
| ``min_length`` | 2+ words (unspaced scripts: 3+ characters) |
| ``max_length`` | at most 60 words and 300 characters |
| ``alpha_fraction`` | at least 60% of the non-space characters are letters |
| ``repetition`` | 4+ words: at least half of them are distinct (no keyword stuffing) |
| ``file_name`` | no file name (``*.jpg``, ``*.png``, ...; one token joined by ``_``) |
| ``camera_code`` | no camera code (``IMG_1234``, ``DSC01234``, ``PXL_...``), digit run of 6+, hex hash |
| ``url_email`` | no URL, domain name or e-mail address |
| ``boilerplate`` | not a generic word ("image 3", "logo", "untitled") nor a call to action ("click here") |
| ``all_caps`` | 4+ cased letters: under 90% of them upper case |
| ``stop_word`` | 3+ words in a language with a stop-word list: one of them is a stop word |
"""

import re
import unicodedata
from dataclasses import dataclass

from curation.matching.langroute import ALIASES

FILTERS = ("min_length", "max_length", "alpha_fraction", "repetition", "file_name", "camera_code", "url_email",
           "boilerplate", "all_caps", "stop_word")

# Scripts written without spaces between words (Meta CLIP 2's unpadded ones, plus kana):
# their length is counted in characters.
_UNSPACED = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u0f00-\u0fff\u3040-\u30ff\u3400-\u4dbf"
                       "\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")
_WORD = re.compile(r"\w+", re.UNICODE)
_FILE_EXT = re.compile(r"\.(?:jpe?g|png|gif|webp|bmp|tiff?|svg|heic|avif|ico|psd|raw|cr2|nef)\b", re.IGNORECASE)
_JOINED_TOKEN = re.compile(r"^[\w\-]*[_][\w\-]*$")
_CAMERA = re.compile(r"\b(?:IMG|DSC|DSCN|DSCF|DCIM|PICT|GOPR|GP|MVIMG|PXL|VID|MOV|SAM|WP|P|PIC|SDC|CIMG)"
                     r"[_\- ]?\d{3,}|\d{6,}|\b[0-9a-f]{16,}\b", re.IGNORECASE)
_DIGIT = re.compile(r"\d")
_URL_EMAIL = re.compile(r"(?:https?://|ftp://|www\.)\S+|\b[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+\b"
                        r"|\b[\w\-]+\.(?:com|net|org|info|biz|io|co|de|fr|es|it|nl|ru|cn|jp|uk)\b", re.IGNORECASE)

# Generic words that make up a whole alt-text, with an optional number ("Image 3"), and
# calls to action anywhere in it; English is checked for every language (web templates).
_GENERIC = {
    "en": "image img picture pic photo photograph foto logo icon banner thumbnail thumb placeholder spacer "
          "untitled default avatar loading null undefined blank button graphic screenshot figure slide "
          "no image|image not found|featured image|product image|main image|stock photo|profile picture",
    "de": "bild foto grafik abbildung vorschaubild symbolbild platzhalter|kein bild|ohne titel",
    "fr": "image photo illustration vignette logo icône|sans titre|aucune image|image à la une",
    "es": "imagen foto fotografía logo icono miniatura|sin título|sin imagen|imagen destacada",
    "it": "immagine foto logo icona miniatura|senza titolo|nessuna immagine",
    "pt": "imagem foto logo ícone miniatura|sem título|sem imagem",
    "nl": "afbeelding foto logo pictogram|geen afbeelding|zonder titel",
    "zh": "图片 图像 照片 图标 缩略图 标志|无标题|暂无图片",
    "ja": "画像 写真 アイコン サムネイル ロゴ|イメージ|無題|画像なし",
}
_CALLS = {
    "en": "click here|read more|learn more|buy now|shop now|free shipping|add to cart|download now|see more|"
          "click to enlarge|royalty free|stock photo|sign up|subscribe",
    "de": "hier klicken|mehr erfahren|jetzt kaufen|weiterlesen|in den warenkorb|kostenloser versand",
    "fr": "cliquez ici|en savoir plus|acheter maintenant|lire la suite|ajouter au panier|livraison gratuite",
    "es": "haga clic aquí|haz clic aquí|leer más|comprar ahora|añadir al carrito|envío gratis",
    "it": "clicca qui|leggi di più|acquista ora|aggiungi al carrello|spedizione gratuita",
    "pt": "clique aqui|leia mais|compre agora|adicionar ao carrinho|frete grátis",
    "nl": "klik hier|lees meer|koop nu|in winkelwagen",
    "zh": "点击这里|点击查看|立即购买|查看更多|免费送货",
    "ja": "こちらをクリック|詳しくはこちら|今すぐ購入|もっと見る|送料無料",
}
_STOP_WORDS = {
    "en": "a an the of in on at to for with and or by from is are was were be it its this that these those "
          "as near over under into his her their our my your he she they we you i not but",
    "de": "der die das ein eine einer eines einem einen und oder in im an am auf mit von vom zu zum zur für ist "
          "sind war bei aus über unter vor nach dem den des sich nicht",
    "fr": "le la les un une des du de d l et ou en dans sur avec pour par au aux est sont ce cette ces sous "
          "près son sa ses qui que ne pas",
    "es": "el la los las un una unos unas de del y o en con por para al es son este esta estos estas sobre "
          "bajo junto su sus que no",
    "it": "il lo la i gli le un uno una di del della dei e o in con per su al è sono questo questa sotto",
    "pt": "o a os as um uma uns umas de do da dos das e ou em no na nos nas com por para ao é são este esta",
    "nl": "de het een en of in op aan met van voor bij is zijn dit dat deze die onder naar uit",
}


@dataclass(frozen=True)
class LanguageRules:
    """The language-dependent parts of the filters: generic words, calls to action and stop words."""

    generic: frozenset
    calls: re.Pattern
    stop_words: frozenset | None


def _phrases(spec: str) -> list[str]:
    words, _, phrases = spec.partition("|")
    return words.split() + [p for p in phrases.split("|") if p]


_RULES: dict = {}


def rules_for(lang: str) -> LanguageRules:
    """The rules of language ``lang`` (ISO 639-1); every language also gets the English phrases."""
    if lang not in _RULES:
        generic = set(_phrases(_GENERIC["en"])) | set(_phrases(_GENERIC.get(lang, "")))
        calls = [p for p in (_CALLS["en"] + "|" + _CALLS.get(lang, "")).split("|") if p]
        stop = _STOP_WORDS.get(lang)
        # Matched against the lower-cased text: faster than an IGNORECASE alternation.
        _RULES[lang] = LanguageRules(frozenset(generic), re.compile("|".join(re.escape(c.lower()) for c in calls)),
                                     frozenset(stop.split()) if stop else None)
    return _RULES[lang]


def normalise_lang(value) -> str:
    """An ISO 639-1 code from a ``lang`` value (``zh-Hans`` -> ``zh``, ``deu`` -> ``de``); ``""`` when none."""
    if not value or not isinstance(value, str):
        return ""
    base = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    return ALIASES.get(base, base)


def evaluate(text: str, lang: str = "en") -> tuple:
    """Each filter's verdict on ``text``, in ``FILTERS`` order (True, False or None)."""
    rules = rules_for(lang)
    text = unicodedata.normalize("NFC", text or "")
    stripped = text.strip()
    lowered = stripped.lower()
    words = _WORD.findall(lowered)
    # Character classes counted with builtins mapped over the string (no per-character bytecode).
    non_space = len(stripped) - sum(map(str.isspace, stripped))
    unspaced = len(_UNSPACED.findall(stripped)) * 2 > non_space
    upper = sum(map(str.isupper, stripped))
    cased = upper + sum(map(str.islower, stripped))
    bare = " ".join(w for w in words if not w.isdigit())
    return (
        (non_space >= 3) if unspaced else (len(words) >= 2),
        len(words) <= 60 and len(stripped) <= 300,
        non_space > 0 and sum(map(str.isalpha, stripped)) >= 0.6 * non_space,
        (len(set(words)) * 2 > len(words)) if len(words) >= 4 else None,
        not (_FILE_EXT.search(stripped) or (" " not in stripped and _JOINED_TOKEN.match(stripped))),
        # Cheap tests first: every camera code has a digit, every URL or address a '.', ':' or '@'.
        not (_DIGIT.search(stripped) and _CAMERA.search(stripped)),
        not (("." in stripped or ":" in stripped or "@" in stripped) and _URL_EMAIL.search(stripped)),
        not (bare in rules.generic or bare.replace(" ", "") in rules.generic or rules.calls.search(lowered)),
        (upper < 0.9 * cased) if cased >= 4 else None,
        (any(w in rules.stop_words for w in words) if rules.stop_words is not None and not unspaced
         and len(words) >= 3 else None),
    )
