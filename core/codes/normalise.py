"""Turning what a person typed into the canonical spelling of a code.

Steps: Unicode NFKC (full-width ``ＡＢＣ１２３`` -> ``ABC123``, ideographic space -> space),
drop whitespace, dashes (ASCII and Unicode) and underscores, upper-case, then apply the
alphabet's confusable map (``O`` -> ``0``, ``I``/``L`` -> ``1`` only where that is unambiguous,
see ``alphabets``). Validation is not done here: the result may still be an invalid code.
"""

from __future__ import annotations

import unicodedata

from core.codes.alphabets import Alphabet

#: Separators people type or paste between groups of a code.
SEPARATORS = " \t\r\n\v\f-_\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_DROP = str.maketrans("", "", SEPARATORS)


def clean(raw: str) -> str:
    """NFKC, separators and whitespace removed, upper-cased; no confusable mapping."""
    text = unicodedata.normalize("NFKC", raw)
    return "".join(text.translate(_DROP).split()).upper()


def normalise(raw: str, alphabet: Alphabet) -> str:
    """The canonical form of ``raw`` for codes over ``alphabet`` (not validated)."""
    return clean(raw).translate(alphabet.translation())
