"""The junk detectors of the quality score. Each looks at one alt-text and says whether it
passes (``True``), fails (``False``) or does not apply (``None``: all-caps in a script without
case, repetition in a text of one or two words). Each targets one family of the junk web crawls
hold; none penalises a noun phrase, the normal form of an alt-text ("golden retriever",
"鲫鱼"), for lacking stop words or verbs, and unspaced scripts are measured in characters.

| filter | fails |
| --- | --- |
| ``min_length`` | fewer than 2 letters ("x", "-", "5"; a Han character counts as 2: "猫" passes) |
| ``max_length`` | over 60 words or 300 characters |
| ``alpha_fraction`` | under half of the non-space characters are letters ("11/03/2014", "300x250") |
| ``repetition`` | keyword stuffing: 3+ words at most half distinct, one word 3+ times and a quarter of the |
| | text, 3+ hashtags, a tag list (``a b; c d; e; f``), one piece repeated ("test test test", "hahaha") |
| ``file_name`` | an image extension (``*.jpg``, ``*.png``, ...), or one token joined by ``_`` or ``.`` |
| ``camera_code`` | a camera or phone code (``IMG_4471``, ``DSC01234``, ``PXL_2023...``, |
| | ``IMG-20190704-WA0012``), a digit run of 6+, a hex hash |
| ``url_email`` | a URL, domain name or e-mail address |
| ``placeholder`` | nothing but a generic word and numbers ("Image 6", "untitled-16", "image001", "logo", |
| | "图片1"), or a bare number ("#12", "15.88") |
| ``boilerplate`` | a navigation word as the whole text ("Home", "Next »", "Weiter"), or a call to action |
| | anywhere ("click here", "Read more", "点击查看") |
| ``size`` | a size: pixel dimensions ("728x90", "1920 × 1080"), ``px``/``KB``/``MB`` amounts |
| ``all_caps`` | 6+ cased letters, 90% of them upper case ("SPECIAL OFFER!!") |

The phrase lists (generic words, navigation, calls to action) hold English, which every
language also gets (web templates are English), and their own phrases for the languages
listed in ``_GENERIC``, ``_NAVIGATION`` and ``_CALLS``.
"""

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from curation.matching.langroute import ALIASES

FILTERS = ("min_length", "max_length", "alpha_fraction", "repetition", "file_name", "camera_code", "url_email",
           "placeholder", "boilerplate", "size", "all_caps")

# Scripts written without spaces between words (Meta CLIP 2's unpadded ones, plus kana and
# hangul's neighbours are spaced): their length is counted in characters.
_UNSPACED = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u0f00-\u0fff\u3040-\u30ff\u3400-\u4dbf"
                       "\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")
# A Han character or a hangul syllable is a word or a syllable, not a letter: it counts as two
# letters toward ``min_length`` ("猫", "공" are words).
_SYLLABIC = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0002ebef]")
_WORD = re.compile(r"\w+", re.UNICODE)
_FILE_EXT = re.compile(r"\.(?:jpe?g|png|gif|webp|bmp|tiff?|svg|heic|heif|avif|ico|psd|raw|cr2|nef|jfif)\b",
                       re.IGNORECASE)
_JOINED_TOKEN = re.compile(r"^[\w\-@]*_[\w\-@]*$|^[\w@]+(?:\.[\w@]+)+$|^\w+@\dx$")
_CAMERA = re.compile(r"\b(?:IMG|DSC|DSCN|DSCF|DCIM|PICT|GOPR|GP|MVIMG|PXL|VID|MOV|SAM|WP|P|PIC|SDC|CIMG|DJI|"
                     r"Screenshot|Screen Shot|Capture)[_\- ]?\d{3,}|\d{6,}|\bWA\d{4}\b|\b[0-9a-f]{16,}\b",
                     re.IGNORECASE)
_DIGIT = re.compile(r"\d")
_URL_EMAIL = re.compile(r"(?:https?://|ftp://|www\.)\S+|\b[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+\b"
                        r"|\b[\w\-]+\.(?:com|net|org|info|biz|io|co|de|fr|es|it|nl|ru|cn|jp|uk|br|pl|in|au|us|eu|tv|"
                        r"me|xyz|top|online|site|shop|html?|php|aspx?)\b", re.IGNORECASE)
_SIZE = re.compile(r"\b\d{2,5}\s*[x×*]\s*\d{2,5}(?:\s*px)?\b|\b\d+(?:[.,]\d+)?\s*(?:px|kb|mb|gb|bytes?|dpi|mp)\b",
                   re.IGNORECASE)
_HASHTAG = re.compile(r"(?:^|\s)#\w")
_TAG_SEPARATOR = re.compile(r"\s*[|;]\s*")
_REPEATED_PIECE = re.compile(r"^(.{1,12}?)\1{2,}$", re.DOTALL)
# What a placeholder may hold beside its generic word: numbers, separators, brackets.
_PLACEHOLDER_NOISE = re.compile(r"[\d\s_\-#.,:;/\\()\[\]{}|+*~'\"«»<>№]+")
# Decorations around a navigation word: arrows, brackets, bullets, punctuation.
_DECORATION = " \t\n»«<>|←→↑↓›‹!?.:;,-–—*#…()[]{}·•/\\\"'"

# Generic words that make up a whole alt-text, alone or with numbers ("Image 3", "image001").
_GENERIC = {
    "en": "image img images picture pic pics photo photos photograph foto logo icon banner thumbnail thumb "
          "placeholder spacer untitled default avatar loading null undefined none blank button graphic "
          "screenshot figure fig slide file attachment media gallery clipart jpg jpeg png gif "
          "|no image|image not found|featured image|product image|main image|stock photo|profile picture"
          "|no photo|photo not available|image coming soon|untitled design",
    "de": "bild bilder foto fotos grafik abbildung abb vorschaubild symbolbild platzhalter titelbild"
          "|kein bild|ohne titel|unbenannt",
    "fr": "image images photo illustration vignette logo icône visuel|sans titre|aucune image|image à la une",
    "es": "imagen imágenes foto fotografía logo icono miniatura|sin título|sin imagen|imagen destacada",
    "it": "immagine immagini foto logo icona miniatura|senza titolo|nessuna immagine",
    "pt": "imagem imagens foto logo ícone miniatura|sem título|sem imagem",
    "nl": "afbeelding foto logo pictogram|geen afbeelding|zonder titel",
    "ru": "изображение картинка фото фотография логотип иконка|без названия|нет изображения",
    "pl": "obraz zdjęcie grafika logo ikona|bez tytułu",
    "tr": "resim görsel fotoğraf logo simge|başlıksız",
    "zh": "图片 图像 照片 图标 缩略图 标志 图 配图 插图|无标题|暂无图片|未命名",
    "ja": "画像 写真 アイコン サムネイル ロゴ イメージ 図|無題|画像なし|イメージ画像",
    "ko": "이미지 사진 그림 아이콘 썸네일 로고|제목 없음",
    "th": "รูปภาพ รูป ภาพ ไอคอน โลโก้",
}
# Navigation words: junk when they are the whole alt-text (a button or link image).
_NAVIGATION = {
    "en": "home next previous prev back forward menu search close share print top up down left right more "
          "login logout subscribe facebook twitter pinterest instagram linkedin youtube whatsapp email rss cart "
          "sale new hot free offer deal "
          "|back to top|go to top|log in|log out|sign in|sign out|main menu|next page|previous page"
          "|share this|follow us|contact us|zoom in|zoom out",
    "de": "startseite weiter zurück suche suchen schließen teilen drucken menü anmelden abmelden warenkorb"
          "|nach oben|nächste seite|vorherige seite",
    "fr": "accueil suivant précédent rechercher recherche fermer partager imprimer menu connexion panier"
          "|retour en haut|page suivante|page précédente",
    "es": "inicio siguiente anterior buscar cerrar compartir imprimir menú carrito|volver arriba|página siguiente",
    "it": "avanti indietro cerca chiudi condividi stampa menu carrello|torna su|pagina successiva",
    "pt": "início próximo anterior pesquisar fechar compartilhar imprimir carrinho|voltar ao topo",
    "nl": "volgende vorige zoeken sluiten delen winkelwagen|naar boven",
    "ru": "главная далее назад поиск закрыть поделиться меню корзина|наверх",
    "zh": "首页 主页 下一页 上一页 下一张 上一张 搜索 关闭 分享 返回 菜单 登录 更多|返回顶部",
    "ja": "ホーム 次へ 前へ 戻る 検索 閉じる シェア メニュー ログイン トップ|トップへ戻る|ページトップ",
    "ko": "홈 다음 이전 검색 닫기 공유 메뉴 로그인 더보기|맨 위로",
    "th": "หน้าแรก ถัดไป ก่อนหน้า ค้นหา ปิด แชร์ เมนู",
}
# Calls to action: junk wherever they occur in an alt-text (phrases separated by "|").
_CALLS = {
    "en": "click here|click to enlarge|% off|click to view|click for|tap to view|read more|learn more|buy now|"
          "shop now|"
          "order now|free shipping|add to cart|add to basket|download now|download free|see more|view more|"
          "view details|more info|continue reading|royalty free|stock photo|sign up|subscribe now|"
          "click image|enlarge image|view larger|view full size|watch now",
    "de": "hier klicken|klicken sie hier|zum vergrößern|mehr erfahren|jetzt kaufen|jetzt bestellen|weiterlesen|"
          "in den warenkorb|kostenloser versand|mehr lesen|mehr infos",
    "fr": "cliquez ici|cliquez pour agrandir|en savoir plus|acheter maintenant|lire la suite|ajouter au panier|"
          "livraison gratuite|voir plus",
    "es": "haga clic aquí|haz clic aquí|clic aquí|leer más|comprar ahora|añadir al carrito|envío gratis|ver más",
    "it": "clicca qui|leggi di più|acquista ora|aggiungi al carrello|spedizione gratuita|scopri di più",
    "pt": "clique aqui|leia mais|compre agora|adicionar ao carrinho|frete grátis|saiba mais|veja mais",
    "nl": "klik hier|lees meer|koop nu|in winkelwagen|meer info",
    "ru": "нажмите здесь|подробнее|купить сейчас|читать далее|в корзину",
    "zh": "点击这里|点击查看|点击进入|点击放大|立即购买|查看更多|查看详情|免费送货|了解更多|阅读更多",
    "ja": "こちらをクリック|クリックで拡大|詳しくはこちら|詳細はこちら|今すぐ購入|もっと見る|送料無料|続きを読む",
    "ko": "여기를 클릭|클릭하세요|더 보기|지금 구매|자세히 보기|무료 배송",
    "th": "คลิกที่นี่|อ่านต่อ|ดูเพิ่มเติม|ซื้อเลย",
}


@dataclass(frozen=True)
class LanguageRules:
    """The language-dependent parts of the filters: generic words, navigation words, calls to action."""

    generic: frozenset
    navigation: frozenset
    calls: re.Pattern


def _phrases(spec: str) -> list[str]:
    words, _, phrases = spec.partition("|")
    return words.split() + [p for p in phrases.split("|") if p]


_RULES: dict = {}


def rules_for(lang: str) -> LanguageRules:
    """The rules of language ``lang`` (ISO 639-1); every language also gets the English phrases."""
    if lang not in _RULES:
        def both(table):
            phrases = _phrases(table["en"]) + (_phrases(table.get(lang, "")) if lang != "en" else [])
            return [p.lower() for p in phrases]

        generic = both(_GENERIC)
        # Compared with the text's noise removed, so the generic phrases are kept without spaces too.
        generic_set = frozenset(generic + [p.replace(" ", "") for p in generic])
        own = _CALLS.get(lang, "").split("|") if lang != "en" else []
        calls = [c.lower() for c in _CALLS["en"].split("|") + own if c]
        # Matched against the lower-cased text: faster than an IGNORECASE alternation.
        _RULES[lang] = LanguageRules(generic_set, frozenset(both(_NAVIGATION)),
                                     re.compile("|".join(re.escape(c) for c in calls)))
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
    stripped = unicodedata.normalize("NFC", text or "").strip()
    lowered = stripped.lower()
    words = _WORD.findall(lowered)
    # Character classes counted with builtins mapped over the string (no per-character bytecode).
    non_space = len(stripped) - sum(map(str.isspace, stripped))
    letters = sum(map(str.isalpha, stripped))
    unspaced = len(_UNSPACED.findall(stripped)) * 2 > non_space
    upper = sum(map(str.isupper, stripped))
    cased = upper + sum(map(str.islower, stripped))
    core = " ".join(lowered.strip(_DECORATION).split())
    has_digit = _DIGIT.search(stripped) is not None
    return (
        letters >= 2 or letters + len(_SYLLABIC.findall(stripped)) >= 2,
        len(words) <= 60 and len(stripped) <= 300,
        non_space > 0 and letters * 2 >= non_space,
        _repetition(lowered, words, unspaced),
        not (_FILE_EXT.search(stripped) or (" " not in stripped and _JOINED_TOKEN.match(stripped))),
        # Cheap tests first: every camera code has a digit, every URL or address a '.', ':' or '@'.
        not (has_digit and _CAMERA.search(stripped)),
        not (("." in stripped or ":" in stripped or "@" in stripped) and _URL_EMAIL.search(stripped)),
        # A placeholder is a generic word and numbers: a few words at most.
        len(words) > 6 or not _is_placeholder(lowered, rules, has_digit),
        not (core in rules.navigation or rules.calls.search(lowered)),
        not (has_digit and _SIZE.search(stripped)),
        (upper < 0.9 * cased) if cased >= 6 else None,
    )


def _repetition(lowered: str, words: list[str], unspaced: bool):
    """False for keyword stuffing or a repeated token; None when there is too little to tell."""
    distinct = len(set(words))
    if distinct <= 12:
        compact = "".join(lowered.split())
        if len(compact) >= 4 and _REPEATED_PIECE.match(compact):
            return False
    if "#" in lowered and len(_HASHTAG.findall(lowered)) >= 3:
        return False
    if ("|" in lowered or ";" in lowered) and len(_TAG_SEPARATOR.findall(lowered)) >= 3 and all(
            len(part.split()) <= 3 for part in _TAG_SEPARATOR.split(lowered)):
        return False  # a tag list: "sale wallpaper; cat cute; hd | design"
    if len(words) < 3 or unspaced:
        return None if len(words) < 3 else True
    if distinct * 2 <= len(words):
        return False
    if distinct > len(words) - 2:
        return True  # no word said three times
    # One content word (3+ letters) said three times and a quarter of the text: stuffing.
    content = Counter(w for w in words if len(w) >= 3 and not w.isdigit())
    count = content.most_common(1)[0][1] if content else 0
    return not (count >= 3 and count * 4 >= len(words))


def _is_placeholder(lowered: str, rules: LanguageRules, has_digit: bool) -> bool:
    """Nothing but a generic word (and numbers, separators), or nothing but a number."""
    rest = _PLACEHOLDER_NOISE.sub(" ", lowered).strip()
    if not rest:
        return has_digit
    return rest in rules.generic or rest.replace(" ", "") in rules.generic
