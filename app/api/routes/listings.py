"""POST /v1/listings (score and store a listing) and GET /v1/listings/{listing_id}."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.answers import error_out, rejected_photo_out
from app.api.deps import ServicesDep, SessionDep
from app.api.errors import status_for
from app.api.listing_form import read_listing_form
from app.pipeline.ingest import IngestOutcome, ListingSubmission
from app.schemas import ListingOut, RejectedListingOut
from app.services import Services
from app.store.reports import listing_report

router = APIRouter(prefix="/v1/listings", tags=["listings"])

_FORM_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["photos", "platform", "account", "listing_url"],
                    "properties": {
                        "photos": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "1 to SATWA_MAX_PHOTOS_PER_LISTING photos.",
                        },
                        "platform": {"type": "string", "example": "facebook"},
                        "account": {"type": "string", "example": "seller.handle"},
                        "listing_url": {"type": "string"},
                        "caption": {"type": "string"},
                        "posted_at": {"type": "string", "format": "date-time"},
                        "price": {"type": "string"},
                    },
                }
            }
        },
    }
}


@router.post(
    "",
    status_code=201,
    response_model=ListingOut,
    openapi_extra=_FORM_SCHEMA,
    responses={200: {"model": ListingOut}, 422: {"model": RejectedListingOut}},
    summary="Score a listing's photos and store them as evidence",
)
async def post_listing(request: Request, services: ServicesDep) -> JSONResponse:
    """201 with the new listing; 200 with the stored answer when the same URL and
    photos were sent before; a 4xx when no photo could be scored (nothing stored)."""
    submission, form = await read_listing_form(request, services.settings)
    try:
        outcome, listing = await run_in_threadpool(
            _ingest_and_report, services, submission
        )
    finally:
        await form.close()
    if listing is None:
        return _all_rejected(outcome)
    return JSONResponse(
        listing.model_dump(mode="json"), status_code=201 if outcome.created else 200
    )


@router.get("/{listing_id}", response_model=ListingOut, summary="A stored listing")
def get_listing(listing_id: str, services: ServicesDep, session: SessionDep):
    return listing_report(session, services.scoring.catalog, listing_id)


def _ingest_and_report(
    services: Services, submission: ListingSubmission
) -> tuple[IngestOutcome, ListingOut | None]:
    """Ingest, then read the stored answer back, in one worker thread."""
    outcome = services.ingest.ingest(submission)
    if outcome.listing_id is None:
        return outcome, None
    with services.database.session() as session:
        listing = listing_report(session, services.scoring.catalog, outcome.listing_id)
    return outcome, listing


def _all_rejected(outcome: IngestOutcome) -> JSONResponse:
    first = outcome.rejected[0].error
    answer = RejectedListingOut(
        error=error_out(first),
        photos=[rejected_photo_out(photo) for photo in outcome.rejected],
    )
    return JSONResponse(answer.model_dump(mode="json"), status_code=status_for(first))
