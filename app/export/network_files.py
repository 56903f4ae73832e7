"""Write seller networks to files: what ``satwa export network`` does."""

from __future__ import annotations

import logging
from pathlib import Path

from app.catalog import load_catalog
from app.errors import NotFound, shown
from app.export.network_export import EXPORT_FORMATS, export_bytes, network_graph
from app.pipeline.networks import load_networks
from app.settings import Settings
from app.store.database import Database

logger = logging.getLogger(__name__)


def write_network_files(
    settings: Settings, out_dir: Path, network_id: str | None = None
) -> list[Path]:
    """Write GraphML and Gephi CSV files of every network (or one) into ``out_dir``."""
    catalog = load_catalog(settings.taxonomy_path, settings.catalog_path)
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            graph, networks = load_networks(
                session,
                settings.network_min_link_weight,
                lambda label: [entry.key for entry in catalog.for_label(label)],
            )
    finally:
        database.dispose()
    if network_id is not None:
        networks = [n for n in networks if n.network_id == network_id]
        if not networks:
            raise NotFound(
                f"Expected the id of a current network (GET /v1/networks lists "
                f"them); got {shown(network_id)}"
            )
    chart = network_graph(networks, graph)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for export_format, (filename, _media_type) in EXPORT_FORMATS.items():
        path = out_dir / filename
        path.write_bytes(export_bytes(chart, export_format))
        written.append(path)
    logger.info(
        "Exported %s networks (%s accounts) to %s", len(networks), len(chart), out_dir
    )
    return written
