"""The real server over real HTTP: crash safety, concurrency and memory."""

from __future__ import annotations

import contextlib
import hashlib
import io
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from app.store.database import Database
from app.store.models import Photo
from tests.factories import (
    bad_input,
    dataset_photos,
    listing_form,
    noisy_png,
    photo_files,
)
from tests.live_server import LiveServer


@pytest.fixture
def start_server(clean_database_url, tmp_path):
    """Start ``satwa serve`` with SATWA_* settings given as keywords; stopped after."""
    started: list[LiveServer] = []

    def start(**settings: str) -> LiveServer:
        server = LiveServer(clean_database_url, tmp_path / "evidence", **settings)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live_server(start_server):
    return start_server()


def post(server: LiveServer, photos, **form) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/listings",
        data=listing_form(**form),
        files=photo_files(photos),
        timeout=300,
    )


@pytest.mark.slow
def test_live_server_listing_survives_kill_9_with_exact_bytes(live_server):
    path = dataset_photos("reptiles_amphibians_kaggle", 1, seed=9)[0]
    original = path.read_bytes()
    answer = post(live_server, [(path.name, original)]).json()
    live_server.kill()
    live_server.start()
    stored = httpx.get(f"{live_server.url}/v1/listings/{answer['listing_id']}").json()
    assert stored == answer
    sha256 = answer["photos"][0]["sha256"]
    served = httpx.get(f"{live_server.url}/v1/photos/{sha256}/original")
    assert served.content == original


@pytest.mark.slow
def test_live_server_16_concurrent_uploads_all_succeed(live_server):
    paths = dataset_photos("popular_animals_google", 16, seed=16)

    def upload(number: int) -> httpx.Response:
        path = paths[number]
        return post(
            live_server,
            [(path.name, path.read_bytes())],
            account=f"seller{number % 4}",
            listing_url=f"https://shop.example/{number}",
        )

    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(upload, range(16)))
    assert [r.status_code for r in responses] == [201] * 16, [
        r.text for r in responses if r.status_code != 201
    ]
    assert not any("locked" in r.text for r in responses)


@pytest.mark.slow
def test_live_server_twenty_6_mb_uploads_keep_memory_flat(live_server):
    big = noisy_png(1600, 1400)

    def upload(number: int) -> httpx.Response:
        # Each upload differs (bytes after IEND are ignored by decoders).
        return post(
            live_server,
            [(f"big{number}.png", big + number.to_bytes(2, "big"))],
            listing_url=f"https://shop.example/big/{number}",
        )

    with ThreadPoolExecutor(2) as pool:
        assert [r.status_code for r in pool.map(upload, range(100, 104))] == [201] * 4
    two_at_once = live_server.peak_rss_bytes()
    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(upload, range(20)))
    assert [r.status_code for r in responses] == [201] * 20
    growth = live_server.peak_rss_bytes() - two_at_once
    # Flat: far below the 20 x 6 MB that arrived at once.
    assert growth < 5 * len(big), f"peak RSS grew {growth / 2**20:.0f} MB"


@pytest.mark.slow
def test_live_server_30_mb_body_gets_413_before_upload_ends(live_server):
    padded = bad_input("31a") + bytes(30 * 2**20)
    try:
        response = post(live_server, [("padded.jpg", padded)])
    except httpx.TransportError:
        pytest.fail("the server closed the connection without a 413 answer")
    assert response.status_code == 413
    assert response.json()["error"]["setting"] == "SATWA_MAX_REQUEST_BYTES"


@pytest.mark.slow
def test_live_server_stalled_body_gets_408_and_the_server_goes_on(start_server):
    server = start_server(body_timeout_s="1")
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as client:
        client.sendall(
            b"POST /v1/listings HTTP/1.1\r\nHost: satwa\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 100000\r\n\r\n--b\r\n"
        )
        started = time.monotonic()
        answer = read_response(client)
        waited = time.monotonic() - started
        # One more byte must not keep the connection: the server closes it.
        try:
            client.sendall(b"x")
            closed = client.recv(65536) == b""
        except ConnectionResetError:  # the byte reached a closed connection
            closed = True
    status_line, _, rest = answer.partition("\r\n")
    assert status_line == "HTTP/1.1 408 Request Timeout", answer
    assert "connection: close" in rest.lower()
    assert '"setting":"SATWA_BODY_TIMEOUT_S"' in rest.replace(" ", "")
    assert 0.9 < waited < 10
    assert closed
    assert post(server, [("31a.jpg", bad_input("31a"))]).status_code == 201


def read_response(client: socket.socket) -> str:
    """One HTTP response (headers and Content-Length body) from a raw socket."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += client.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += client.recv(65536)
    return (head + b"\r\n\r\n" + body).decode("latin-1")


@pytest.mark.slow
def test_live_server_kill_9_mid_upload_leaves_no_half_written_photo(
    live_server, clean_database_url, tmp_path
):
    big = noisy_png(1600, 1400)

    def upload(number: int) -> None:
        with contextlib.suppress(httpx.TransportError):
            post(
                live_server,
                [(f"big{number}.png", big + number.to_bytes(2, "big"))],
                listing_url=f"https://shop.example/crash/{number}",
            )

    with ThreadPoolExecutor(4) as pool:
        pending = [pool.submit(upload, number) for number in range(4)]
        time.sleep(1.5)
        live_server.kill()
        for future in pending:
            future.result()
    live_server.start()

    evidence = tmp_path / "evidence"
    originals = [path for path in evidence.rglob("*") if path.is_file()]
    assert not [path for path in originals if path.name.endswith(".partial")]
    for path in originals:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
    database = Database(clean_database_url)
    with database.session() as session:
        stored = session.scalars(select(Photo.sha256)).all()
    database.dispose()
    for sha256 in stored:
        assert (evidence / sha256[:2] / sha256[2:4] / sha256).is_file()


@pytest.mark.slow
def test_live_server_two_processes_each_repost_matches_across_processes(start_server):
    server = start_server(server_processes="2")
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    workers = [
        child
        for child in children
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]
    assert len(workers) == 2, "one supervisor, two server processes"
    paths = dataset_photos("eagles_owls_web", 6, seed=4)
    answers = {
        account: [
            post(
                server,
                [(path.name, path.read_bytes())],
                account=account,
                listing_url=f"https://shop.example/{account}/{number}",
            )
            for number, path in enumerate(paths)
        ]
        for account in ("first.seller", "second.seller")
    }
    for path, again in zip(paths, answers["second.seller"], strict=True):
        assert again.status_code == 201, again.text
        matches = again.json()["photos"][0]["matches"]
        assert "first.seller" in {match["account"] for match in matches}, path.name
    assert {first.status_code for first in answers["first.seller"]} == {201}
    # A new photo and a re-compressed copy of it from two accounts at the same
    # moment: whichever commits second finds the first, whatever process each
    # lands in.
    for number, path in enumerate(dataset_photos("parrots4_kaggle_raw", 12, seed=5)):
        original = path.read_bytes()
        copy = io.BytesIO()
        Image.open(io.BytesIO(original)).convert("RGB").save(copy, "JPEG", quality=40)
        sent = {"third.seller": original, "fourth.seller": copy.getvalue()}
        with ThreadPoolExecutor(2) as pool:
            answers = list(
                pool.map(
                    lambda account, number=number, sent=sent: post(
                        server,
                        [(f"{account}.jpg", sent[account])],
                        account=account,
                        listing_url=f"https://shop.example/{account}/{number}",
                    ).json(),
                    sent,
                )
            )
        matched = {
            match["account"]
            for answer in answers
            for match in answer["photos"][0]["matches"]
        }
        assert matched & set(sent), path.name
