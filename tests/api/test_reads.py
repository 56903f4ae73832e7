"""GET /v1/photos, /v1/accounts, /v1/species, /healthz and /docs."""

from __future__ import annotations

import re

import pytest

from tests.factories import bad_input, bad_input_name, listing_form, photo_files


@pytest.fixture
def settings(settings):
    """The detector alone: these tests are about the service, and loading the second
    stage (PyTorch) for each would dominate their time (test_second_stage.py covers
    it)."""
    return settings.model_copy(update={"classifier_weights": None})


def post(client, case: str, **form):
    return client.post(
        "/v1/listings",
        data=listing_form(**form),
        files=photo_files([(bad_input_name(case), bad_input(case))]),
    ).json()


def test_get_photo_lists_every_listing_and_account(client):
    first = post(client, "31a", account="first")
    second = post(
        client, "31a", platform="tokopedia", account="second", listing_url="https://t/2"
    )
    sha256 = first["photos"][0]["sha256"]
    report = client.get(f"/v1/photos/{sha256}").json()
    assert report["sha256"] == sha256
    assert report["media_type"] == "image/jpeg"
    assert report["byte_size"] == len(bad_input("31a"))
    assert [s["listing_id"] for s in report["sightings"]] == [
        first["listing_id"],
        second["listing_id"],
    ]
    assert report["accounts"] == ["facebook/first", "tokopedia/second"]


def test_get_photo_unknown_gives_404(client):
    response = client.get(f"/v1/photos/{'0' * 64}")
    assert response.status_code == 404
    assert client.get(f"/v1/photos/{'0' * 64}/original").status_code == 404


def test_get_account_lists_its_listings_and_photos(client):
    listing = post(client, "28a", platform="instagram", account="burung.murah")
    account = client.get("/v1/accounts/instagram/burung.murah").json()
    assert account["platform"] == "instagram"
    assert [entry["listing_id"] for entry in account["listings"]] == [
        listing["listing_id"]
    ]
    assert account["listings"][0]["photos"] == [listing["photos"][0]["sha256"]]


def test_platform_spelling_is_one_platform_in_listings_and_account_reads(client):
    first = post(client, "28a", platform=" Instagram", account=" burung.murah ")
    again = post(
        client,
        "28a",
        platform="INSTAGRAM",
        account="burung.murah",
        listing_url="https://i/2",
    )

    assert first["platform"] == again["platform"] == "instagram"
    for spelling in ("instagram", "Instagram", "ＩＮＳＴＡＧＲＡＭ"):
        account = client.get(f"/v1/accounts/{spelling}/%20burung.murah%20").json()
        assert account["platform"] == "instagram"
        assert {entry["listing_id"] for entry in account["listings"]} == {
            first["listing_id"],
            again["listing_id"],
        }
    links = client.get("/v1/accounts/InStagram/burung.murah/links")
    assert links.status_code == 200, links.text


def test_get_account_unknown_gives_404(client):
    assert client.get("/v1/accounts/facebook/nobody").status_code == 404


def test_get_species_lists_catalogue_with_detector_labels(client):
    species = {entry["key"]: entry for entry in client.get("/v1/species").json()}
    assert len(species) == 40
    tiger = species["sumatran_tiger"]
    assert (tiger["cites"], tiger["iucn"], tiger["protected_id"]) == ("I", "CR", "yes")
    assert tiger["detector_labels"] == ["tiger"]


def test_healthz_reports_model(client):
    health = client.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["model"]["name"] == "satwa-detector.onnx"


def test_docs_and_openapi_are_served(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/listings" in paths
    assert (
        "multipart/form-data" in paths["/v1/listings"]["post"]["requestBody"]["content"]
    )


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_everything_from_the_service_itself(client, page):
    html = client.get(page).text
    urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", html)
    assert urls, "the page names its script, style and the OpenAPI document"
    assert all(url.startswith("/") for url in urls), urls
    assert "https://" not in html and "http://" not in html
    for url in urls:
        assert client.get(url).status_code == 200, url
    if page == "/docs":
        assert '"validatorUrl": null' in html  # no badge fetched from swagger.io


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "named"),
    [
        ("get", "/v1/nowhere", 404, "not_found", "/v1/nowhere"),
        ("delete", "/v1/listings", 405, "method_not_allowed", "DELETE"),
        ("get", "/v1/networks/export?format=xml", 422, "invalid_request", "'xml'"),
        ("get", "/v1/networks/export?format=xml", 422, "invalid_request", "graphml"),
    ],
)
def test_api_framework_error_has_documented_shape(
    client, method, path, status, code, named
):
    response = client.request(method.upper(), path)
    assert response.status_code == status
    assert list(response.json()) == ["error"]
    error = response.json()["error"]
    assert error["code"] == code
    assert named in error["message"]


def test_get_listing_huge_unknown_id_is_not_echoed_whole(client):
    response = client.get(f"/v1/listings/{'x' * 60_000}")

    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert len(message) < 300 and "60,000 characters" in message


@pytest.mark.parametrize("sha256", ["not-a-sha", "g" * 64, "a" * 63])
def test_get_photo_malformed_sha256_gives_422_naming_it(client, sha256):
    for path in (f"/v1/photos/{sha256}", f"/v1/photos/{sha256}/original"):
        response = client.get(path)
        assert response.status_code == 422, path
        assert "sha256" in response.json()["error"]["message"]


def test_get_photo_upper_case_sha256_finds_the_photo(client):
    sha256 = post(client, "31a")["photos"][0]["sha256"]

    response = client.get(f"/v1/photos/{sha256.upper()}")

    assert response.status_code == 200
    assert response.json()["sha256"] == sha256


def test_healthz_answers_head(client):
    response = client.head("/healthz")

    assert response.status_code == 200
