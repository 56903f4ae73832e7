"""Account links and seller networks through the real app on both databases."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import networkx as nx
import pytest
from PIL import Image

from tests import reposts
from tests.factories import dataset_photos, encode, listing_form, photo_files

FIRST_POST = "2026-03-01T08:00:00+00:00"
LATER_POST = "2026-05-20T19:30:00+00:00"


@pytest.fixture(scope="module")
def photos() -> list[Image.Image]:
    paths = dataset_photos("reptiles_amphibians_kaggle", 3, seed=4)
    return [Image.open(path).convert("RGB") for path in paths]


def post(client, image: Image.Image, platform: str, account: str, url: str, **extra):
    response = client.post(
        "/v1/listings",
        data=listing_form(platform=platform, account=account, listing_url=url, **extra),
        files=photo_files([("photo.jpg", encode(image, "JPEG", quality=90))]),
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_links_reposted_copy_from_other_platform_names_first_account(client, photos):
    first = post(
        client,
        photos[0],
        "facebook",
        "reptil.jaya",
        "https://fb.example/1",
        posted_at=FIRST_POST,
    )
    copy = reposts.recompressed(
        reposts.captioned(reposts.cropped(reposts.mirrored(photos[0]), 0.08, 0.3)), 40
    )
    second = post(
        client,
        copy,
        "instagram",
        "reptil.baru",
        "https://ig.example/p/1",
        posted_at=LATER_POST,
        caption="READY STOCK murah!!",
    )

    original_sha = first["photos"][0]["sha256"]
    copy_sha = second["photos"][0]["sha256"]
    assert [m["sha256"] for m in second["photos"][0]["matches"]] == [original_sha]
    links = client.get("/v1/accounts/instagram/reptil.baru/links").json()["links"]
    assert [(link["platform"], link["account"], link["kind"]) for link in links] == [
        ("facebook", "reptil.jaya", "photo")
    ]
    assert links[0]["weight"] == 1.0
    evidence = links[0]["evidence"][0]
    assert evidence["photo_sha256"] == copy_sha
    assert evidence["linked_photo_sha256"] == original_sha
    assert evidence["distance"] <= client.app.state.services.settings.match_max_distance
    assert datetime.fromisoformat(evidence["first_posted_at"]) == datetime(
        2026, 5, 20, 19, 30, tzinfo=UTC
    )
    assert datetime.fromisoformat(evidence["linked_first_posted_at"]) == datetime(
        2026, 3, 1, 8, 0, tzinfo=UTC
    )


def test_networks_stock_photo_from_five_unrelated_accounts_forms_none(client, photos):
    for number in range(5):
        post(
            client,
            photos[1],
            "tokopedia",
            f"shop{number}",
            f"https://t.example/{number}",
        )

    links = client.get("/v1/accounts/tokopedia/shop0/links").json()["links"]
    assert sorted(link["account"] for link in links) == [
        "shop1",
        "shop2",
        "shop3",
        "shop4",
    ]
    assert {link["weight"] for link in links} == {0.25}
    assert client.get("/v1/networks").json()["networks"] == []


def test_post_phone_screenshot_of_stored_photo_matches_it(client, photos):
    stored = post(client, photos[2], "facebook", "seller.one", "https://fb.example/2")
    screenshot = reposts.phone_screenshot(photos[2])
    answer = post(client, screenshot, "instagram", "seller.two", "https://ig.example/2")

    matches = answer["photos"][0]["matches"]
    assert [m["sha256"] for m in matches] == [stored["photos"][0]["sha256"]]
    assert matches[0]["account"] == "seller.one"


def test_network_shared_photo_and_number_show_first_poster_and_species(client, photos):
    post(
        client, photos[0], "facebook", "a", "https://fb.example/a", posted_at=LATER_POST
    )
    post(
        client,
        reposts.resized(photos[0], 0.6),
        "instagram",
        "b",
        "https://ig.example/b",
        posted_at=FIRST_POST,
        caption="WA 0812-3456-7890",
    )
    post(
        client,
        photos[1],
        "tokopedia",
        "c",
        "https://t.example/c",
        caption="hub wa.me/6281234567890",
    )

    networks = client.get("/v1/networks").json()["networks"]
    assert [n["account_count"] for n in networks] == [3]
    detail = client.get(f"/v1/networks/{networks[0]['network_id']}").json()
    assert {(a["platform"], a["account"]) for a in detail["accounts"]} == {
        ("facebook", "a"),
        ("instagram", "b"),
        ("tokopedia", "c"),
    }
    assert {link["kind"] for link in detail["links"]} == {"photo", "contact"}
    first_poster = detail["shared_photos"][0]["first_posted_by"]
    assert (first_poster["platform"], first_poster["account"]) == ("instagram", "b")
    assert detail["first_activity"].startswith("2026-03-01")
    assert isinstance(detail["species"], list)


def test_network_export_gives_graphml_and_gephi_csv(client, photos):
    post(
        client,
        photos[0],
        "facebook",
        "a",
        "https://fb.example/a",
        caption="0812 3456 7890",
    )
    post(
        client,
        photos[1],
        "instagram",
        "b",
        "https://ig.example/b",
        caption="+62 812 3456 7890",
    )
    network_id = client.get("/v1/networks").json()["networks"][0]["network_id"]

    graphml = client.get("/v1/networks/export", params={"format": "graphml"})
    chart = nx.read_graphml(io.BytesIO(graphml.content))
    assert sorted(chart.nodes) == ["facebook/a", "instagram/b"]
    assert chart.edges["facebook/a", "instagram/b"]["kinds"] == "contact"
    edges = client.get(
        "/v1/networks/export", params={"format": "edges.csv", "network_id": network_id}
    )
    assert edges.headers["content-type"].startswith("text/csv")
    assert edges.text.splitlines()[1].startswith(
        "facebook/a,instagram/b,Undirected,1.0"
    )


def test_network_csv_export_cells_never_start_a_formula(client, photos):
    for photo, account in zip(photos, ("=HYPERLINK(1)", "@SUM(1)"), strict=False):
        post(
            client,
            photo,
            "facebook",
            account,
            f"https://fb.example/{account}",
            caption="0812 3456 7890",
        )

    for export_format in ("nodes.csv", "edges.csv"):
        text = client.get("/v1/networks/export", params={"format": export_format}).text
        cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
        assert "'=HYPERLINK(1)" in cells or export_format == "edges.csv"
        assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]


def test_links_of_unknown_account_gives_404_naming_it(client):
    response = client.get("/v1/accounts/facebook/nobody/links")
    assert response.status_code == 404
    assert "'nobody'" in response.json()["error"]["message"]


def test_get_unknown_network_gives_404(client):
    assert client.get("/v1/networks/net-999").status_code == 404
