"""The ``satwa`` command: serve the API, scan photos locally, migrate the database."""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.settings import Settings

if TYPE_CHECKING:
    from rich.table import Table

    from app.schemas import PhotoOut

# Scoring and its libraries are imported inside the commands that use them: `satwa
# serve` with several processes keeps only a small supervisor resident beside them.

logger = logging.getLogger(__name__)

PHOTO_SUFFIXES = {
    ".jpg",
    ".jpeg",
    ".png",
    ".gif",
    ".webp",
    ".bmp",
    ".tif",
    ".tiff",
    ".heic",
    ".heif",
    ".avif",
}

cli = typer.Typer(help="Satwa: find illegal wildlife trade in listing photos.")
db_cli = typer.Typer(help="Database schema.")
cli.add_typer(db_cli, name="db")
export_cli = typer.Typer(help="Export findings for other tools.")
cli.add_typer(export_cli, name="export")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="SATWA_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="SATWA_PORT")] = None,
    database_url: Annotated[str | None, typer.Option(help="SATWA_DATABASE_URL")] = None,
) -> None:
    """Run the HTTP API (migrates the database first)."""
    import uvicorn

    settings = _settings(host=host, port=port, database_url=database_url)
    _check_port_free(settings.host, settings.port)
    _upgrade(settings)
    # uvicorn's own log (one access line per request) follows SATWA_LOG_LEVEL too.
    log_level = settings.log_level.lower()
    if settings.server_processes == 1:
        from app.api.app import create_app

        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level=log_level,
        )
        return
    # Each process builds its app from the environment: hand the options on.
    for name, value in (("HOST", host), ("PORT", port), ("DATABASE_URL", database_url)):
        if value is not None:
            os.environ[f"SATWA_{name}"] = str(value)
    uvicorn.run(
        "app.api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.server_processes,
        log_level=log_level,
    )


def _check_port_free(host: str, port: int) -> None:
    """Fail before the models load when the address is taken (uvicorn would only
    say "address already in use" after loading them)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # The same option uvicorn sets, so a port in TIME_WAIT is not reported busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            typer.echo(
                f"Cannot listen on {host}:{port}: {error.strerror}; stop the process "
                "using it or choose another port with --port or SATWA_PORT",
                err=True,
            )
            raise typer.Exit(1) from error


@cli.command()
def scan(
    paths: Annotated[list[Path], typer.Argument(help="Photo files and folders.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per photo.")
    ] = False,
    weights: Annotated[Path | None, typer.Option(help="SATWA_WEIGHTS")] = None,
) -> None:
    """Score photos locally, without a server and without storing anything."""
    from rich.console import Console
    from rich.progress import track

    from app.answers import rejected_photo_out, scored_photo_out
    from app.pipeline.scoring import ReceivedPhoto, ScoredPhoto
    from app.services import build_scoring

    settings = _settings(weights=weights)
    scoring = build_scoring(settings)
    files = list(photo_files(paths))
    answers = []
    steps = files if as_json else track(files, description="Scoring", transient=True)
    for path, name in steps:
        result = scoring.scorer.score(ReceivedPhoto.from_bytes(name, path.read_bytes()))
        answer = (
            scored_photo_out(scoring.catalog, result)
            if isinstance(result, ScoredPhoto)
            else rejected_photo_out(result)
        )
        if as_json:
            typer.echo(json.dumps(answer.model_dump(mode="json")))
        answers.append(answer)
    if not as_json:
        Console().print(scan_table(answers))


@db_cli.command("upgrade")
def db_upgrade(
    database_url: Annotated[str | None, typer.Option(help="SATWA_DATABASE_URL")] = None,
) -> None:
    """Apply the Alembic migrations up to the newest schema."""
    _upgrade(_settings(database_url=database_url))


@export_cli.command("network")
def export_network(
    out: Annotated[Path, typer.Option(help="Folder for the files.")] = Path("."),
    network_id: Annotated[
        str | None, typer.Option(help="One network (net-...); default all.")
    ] = None,
    database_url: Annotated[str | None, typer.Option(help="SATWA_DATABASE_URL")] = None,
) -> None:
    """Write seller networks as GraphML and Gephi nodes.csv and edges.csv."""
    from app.errors import NotFound
    from app.export.network_files import write_network_files

    settings = _settings(database_url=database_url)
    try:
        written = write_network_files(settings, out, network_id)
    except NotFound as error:
        raise typer.BadParameter(error.message, param_hint="--network-id") from error
    for path in written:
        typer.echo(path)


@cli.command()
def train(
    config: Annotated[Path, typer.Option(help="Training config (YAML).")] = Path(
        "training/configs/default.yaml"
    ),
    overrides: Annotated[
        list[str] | None, typer.Argument(help="key=value, e.g. train.epochs=1")
    ] = None,
) -> None:
    """Train the detector: build the dataset, fine-tune, export, evaluate."""
    from training.train import load_config, run

    _configure_logging("info")
    typer.echo(run(load_config(config, overrides or [])))


def photo_files(paths: list[Path]) -> Iterator[tuple[Path, str]]:
    """(file, name to show) for the photos among ``paths``; folders are walked
    recursively and their photos named from the folder on."""
    for path in paths:
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES
            )
            yield from ((p, str(p.relative_to(path.parent))) for p in found)
        elif path.is_file():
            yield path, str(path)
        else:
            raise typer.BadParameter(f"{path} is neither a file nor a folder")


def scan_table(answers: list[PhotoOut]) -> Table:
    from rich.table import Table

    table = Table("file", "label", "confidence", "catalogue species", "status")
    table.columns[0].overflow = "fold"
    for answer in answers:
        if answer.status != "scored":
            table.add_row(answer.filename, "", "", "", answer.error.message)
            continue
        if not answer.detections:
            table.add_row(answer.filename, "-", "", "", "nothing found")
        for detection in answer.detections:
            species = ", ".join(entry.scientific_name for entry in detection.catalog)
            table.add_row(
                answer.filename,
                detection.label,
                f"{detection.confidence:.2f}",
                species or "(not in catalogue)",
                "scored",
            )
    return table


def _settings(**overrides: object) -> Settings:
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    _configure_logging(settings.log_level)
    return settings


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _upgrade(settings: Settings) -> None:
    from app.store.database import Database
    from app.store.migrate import upgrade

    database = Database(settings.database_url)
    try:
        upgrade(database)
    finally:
        database.dispose()


def main() -> None:
    cli()
