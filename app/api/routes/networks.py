"""GET /v1/networks: seller networks, largest first, one in detail, and exports."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from app.api.deps import ServicesDep, SessionDep
from app.errors import NotFound, shown
from app.export.network_export import EXPORT_FORMATS, export_bytes, network_graph
from app.pipeline.networks import (
    Network,
    load_networks,
    network_detail,
    network_summary,
)
from app.services import Services

router = APIRouter(prefix="/v1/networks", tags=["networks"])

ExportFormat = Annotated[
    Literal["graphml", "nodes.csv", "edges.csv"], Query(description="File kind")
]


class NetworksOut(BaseModel):
    min_link_weight: float
    networks: list[dict[str, Any]]


@router.get("", response_model=NetworksOut, summary="Seller networks, largest first")
def list_networks(services: ServicesDep, session: SessionDep):
    _graph, networks = _networks(services, session)
    return {
        "min_link_weight": services.settings.network_min_link_weight,
        "networks": [network_summary(network) for network in networks],
    }


@router.get("/export", summary="Every network (or one) as GraphML or Gephi CSV")
def export_networks(
    services: ServicesDep,
    session: SessionDep,
    format: ExportFormat = "graphml",
    network_id: str | None = None,
) -> Response:
    graph, networks = _networks(services, session)
    if network_id is not None:
        networks = [_one(networks, network_id)]
    filename, media_type = EXPORT_FORMATS[format]
    return Response(
        export_bytes(network_graph(networks, graph), format),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/{network_id}", summary="One network with its links and shared photos")
def get_network(network_id: str, services: ServicesDep, session: SessionDep):
    graph, networks = _networks(services, session)
    return network_detail(_one(networks, network_id), graph)


def _networks(services: Services, session):
    catalog = services.scoring.catalog
    return load_networks(
        session,
        services.settings.network_min_link_weight,
        lambda label: [entry.key for entry in catalog.for_label(label)],
    )


def _one(networks: list[Network], network_id: str) -> Network:
    for network in networks:
        if network.network_id == network_id:
            return network
    raise NotFound(
        f"Expected the id of a current network (GET /v1/networks lists them); "
        f"got {shown(network_id)}"
    )
