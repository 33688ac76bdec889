"""Text normalisation and entry padding, exactly as MetaCLIP's reference code does them.

``spacing`` is MetaCLIP's ``spacing()``: wrap the text in spaces, put spaces around
``, . ; : ? !`` and the backtick, and turn tab, newline and carriage return into spaces.
Nothing else changes: no lowercasing, no Unicode normalisation, no whitespace collapsing.
"""

import string

# The spacing rule, defined once: the matcher's Python tables and its compiled kernel
# (``fastmatch``, ``fastmatch_kernel``) derive from these two strings.
WRAPPED = ",.;:?!`"  # each becomes " c "
SPACED = "\t\n\r"  # each becomes " "

# str.translate does all replacements in one pass; since every replacement only adds
# spaces, the result equals the reference's sequence of str.replace calls.
_SPACING_TABLE = str.maketrans({**{c: f" {c} " for c in WRAPPED}, **{c: " " for c in SPACED}})


def spacing_byte_kinds():
    """The spacing rule over UTF-8 bytes (every character it touches is ASCII): a 256-entry
    uint8 table, 1 for a wrapped byte, 2 for a byte that becomes a space, 0 otherwise."""
    import numpy as np

    kinds = np.zeros(256, dtype=np.uint8)
    kinds[[ord(c) for c in WRAPPED]] = 1
    kinds[[ord(c) for c in SPACED]] = 2
    return kinds

# Code point ranges that Meta CLIP 2 treats as "CJK or similar": no space padding there.
CJK_LIKE_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0x2CEB0, 0x2EBEF), (0xF900, 0xFAFF),
    (0x2E80, 0x2EFF), (0x2F00, 0x2FDF), (0x2FF0, 0x2FFF),  # CJK
    (0x0E00, 0x0E7F),  # Thai
    (0x0E80, 0x0EFF),  # Lao
    (0x1000, 0x109F),  # Burmese
    (0x1780, 0x17FF),  # Khmer
    (0x0F00, 0x0FFF),  # Tibetan
)
PUNCTUATION_LIKE = frozenset(string.punctuation + "，。、；：？！“”‘’（）【】《》〈〉「」『』～—")


def spacing(text: str) -> str:
    """Return MetaCLIP's spaced form of ``text`` (see the module docstring)."""
    return f" {text} ".translate(_SPACING_TABLE)


def is_cjk_or_similar(char: str) -> bool:
    """True for a character after or before which Meta CLIP 2 puts no padding space."""
    if char in PUNCTUATION_LIKE:
        return True
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in CJK_LIKE_RANGES)
