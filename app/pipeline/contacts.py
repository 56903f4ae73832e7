"""Indonesian mobile numbers in listing captions, normalised to one form.

Sellers leave a WhatsApp or phone number in the caption, written many ways: ``0812
3456 7890``, ``0812-3456-7890``, ``0812.3456.7890``, ``+62 812 3456 7890``,
``62-812-3456-7890``, ``(+62) 812...``, ``wa.me/6281234567890``. Every one becomes
``+62`` followed by the national number without its leading 0: ``+6281234567890``.
Digits and signs written in other forms to slip past keyword filters (full-width
``０８１２``, Arabic-Indic ``٠٨١٢``, ``＋``, en dashes, zero-width spaces between digits)
are read as their ASCII equivalents first.

Indonesian mobile numbers start with 8 after the country code (08 nationally) and have
9 to 12 digits after the 0 (10 to 13 digits written nationally). Landline numbers
(021..., 031...) are not contact evidence of one seller in the same way and are ignored.
"""

from __future__ import annotations

import re
import unicodedata

COUNTRY_CODE = "62"
MIN_SUBSCRIBER_DIGITS = 9
"""Digits after the national 0 (or after +62), the shortest mobile numbers."""
MAX_SUBSCRIBER_DIGITS = 12

# A candidate: an optional +62/62/0 prefix, an 8, then digits with single separators
# (space, dot, dash) between them. Digits glued to letters or other digits on either
# side are not a number (order ids, prices).
_SEPARATOR = r"[ .\-]?"
_CANDIDATE = re.compile(
    r"(?<![\w+])"
    r"(?:\(?\+?62\)?" + _SEPARATOR + r"|0)"
    r"(8(?:" + _SEPARATOR + r"\d){8,11})"
    r"(?!\w)"
)
_WA_LINK = re.compile(r"wa\.me/\+?(62\d{9,12})(?!\d)", re.IGNORECASE)


def contact_numbers(caption: str | None) -> list[str]:
    """Every Indonesian mobile number in ``caption``, as ``+628...``, in order, once."""
    if not caption:
        return []
    caption = _plain(caption)
    found = [f"+{match.group(1)}" for match in _WA_LINK.finditer(caption)]
    without_links = _WA_LINK.sub(" ", caption)
    for match in _CANDIDATE.finditer(without_links):
        subscriber = re.sub(r"\D", "", match.group(1))
        if MIN_SUBSCRIBER_DIGITS <= len(subscriber) <= MAX_SUBSCRIBER_DIGITS:
            found.append(f"+{COUNTRY_CODE}{subscriber}")
    return list(dict.fromkeys(number for number in found if _is_mobile(number)))


_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2212"), "-")
"""Hyphens, en and em dashes and the minus sign, written between digit groups."""


def _plain(text: str) -> str:
    """NFKC (full-width signs and digits to ASCII), invisible format characters
    (zero-width spaces, direction marks) dropped, dashes as '-', and every other
    decimal digit (Arabic-Indic, Devanagari...) as its ASCII digit."""
    return "".join(
        str(unicodedata.decimal(char))
        if char.isdecimal() and not char.isascii()
        else char
        for char in unicodedata.normalize("NFKC", text).translate(_DASHES)
        if unicodedata.category(char) != "Cf"
    )


def _is_mobile(number: str) -> bool:
    subscriber = number.removeprefix(f"+{COUNTRY_CODE}")
    return (
        subscriber.startswith("8")
        and MIN_SUBSCRIBER_DIGITS <= len(subscriber) <= MAX_SUBSCRIBER_DIGITS
    )
