"""GET /healthz: the database answers and the model is loaded."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from app.api.deps import ServicesDep, SessionDep

router = APIRouter(tags=["health"])


@router.head("/healthz", include_in_schema=False)  # monitors that probe with HEAD
@router.get("/healthz", summary="Liveness and readiness")
def healthz(services: ServicesDep, session: SessionDep) -> dict[str, object]:
    session.execute(text("SELECT 1"))
    model = services.scoring.detector.model
    return {
        "status": "ok",
        "model": {"name": model.name, "sha256": model.sha256},
        "indexed_hashes": len(services.matcher),
    }
