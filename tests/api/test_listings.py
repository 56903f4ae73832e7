"""POST and GET /v1/listings through the real app on both databases."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from app.risk import LEVELS
from tests.factories import (
    bad_input,
    bad_input_name,
    dataset_photos,
    encode,
    listing_form,
    multi_page_tiff,
    noisy_png,
    photo_files,
    scene,
)

SCORED_CASES = [
    "01a",
    "01b",
    "01c",
    "02",
    "04",
    "06",
    "07",
    "08",
    "09",
    "10b",
    "12",
    "13",
    "16",
    "19a",
    "19b",
    "24a",
    "24b",
    "26",
    "27",
    "28a",
    "28b",
    "28c",
    "31a",
    "31b",
    "32a",
    "32b",
    "33",
    "34",
    "36",
]
REFUSED_CASES = [
    ("10a", 422, "corrupt_photo", "truncated"),
    ("15", 422, "corrupt_photo", "HEIC"),
    ("17a", 413, "photo_over_limit", "SATWA_MAX_PIXELS"),
    ("17b", 413, "photo_over_limit", "SATWA_MAX_PIXELS"),
    ("18", 422, "empty_photo", "empty file"),
    ("20a", 415, "unsupported_media_type", "SVG"),
    ("20b", 415, "unsupported_media_type", "SVG"),
]


@pytest.fixture
def settings(settings):
    """The detector alone: these tests are about the service, and loading the second
    stage (PyTorch) for each would dominate their time (test_second_stage.py covers
    it)."""
    return settings.model_copy(update={"classifier_weights": None})


def post(client, photos, **form):
    return client.post(
        "/v1/listings", data=listing_form(**form), files=photo_files(photos)
    )


def case_photo(case: str) -> tuple[str, bytes]:
    return bad_input_name(case), bad_input(case)


def test_post_listing_real_photos_returns_full_answer(client):
    paths = dataset_photos("tiger_video_frames_yolo", 2)
    response = post(client, [(p.name, p.read_bytes()) for p in paths])
    assert response.status_code == 201
    answer = response.json()
    assert len(answer["listing_id"]) == 32
    assert answer["risk"]["level"] in ("critical", "high", "elevated", "low", "none")
    for photo, path in zip(answer["photos"], paths, strict=True):
        assert photo["filename"] == path.name
        assert photo["status"] == "scored"
        assert len(photo["sha256"]) == 64 and len(photo["phash"]) == 16
        assert photo["width"] > 0 and photo["height"] > 0
        assert photo["matches"] == []
    assert client.get(f"/v1/listings/{answer['listing_id']}").json() == answer


@pytest.mark.parametrize("case", SCORED_CASES)
def test_post_listing_bad_input_case_is_scored(client, case):
    response = post(client, [case_photo(case)])
    assert response.status_code == 201, response.text
    (photo,) = response.json()["photos"]
    assert photo["status"] == "scored"
    assert photo["width"] >= 1 and len(photo["phash"]) == 16


@pytest.mark.parametrize(("case", "status", "code", "named"), REFUSED_CASES)
def test_post_listing_bad_input_case_is_refused_clearly(
    client, case, status, code, named
):
    response = post(client, [case_photo(case)])
    assert response.status_code == status
    answer = response.json()
    assert answer["error"]["code"] == code
    assert named in answer["error"]["message"]
    assert bad_input_name(case) in answer["error"]["message"]
    assert answer["photos"][0]["status"] == "rejected"


def test_post_listing_truncated_photo_rejected_while_others_scored(client):
    response = post(client, [case_photo("10a"), case_photo("01c"), case_photo("36")])
    assert response.status_code == 201
    truncated, *good = response.json()["photos"]
    assert truncated["status"] == "rejected"
    assert truncated["error"]["code"] == "corrupt_photo"
    assert "10a_truncated_half.jpg" in truncated["error"]["message"]
    assert [photo["status"] for photo in good] == ["scored", "scored"]


@pytest.mark.parametrize(
    ("case", "media_type"), [("19a", "image/png"), ("19b", "image/webp")]
)
def test_get_original_serves_real_media_type_and_exact_bytes(client, case, media_type):
    (photo,) = post(client, [case_photo(case)]).json()["photos"]
    original = client.get(f"/v1/photos/{photo['sha256']}/original")
    assert original.headers["content-type"] == media_type
    assert original.content == bad_input(case)


def test_post_same_listing_twice_stores_nothing_new(client):
    photos = [case_photo("28a"), case_photo("31a")]
    first = post(client, photos)
    second = post(client, photos)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()


def test_post_same_url_with_other_photos_is_a_new_listing(client):
    first = post(client, [case_photo("28a")])
    second = post(client, [case_photo("31a")])
    assert second.status_code == 201
    assert second.json()["listing_id"] != first.json()["listing_id"]


@pytest.mark.parametrize(
    "other", [{"account": "second.seller"}, {"platform": "instagram"}]
)
def test_post_same_listing_from_other_account_is_a_new_listing(client, other):
    photos = [case_photo("28a")]
    first = post(client, photos, account="first.seller")
    second = post(client, photos, **{"account": "first.seller", **other})
    again = post(client, photos, **{"account": "first.seller", **other})
    assert (first.status_code, second.status_code, again.status_code) == (
        201,
        201,
        200,
    )
    assert second.json()["listing_id"] != first.json()["listing_id"]
    assert again.json() == second.json()
    (match,) = second.json()["photos"][0]["matches"]
    assert (match["listing_id"], match["platform"], match["account"]) == (
        first.json()["listing_id"],
        "facebook",
        "first.seller",
    )


def test_post_same_photo_from_second_account_matches_first_account(client):
    path = dataset_photos("eagles_owls_web", 1)[0]
    first = post(client, [(path.name, path.read_bytes())], account="first.seller")
    second = post(
        client,
        [(path.name, path.read_bytes())],
        platform="instagram",
        account="second.seller",
        listing_url="https://instagram.com/p/2",
    )
    (match,) = second.json()["photos"][0]["matches"]
    assert match == {
        "sha256": first.json()["photos"][0]["sha256"],
        "distance": 0,
        "listing_id": first.json()["listing_id"],
        "platform": "facebook",
        "account": "first.seller",
    }


@pytest.mark.parametrize(
    ("earlier", "later", "max_distance"),
    [("28a", "28b", 10), ("31a", "31b", 10), ("32a", "32b", 2)],
)
def test_post_near_duplicate_lists_earlier_photo(client, earlier, later, max_distance):
    first = post(client, [case_photo(earlier)], account="a")
    second = post(client, [case_photo(later)], account="b", listing_url="https://x/b")
    matches = second.json()["photos"][0]["matches"]
    assert [m["listing_id"] for m in matches] == [first.json()["listing_id"]]
    assert matches[0]["account"] == "a"
    assert matches[0]["distance"] <= max_distance


def test_post_rotated_copy_is_not_matched(client):
    # Documented in README: rotations by 90 degrees are not matched (mirrors are).
    post(client, [case_photo("28a")], account="a")
    second = post(client, [case_photo("28c")], account="b", listing_url="https://x/b")
    assert second.json()["photos"][0]["matches"] == []


def test_post_single_colour_photos_never_match(client):
    post(client, [case_photo("24a")], account="a")
    second = post(client, [case_photo("24b")], account="b", listing_url="https://x/b")
    third = post(client, [case_photo("24a")], account="c", listing_url="https://x/c")
    assert second.json()["photos"][0]["matches"] == []
    assert [m["account"] for m in third.json()["photos"][0]["matches"]] == ["a"]
    assert third.json()["photos"][0]["matches"][0]["distance"] == 0


def test_post_listing_records_form_fields(client):
    response = post(
        client,
        [case_photo("01c")],
        caption="Jual kakatua jambul kuning",
        posted_at="2026-12-01T09:30:00+07:00",
        price="Rp 1.500.000",
    )
    answer = response.json()
    assert answer["caption"] == "Jual kakatua jambul kuning"
    assert answer["posted_at"] == "2026-12-01T02:30:00Z"
    assert answer["price"] == "Rp 1.500.000"


@pytest.mark.parametrize(
    ("form", "named"),
    [
        ({"platform": ""}, "platform"),
        ({"posted_at": "yesterday"}, "posted_at"),
        ({"account": "x" * 300}, "account"),
    ],
)
def test_post_listing_bad_fields_give_422_naming_field(client, form, named):
    response = post(client, [case_photo("01c")], **form)
    assert response.status_code == 422
    assert named in response.json()["error"]["message"]


def test_post_listing_tiff_large_second_page_gives_413(client):
    tiff = multi_page_tiff((64, 64), (7000, 7000))
    response = post(client, [("pages.tiff", tiff)])
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["setting"] == "SATWA_MAX_PIXELS"
    assert error["limit"] == 40_000_000
    assert "page 2 has 49,000,000 pixels" in error["message"]
    assert "SATWA_MAX_PIXELS" in error["message"]


@pytest.mark.parametrize(
    "posted_at", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00"]
)
def test_post_listing_posted_at_out_of_range_gives_422_storing_nothing(
    client, settings, posted_at
):
    response = post(client, [case_photo("01c")], posted_at=posted_at)
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert "posted_at" in message
    assert "0001-01-01T00:00:00Z" in message and "9999-12-31T23:59:59Z" in message
    stored = settings.evidence_dir.rglob("*")
    assert [path for path in stored if path.is_file()] == []


@pytest.mark.parametrize(
    "field", ["platform", "account", "listing_url", "caption", "price"]
)
def test_post_listing_nul_in_text_field_gives_422_naming_field(client, field):
    value = {"listing_url": "https://shop.example/1"}.get(field, "seller")
    form = {field: value[:3] + "\x00" + value[3:]}
    response = post(client, [case_photo("01c")], **form)
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert repr(field) in message and "control character" in message


@pytest.mark.parametrize("field", ["platform", "account"])
def test_post_listing_slash_in_account_path_field_gives_422(client, field):
    response = post(client, [case_photo("01c")], **{field: "shop/seller"})
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert repr(field) in message and "'/'" in message


@pytest.mark.parametrize(
    ("platform", "named"), [("．．", "path step"), ("‥", "path step"), ("a／b", "'/'")]
)
def test_post_listing_platform_is_checked_as_stored_nfkc(client, platform, named):
    response = post(client, [case_photo("01c")], platform=platform)
    assert response.status_code == 422
    assert named in response.json()["error"]["message"]


@pytest.mark.parametrize("field", ["platform", "account"])
@pytest.mark.parametrize("step", [".", "..", " .. "])
def test_post_listing_dot_path_step_in_account_path_field_gives_422(
    client, field, step
):
    response = post(client, [case_photo("01c")], **{field: step})
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert repr(field) in message and "path step" in message


def test_post_listing_without_photos_gives_422(client):
    response = client.post("/v1/listings", data=listing_form())
    assert response.status_code == 422
    assert "photos" in response.json()["error"]["message"]


def test_post_listing_over_photo_count_names_setting(client):
    photos = [(f"p{n}.png", encode(scene(32, 32, seed=n), "PNG")) for n in range(1001)]
    response = post(client, photos)
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["setting"] == "SATWA_MAX_PHOTOS_PER_LISTING"
    assert error["limit"] == 20


def test_post_listing_over_photo_bytes_names_setting(client, settings):
    client.app.state.services.settings = settings.model_copy(
        update={"max_photo_bytes": 1000}
    )
    response = post(client, [case_photo("31a"), case_photo("26")])
    assert response.status_code == 201
    refused, small = response.json()["photos"]
    assert refused["error"]["code"] == "photo_over_limit"
    assert refused["error"]["setting"] == "SATWA_MAX_PHOTO_BYTES"
    assert small["status"] == "scored"


def test_post_listing_30_mb_body_gives_413_from_header(client):
    padded = bad_input("31a") + bytes(30 * 2**20)
    response = post(client, [("padded.jpg", padded)])
    assert response.status_code == 413
    assert response.json()["error"]["setting"] == "SATWA_MAX_REQUEST_BYTES"


def test_post_listing_30_mb_chunked_body_gives_413_when_limit_passed(client):
    boundary = "satwa-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; '
        'filename="padded.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
    ).encode()

    def body():
        yield head + bad_input("31a")
        for _ in range(30):
            yield bytes(2**20)
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        "/v1/listings",
        content=body(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["setting"] == "SATWA_MAX_REQUEST_BYTES"


def test_post_listing_6_mb_photo_is_scored(client):
    big = noisy_png(1600, 1400)
    assert len(big) > 6 * 10**6
    response = post(client, [("big.png", big)])
    assert response.status_code == 201
    assert response.json()["photos"][0]["width"] == 1600


def test_get_listing_unknown_gives_404(client):
    response = client.get("/v1/listings/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_post_listing_detections_carry_catalogue_and_model(client, settings):
    scorer = client.app.state.services.scoring.scorer
    scorer.detector.options = replace(scorer.detector.options, confidence_threshold=0.0)
    path = dataset_photos("tiger_video_frames_yolo", 1)[0]
    answer = post(client, [(path.name, path.read_bytes())]).json()
    detections = answer["photos"][0]["detections"]
    assert detections, "a zero threshold keeps the best candidates"
    for detection in detections:
        x1, y1, x2, y2 = detection["box"]
        assert 0 <= x1 <= x2 <= answer["photos"][0]["width"]
        assert 0 <= y1 <= y2 <= answer["photos"][0]["height"]
        assert detection["stage"] == "detector"
        assert detection["model"]["name"] == "satwa-detector.onnx"
        assert len(detection["model"]["sha256"]) == 64
    tiger = [d for d in detections if d["label"] == "tiger"]
    if tiger:
        assert tiger[0]["catalog"][0]["key"] == "sumatran_tiger"
        assert answer["risk"]["level"] == "critical"
    assert client.get(f"/v1/listings/{answer['listing_id']}").json() == answer


def test_post_listing_logs_one_info_line(client, caplog):
    with caplog.at_level("INFO", logger="app.pipeline.ingest"):
        answer = post(client, [case_photo("01c"), case_photo("18")]).json()
    lines = [r.getMessage() for r in caplog.records if r.name == "app.pipeline.ingest"]
    assert len(lines) == 1
    assert answer["listing_id"] in lines[0]
    assert "1 photos scored (0 already stored), 1 rejected" in lines[0]


def test_post_repost_of_stored_photo_is_answered_from_the_store(
    client, monkeypatch, caplog
):
    stored, new = dataset_photos("eagles_owls_web", 2)
    first = post(client, [(stored.name, stored.read_bytes())], account="first.seller")
    scorer = client.app.state.services.ingest.scorer
    sent_to_scorer = []
    score_all = scorer.score_all

    def recording_score_all(photos, keep=None):
        sent_to_scorer.extend(photo.filename for photo in photos)
        return score_all(photos, keep=keep)

    monkeypatch.setattr(scorer, "score_all", recording_score_all)
    with caplog.at_level("INFO", logger="app.pipeline.ingest"):
        repost = post(
            client,
            [("renamed.jpg", stored.read_bytes()), (new.name, new.read_bytes())],
            account="second.seller",
            listing_url="https://facebook.com/p/repost",
        )

    assert repost.status_code == 201
    assert sent_to_scorer == [new.name]
    assert "2 photos scored (1 already stored), 0 rejected" in caplog.text
    before, again = first.json()["photos"][0], repost.json()["photos"][0]
    assert again["filename"] == "renamed.jpg"
    for field in ("sha256", "width", "height", "phash", "detections"):
        assert again[field] == before[field]
    assert again["matches"][0]["listing_id"] == first.json()["listing_id"]
    assert repost.json()["photos"][1]["status"] == "scored"
    # The stored photo's findings count towards the new listing's risk.
    first_level = LEVELS.index(first.json()["risk"]["level"])
    assert first_level < LEVELS.index("none"), "the stored photo has a catalogue taxon"
    assert LEVELS.index(repost.json()["risk"]["level"]) <= first_level


BOUNDARY = "satwa-test-boundary"


def raw_form(fields: dict[str, str], photos: list[tuple[str, bytes]]) -> bytes:
    """A multipart body written by hand, complete with its closing boundary."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        f"{value}\r\n".encode()
        for name, value in fields.items()
    ]
    parts += [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photos"; '
        f'filename="{filename}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
        + data
        + b"\r\n"
        for filename, data in photos
    ]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def post_raw(client, body: bytes, content_type: str | None = None):
    return client.post(
        "/v1/listings",
        content=body,
        headers={
            "content-type": content_type or f"multipart/form-data; boundary={BOUNDARY}"
        },
    )


@pytest.mark.parametrize("cut", ["inside_second_photo", "before_closing_boundary"])
def test_post_listing_cut_off_body_gives_422_and_stores_nothing(client, cut):
    photos = [case_photo("01c"), case_photo("31a")]
    body = raw_form(listing_form(account="cut.seller"), photos)
    closing = f"--{BOUNDARY}--\r\n".encode()
    if cut == "inside_second_photo":
        body = body[: body.index(photos[1][1]) + 100]
    else:
        body = body[: -len(closing)]

    response = post_raw(client, body)

    assert response.status_code == 422, response.text
    assert "incomplete" in response.json()["error"]["message"]
    assert client.get("/v1/accounts/facebook/cut.seller").status_code == 404


def test_post_listing_raw_complete_body_is_scored(client):
    body = raw_form(listing_form(account="raw.seller"), [case_photo("01c")])

    response = post_raw(client, body, f"Multipart/Form-Data; boundary={BOUNDARY}")

    assert response.status_code == 201, response.text


@pytest.mark.parametrize("field", ["caption", "account"])
def test_post_listing_field_not_utf8_gives_422_naming_it(client, field):
    form = {**listing_form(account="bytes.seller"), field: "MARK"}
    body = raw_form(form, [case_photo("01c")]).replace(b"MARK", b"caf\xe9 \xff")

    response = post_raw(client, body)

    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert repr(field) in message and "UTF-8" in message
    assert client.get("/v1/accounts/facebook/bytes.seller").status_code == 404


@pytest.mark.parametrize("charset", ["latin-1", "bogus"])
def test_post_listing_declaring_another_charset_gives_422_naming_it(client, charset):
    body = raw_form(listing_form(caption="café"), [case_photo("01c")])

    response = post_raw(
        client, body, f"multipart/form-data; boundary={BOUNDARY}; charset={charset}"
    )

    assert response.status_code == 422, response.text
    assert repr(charset) in response.json()["error"]["message"]


def test_post_listing_declaring_utf8_charset_is_scored(client):
    body = raw_form(listing_form(caption="café"), [case_photo("01c")])

    response = post_raw(
        client, body, f"multipart/form-data; boundary={BOUNDARY}; charset=UTF-8"
    )

    assert response.status_code == 201, response.text
    assert response.json()["caption"] == "café"


def test_post_listing_utf8_caption_is_stored_as_sent(client):
    caption = "Kukang (Nycticebus) café ☕ Rp 500.000"
    body = raw_form(listing_form(caption=caption), [case_photo("01c")])

    response = post_raw(client, body)

    assert response.status_code == 201, response.text
    assert response.json()["caption"] == caption


def test_post_listing_client_gone_mid_body_is_one_info_line(client, caplog):
    body = raw_form(listing_form(), [case_photo("01c")])
    messages = [
        {"type": "http.request", "body": body[:2000], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/listings",
        "raw_path": b"/v1/listings",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
        "app": client.app,
    }
    with caplog.at_level("INFO"):
        asyncio.run(client.app(scope, receive, send))

    assert sent[0]["status"] == 400
    assert b"client_disconnected" in sent[1]["body"]
    assert not [record for record in caplog.records if record.levelname == "ERROR"]
    assert "Client left before sending the whole body" in caplog.text


def test_post_listing_field_given_twice_gives_422(client):
    body = raw_form(
        {**listing_form(), "platform": "facebook"}, [case_photo("01c")]
    ).replace(
        b'name="platform"\r\n\r\nfacebook\r\n',
        b'name="platform"\r\n\r\nfacebook\r\n--'
        + BOUNDARY.encode()
        + b'\r\nContent-Disposition: form-data; name="platform"\r\n\r\ninstagram\r\n',
    )

    response = post_raw(client, body)

    assert response.status_code == 422, response.text
    assert "'platform' is given 2 times" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("field", "character"),
    [
        ("account", "\ufffe"),  # a non-character: invalid XML in GraphML exports
        ("account", "\u202e"),  # right-to-left override hides what a handle says
        ("account", "\u200b"),  # zero-width space
        ("platform", "\t"),
        ("caption", "\x85"),  # a C1 control character
    ],
)
def test_post_listing_hidden_character_gives_422_naming_it(client, field, character):
    value = f"sel{character}ler"
    body = raw_form(listing_form(**{field: value}), [case_photo("01c")])

    response = post_raw(client, body)

    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert repr(field) in message and f"U+{ord(character):04X}" in message


def test_post_listing_nul_in_file_name_is_recorded_replaced(client):
    body = raw_form(
        listing_form(account="nul.name"), [("a\x00b.jpg", bad_input("01c"))]
    )

    response = post_raw(client, body)

    assert response.status_code == 201, response.text
    assert response.json()["photos"][0]["filename"] == "a\ufffdb.jpg"
