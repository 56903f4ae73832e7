"""The species catalogue and which catalogue taxa each detector class may stand for."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from app.errors import ConfigurationError

IUCN_CATEGORIES = ("EX", "EW", "CR", "EN", "VU", "NT", "LC", "DD")
"""IUCN Red List categories, most threatened first."""

_CITES_PATTERN = re.compile(r"^\s*(III|II|I)\b")
_IUCN_PATTERN = re.compile(r"\b(" + "|".join(IUCN_CATEGORIES) + r")\b")


@dataclass(frozen=True)
class CatalogEntry:
    """One traded taxon with its legal and conservation status.

    ``cites`` is the CITES appendix ("I", "II", "III") or None when not listed;
    ``iucn`` the first IUCN category the catalogue names; ``protected_id`` whether
    Indonesian law (P.106/2018) protects it: "yes", "partly" or "no". The ``*_text``
    fields keep the catalogue's own wording with its caveats.
    """

    key: str
    scientific_name: str
    common_name: str
    cites: str | None
    iucn: str | None
    protected_id: str
    cites_text: str
    iucn_text: str
    protected_text: str

    def summary(self) -> dict[str, str | None]:
        """The fields a detection carries."""
        return {
            "key": self.key,
            "scientific_name": self.scientific_name,
            "cites": self.cites,
            "iucn": self.iucn,
            "protected_id": self.protected_id,
        }


@dataclass(frozen=True)
class Catalog:
    """Catalogue entries by key, and the entries each label may be: a detector class
    or a second-stage refinement (taxonomy.yaml ``refinements``)."""

    entries: dict[str, CatalogEntry]
    keys_by_label: dict[str, tuple[str, ...]]

    def for_label(self, label: str) -> list[CatalogEntry]:
        return [self.entries[key] for key in self.keys_by_label.get(label, ())]


def load_catalog(taxonomy_path: Path, catalog_path: Path) -> Catalog:
    """Read taxonomy.yaml and catalog.csv; every taxonomy key must be catalogued."""
    entries = {entry.key: entry for entry in _read_entries(catalog_path)}
    keys_by_label = _read_taxonomy(taxonomy_path)
    for label, keys in keys_by_label.items():
        unknown = sorted(set(keys) - entries.keys())
        if unknown:
            raise ConfigurationError(
                f"Class {label!r} in {taxonomy_path} names catalogue keys {unknown} "
                f"that {catalog_path} lacks; fix one of the two files"
            )
    return Catalog(entries, keys_by_label)


def _read_entries(catalog_path: Path) -> list[CatalogEntry]:
    if not catalog_path.is_file():
        raise ConfigurationError(
            f"Species catalogue {catalog_path} not found (SATWA_CATALOG_PATH)"
        )
    with catalog_path.open(newline="", encoding="utf-8") as handle:
        return [_entry(row) for row in csv.DictReader(handle)]


def _entry(row: dict[str, str]) -> CatalogEntry:
    cites = _CITES_PATTERN.match(row["cites_appendix"])
    iucn = _IUCN_PATTERN.search(row["iucn"])
    return CatalogEntry(
        key=row["key"],
        scientific_name=row["scientific_name"],
        common_name=row["common_name_en"],
        cites=cites.group(1) if cites else None,
        iucn=iucn.group(1) if iucn else None,
        protected_id=_protection(row["protected_id"]),
        cites_text=row["cites_appendix"],
        iucn_text=row["iucn"],
        protected_text=row["protected_id"],
    )


def _protection(text: str) -> str:
    lowered = text.strip().lower()
    if lowered.startswith("yes"):
        return "yes"
    if lowered.startswith(("mostly no", "partly")):
        return "partly"
    return "no"


def _read_taxonomy(taxonomy_path: Path) -> dict[str, tuple[str, ...]]:
    if not taxonomy_path.is_file():
        raise ConfigurationError(
            f"Detector taxonomy {taxonomy_path} not found (SATWA_TAXONOMY_PATH)"
        )
    taxonomy = yaml.safe_load(taxonomy_path.read_text(encoding="utf-8"))
    # Second-stage refinements (orangutan, cockatoo...) are labels too.
    labels = {**taxonomy["classes"], **(taxonomy.get("refinements") or {})}
    return {label: tuple(spec.get("catalog") or ()) for label, spec in labels.items()}
