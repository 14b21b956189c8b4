"""Text for the PDF: DICOM person names made readable, and strings made safe for built-in fonts.

The report uses reportlab's built-in Helvetica (WinAnsi / cp1252), so no font file has to ship
or exist on the machine. Characters outside cp1252 are transliterated: accents are dropped via
Unicode decomposition (Ł → L via a small table), Greek and Cyrillic letters are spelled in Latin,
and anything else becomes "?". Names written in ideographic or phonetic groups (PS3.5 6.2.1.1)
show their alphabetic group.
"""

from __future__ import annotations

import unicodedata
from xml.sax.saxutils import escape

# Names and dates are written by the one formatting module, for the screen and the report alike.
from viewer.core.formatting import dicom_date, person_name

__all__ = ["dicom_date", "paragraph_text", "pdf_safe", "person_name"]

PDF_ENCODING = "cp1252"
UNKNOWN_CHAR = "?"

_LATIN_EXTRA = {
    "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i", "Ŀ": "L", "ŀ": "l",
    "Ŧ": "T", "ŧ": "t", "ĸ": "k", "Ŋ": "N", "ŋ": "n", "ſ": "s", "Ə": "E", "ə": "e",
    "→": "->", "←": "<-", "≥": ">=", "≤": "<=", "≠": "!=", "≈": "~", "−": "-",
}  # fmt: skip


def _letter_table(letters: str, spellings: str) -> dict[str, str]:
    return dict(zip(letters, spellings.split(), strict=True))


_CYRILLIC = _letter_table(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ",
    "a b v g d e e zh z i i k l m n o p r s t u f kh ts ch sh shch ' y ' e yu ya i i e g",
)
_GREEK = _letter_table(
    "αβγδεζηθικλμνξοπρστυφχψως", "a v g d e z i th i k l m n x o p r s t y f ch ps o s"
)


def _transliterate_char(char: str) -> str:
    if _encodable(char):
        return char
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if base and _encodable(base):
        return base
    return "".join(_latin_spelling(c) for c in base) or UNKNOWN_CHAR


def _latin_spelling(char: str) -> str:
    if char in _LATIN_EXTRA:
        return _LATIN_EXTRA[char]
    lower = char.lower()
    for table in (_CYRILLIC, _GREEK):
        if lower in table:
            return table[lower].capitalize() if char != lower else table[lower]
    return char if _encodable(char) else UNKNOWN_CHAR


def _encodable(text: str) -> bool:
    try:
        text.encode(PDF_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


_GREEK_DIGRAPHS = {"ου": "ou", "ού": "ou", "Ου": "Ou", "Ού": "Ou", "ΟΥ": "OU"}


def pdf_safe(text: object) -> str:
    """`text` with every character drawable by the built-in PDF fonts (see module docstring)."""
    text = unicodedata.normalize("NFC", str(text))
    for digraph, latin in _GREEK_DIGRAPHS.items():
        text = text.replace(digraph, latin)
    return "".join(_transliterate_char(c) for c in text)


def paragraph_text(text: object) -> str:
    """`pdf_safe` text escaped for a reportlab Paragraph (which reads a little XML)."""
    return escape(pdf_safe(text)).replace("\n", "<br/>")
