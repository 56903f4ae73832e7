"""GET /v1/species: the catalogue, with the detector labels that may stand for each."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter

from app.api.deps import ServicesDep
from app.schemas import SpeciesOut

router = APIRouter(prefix="/v1/species", tags=["species"])


@router.get("", response_model=list[SpeciesOut], summary="The species catalogue")
def list_species(services: ServicesDep) -> list[SpeciesOut]:
    catalog = services.scoring.catalog
    labels_by_key: dict[str, list[str]] = {}
    for label, keys in catalog.keys_by_label.items():
        for key in keys:
            labels_by_key.setdefault(key, []).append(label)
    return [
        SpeciesOut(
            **dataclasses.asdict(entry),
            detector_labels=labels_by_key.get(entry.key, []),
        )
        for entry in catalog.entries.values()
    ]
