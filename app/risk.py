"""A listing's risk summary: the most serious legal status among its detections.

Ordering, most serious first (each catalogue entry gets the first level it meets):

1. ``critical``: CITES Appendix I *and* protected under Indonesian law (P.106/2018):
   commercial trade is banned internationally and is a crime at home.
2. ``high``: CITES Appendix I, or protected under Indonesian law.
3. ``elevated``: CITES Appendix II or III, or IUCN Critically Endangered / Endangered.
4. ``low``: a catalogue taxon with none of the above (e.g. partly protected owls).
5. ``none``: no detection maps to a catalogue taxon (pets, look-alikes, nothing found).

Legal status comes before conservation status because enforcement acts on the law;
IUCN CR/EN only raises an otherwise unlisted taxon to ``elevated``. Because a detector
class may stand for several taxa (taxonomy ``group``), the summary reports the worst
candidate, which errs towards review rather than towards missing a protected animal.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.catalog import IUCN_CATEGORIES, CatalogEntry

LEVELS = ("critical", "high", "elevated", "low", "none")
_CITES_ORDER = ("I", "II", "III")
_PROTECTION_ORDER = ("yes", "partly", "no")


def entry_level(entry: CatalogEntry) -> str:
    """The risk level of one catalogue entry (see the module docstring)."""
    protected = entry.protected_id == "yes"
    if entry.cites == "I" and protected:
        return "critical"
    if entry.cites == "I" or protected:
        return "high"
    if entry.cites in ("II", "III") or entry.iucn in ("CR", "EN"):
        return "elevated"
    return "low"


def risk_summary(entries: Iterable[CatalogEntry]) -> dict[str, object]:
    """Level, the most serious CITES appendix, protection and IUCN category found."""
    entries = list({entry.key: entry for entry in entries}.values())
    if not entries:
        return {
            "level": "none",
            "cites": None,
            "protected_id": None,
            "iucn": None,
            "species": [],
        }
    level = min((entry_level(entry) for entry in entries), key=LEVELS.index)
    return {
        "level": level,
        "cites": _most_serious([e.cites for e in entries], _CITES_ORDER),
        "protected_id": _most_serious(
            [e.protected_id for e in entries], _PROTECTION_ORDER
        ),
        "iucn": _most_serious([e.iucn for e in entries], IUCN_CATEGORIES),
        "species": sorted(e.key for e in entries if entry_level(e) == level),
    }


def _most_serious(values: list[str | None], order: tuple[str, ...]) -> str | None:
    ranked = [value for value in values if value in order]
    return min(ranked, key=order.index) if ranked else None
