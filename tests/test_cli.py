"""The ``satwa`` command: scan, db upgrade, and the shape scan shares with the API."""

from __future__ import annotations

import json
import socket

from sqlalchemy import inspect
from typer.testing import CliRunner

from app.cli import cli
from app.schemas import PhotoOut
from app.store.database import Database
from tests.factories import BAD_INPUTS, REPO_ROOT, dataset_photos

runner = CliRunner()
WEIGHTS = str(REPO_ROOT / "weights/satwa-detector.onnx")


def test_scan_json_prints_one_api_shaped_object_per_photo():
    paths = [
        str(BAD_INPUTS / name) for name in ("01c_upright_reference.png", "18_empty.jpg")
    ]
    result = runner.invoke(cli, ["scan", "--json", "--weights", WEIGHTS, *paths])
    assert result.exit_code == 0, result.output
    lines = [
        json.loads(line) for line in result.output.splitlines() if line.startswith("{")
    ]
    assert [PhotoOut(**line).status for line in lines] == ["scored", "rejected"]
    assert lines[0]["width"] == 160 and len(lines[0]["phash"]) == 16
    assert lines[1]["error"]["code"] == "empty_photo"


def test_scan_folder_prints_table_of_every_photo(tmp_path):
    # A scratch folder (outside the repo) with a few real photos, one nested.
    folder = tmp_path / "shop"
    (folder / "nested").mkdir(parents=True)
    photos = dataset_photos("eagles_owls_web", 3, seed=5)
    for number, path in enumerate(photos):
        target = folder / ("nested" if number else "") / f"photo{number}.jpg"
        target.write_bytes(path.read_bytes())
    result = runner.invoke(
        cli, ["scan", "--weights", WEIGHTS, str(folder)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "catalogue species" in result.output
    assert "shop/photo0.jpg" in result.output
    for number in (1, 2):
        assert f"shop/nested/photo{number}.jpg" in result.output


def test_scan_missing_path_fails_clearly():
    # A short relative path: the error box wraps long lines at the terminal's width.
    result = runner.invoke(cli, ["scan", "no-such-photo.jpg"])
    assert result.exit_code != 0
    assert "neither a file nor a folder" in result.output


def test_db_upgrade_creates_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = runner.invoke(cli, ["db", "upgrade", "--database-url", url])
    assert result.exit_code == 0, result.output
    database = Database(url)
    assert "listings" in inspect(database.engine).get_table_names()
    database.dispose()


def test_serve_port_in_use_exits_naming_port_setting(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(
            cli,
            [
                "serve",
                "--port",
                str(port),
                "--database-url",
                f"sqlite:///{tmp_path}/s.db",
            ],
        )
    assert result.exit_code == 1
    assert f"127.0.0.1:{port}" in result.output
    assert "--port" in result.output and "SATWA_PORT" in result.output
    assert not (tmp_path / "s.db").exists()
