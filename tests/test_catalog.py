"""The catalogue, the class -> taxa mapping and the risk ordering."""

from __future__ import annotations

import pytest

from app.catalog import load_catalog
from app.errors import ConfigurationError
from app.risk import entry_level, risk_summary
from tests.factories import REPO_ROOT

TAXONOMY = REPO_ROOT / "datasets/taxonomy.yaml"
CATALOG = REPO_ROOT / "datasets/catalog.csv"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(TAXONOMY, CATALOG)


def test_catalog_parses_legal_status(catalog):
    pangolin = catalog.entries["sunda_pangolin"]
    assert (pangolin.cites, pangolin.iucn, pangolin.protected_id) == ("I", "CR", "yes")
    starling = catalog.entries["javan_pied_starling"]
    assert (starling.cites, starling.protected_id) == (None, "no")
    assert catalog.entries["owls"].protected_id == "partly"


def test_catalog_maps_every_detector_class(catalog):
    assert [e.key for e in catalog.for_label("tiger")] == ["sumatran_tiger"]
    assert catalog.for_label("cat") == []
    assert catalog.for_label("not_a_class") == []


def test_catalog_missing_file_names_setting(tmp_path):
    with pytest.raises(ConfigurationError, match="SATWA_CATALOG_PATH"):
        load_catalog(TAXONOMY, tmp_path / "missing.csv")


@pytest.mark.parametrize(
    ("key", "level"),
    [
        ("sunda_pangolin", "critical"),
        ("straw_headed_bulbul", "high"),
        ("black_capped_lory", "high"),
        ("tokay_gecko", "elevated"),
        ("javan_pied_starling", "elevated"),
    ],
)
def test_risk_entry_level_follows_documented_order(catalog, key, level):
    assert entry_level(catalog.entries[key]) == level


def test_risk_summary_reports_most_serious_status(catalog):
    entries = [catalog.entries["tokay_gecko"], catalog.entries["sunda_pangolin"]]
    summary = risk_summary(entries)
    assert summary == {
        "level": "critical",
        "cites": "I",
        "protected_id": "yes",
        "iucn": "CR",
        "species": ["sunda_pangolin"],
    }


def test_risk_summary_without_catalogue_taxa_is_none():
    assert risk_summary([])["level"] == "none"
