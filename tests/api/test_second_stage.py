"""The crop classifier through the real app: labels say which stage produced them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.api.app import create_app
from tests.factories import dataset_photos, listing_form, photo_files


def _post(client: TestClient, folder: str, count: int = 2) -> dict:
    paths = dataset_photos(folder, count)
    response = client.post(
        "/v1/listings",
        data=listing_form(),
        files=photo_files([(path.name, path.read_bytes()) for path in paths]),
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_post_listing_every_detection_names_a_known_stage(client):
    answer = _post(client, "birds525_relevant/COCKATOO", count=3)

    detections = [d for photo in answer["photos"] for d in photo["detections"]]
    assert detections
    assert {d["stage"] for d in detections} <= {"detector", "classifier"}
    for detection in detections:
        if detection["stage"] == "classifier":
            assert detection["model"]["name"] == "satwa-classifier.onnx"
        else:
            assert detection["model"]["name"] == "satwa-detector.onnx"
    assert client.get(f"/v1/listings/{answer['listing_id']}").json() == answer


def test_post_listing_cockatoo_photos_refined_with_catalogue_keys(client):
    answer = _post(client, "birds525_relevant/COCKATOO", count=3)

    refined = [
        d
        for photo in answer["photos"]
        for d in photo["detections"]
        if d["label"] == "cockatoo"
    ]
    assert refined, "ImageNet knows sulphur-crested cockatoos"
    for detection in refined:
        assert detection["stage"] == "classifier"
        keys = {entry["key"] for entry in detection["catalog"]}
        assert keys == {"yellow_crested_cockatoo", "palm_cockatoo"}


def test_post_listing_classifier_off_every_label_from_detector(settings):
    off = settings.model_copy(update={"classifier_weights": None})
    with TestClient(create_app(off)) as client:
        answer = _post(client, "birds525_relevant/COCKATOO", count=3)

    stages = {d["stage"] for photo in answer["photos"] for d in photo["detections"]}
    assert stages <= {"detector"}
