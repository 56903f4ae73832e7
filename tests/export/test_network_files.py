"""`satwa export network`: GraphML and Gephi CSV files from the database."""

from __future__ import annotations

import csv

import networkx as nx
from typer.testing import CliRunner

from app.cli import cli
from tests.factories import encode, listing_form, photo_files, scene


def post(client, platform: str, account: str, caption: str, seed: int) -> None:
    response = client.post(
        "/v1/listings",
        data=listing_form(
            platform=platform,
            account=account,
            listing_url=f"https://{platform}.example/{account}",
            caption=caption,
        ),
        files=photo_files([("p.jpg", encode(scene(seed=seed), "JPEG"))]),
    )
    assert response.status_code == 201, response.text


def test_export_network_writes_graphml_and_gephi_tables(client, settings, tmp_path):
    post(client, "facebook", "toko.satwa", "WA 0813-1111-2222", seed=1)
    post(client, "instagram", "satwa.baru", "wa.me/6281311112222", seed=2)

    result = CliRunner().invoke(
        cli,
        [
            "export",
            "network",
            "--out",
            str(tmp_path),
            "--database-url",
            settings.database_url,
        ],
    )

    assert result.exit_code == 0, result.output
    chart = nx.read_graphml(tmp_path / "network.graphml")
    assert sorted(chart.nodes) == ["facebook/toko.satwa", "instagram/satwa.baru"]
    with (tmp_path / "nodes.csv").open() as nodes:
        assert [row["Id"] for row in csv.DictReader(nodes)] == sorted(chart.nodes)
    with (tmp_path / "edges.csv").open() as edges:
        rows = list(csv.DictReader(edges))
    assert [(row["kinds"], row["shared_numbers"]) for row in rows] == [("contact", "1")]


def test_export_network_unknown_id_fails_naming_option(client, settings, tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "export",
            "network",
            "--network-id",
            "net-404",
            "--out",
            str(tmp_path),
            "--database-url",
            settings.database_url,
        ],
    )

    assert result.exit_code == 2
    assert "net-404" in result.output
