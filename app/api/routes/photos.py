"""GET /v1/photos/{sha256} (what was found, where it appeared) and its original."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from app.api.deps import ServicesDep, SessionDep, Sha256
from app.schemas import PhotoReportOut
from app.store.reports import photo_media_type, photo_report

router = APIRouter(prefix="/v1/photos", tags=["photos"])


@router.get("/{sha256}", response_model=PhotoReportOut, summary="A stored photo")
def get_photo(sha256: Sha256, services: ServicesDep, session: SessionDep):
    return photo_report(session, services.scoring.catalog, sha256)


@router.get(
    "/{sha256}/original",
    response_class=Response,
    summary="The exact bytes received, with their real media type",
)
def get_original(
    sha256: Sha256, services: ServicesDep, session: SessionDep
) -> Response:
    media_type = photo_media_type(session, sha256)
    return Response(
        services.evidence.get(sha256),
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
