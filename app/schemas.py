"""The JSON shapes of Satwa's answers, shared by the API and ``satwa scan --json``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class CatalogRef(BaseModel):
    key: str
    scientific_name: str
    cites: str | None = Field(description="CITES appendix: I, II, III or null.")
    iucn: str | None = Field(description="IUCN Red List category, e.g. CR.")
    protected_id: str = Field(
        description="Protected under Indonesian law (P.106/2018): yes, partly or no."
    )


class ModelRef(BaseModel):
    name: str
    sha256: str


class DetectionOut(BaseModel):
    label: str
    confidence: float
    box: list[float] = Field(description="[x1, y1, x2, y2] in upright photo pixels.")
    stage: str = Field(description="detector, or classifier for a second-stage label.")
    catalog: list[CatalogRef]
    model: ModelRef


class MatchOut(BaseModel):
    sha256: str
    distance: int = Field(description="pHash bits that differ; 0 for the same bytes.")
    listing_id: str
    platform: str
    account: str


class PhotoError(BaseModel):
    code: str
    message: str
    setting: str | None = None
    limit: int | None = None
    media_type: str | None = None


class PhotoOut(BaseModel):
    filename: str
    sha256: str
    status: str = Field(description="scored or rejected.")
    error: PhotoError | None = None
    media_type: str | None = None
    width: int | None = None
    height: int | None = None
    frame_count: int | None = None
    frame_index: int | None = None
    phash: str | None = None
    detections: list[DetectionOut] = []
    matches: list[MatchOut] = []


class RiskOut(BaseModel):
    level: str = Field(description="critical, high, elevated, low or none.")
    cites: str | None
    protected_id: str | None
    iucn: str | None
    species: list[str]


class ListingOut(BaseModel):
    listing_id: str
    platform: str
    account: str
    listing_url: str
    caption: str | None
    posted_at: datetime | None
    price: str | None
    submitted_at: datetime
    risk: RiskOut
    photos: list[PhotoOut]


class RejectedListingOut(BaseModel):
    """No photo of the listing could be scored; nothing was stored."""

    error: PhotoError
    photos: list[PhotoOut]


class SightingOut(BaseModel):
    listing_id: str
    platform: str
    account: str
    listing_url: str
    filename: str
    submitted_at: datetime


class PhotoReportOut(BaseModel):
    sha256: str
    media_type: str
    byte_size: int
    width: int
    height: int
    phash: str
    first_seen_at: datetime
    detections: list[DetectionOut]
    sightings: list[SightingOut]
    accounts: list[str] = Field(description="platform/account of every sighting.")


class AccountListingOut(BaseModel):
    listing_id: str
    listing_url: str
    submitted_at: datetime
    risk: RiskOut
    photos: list[str] = Field(description="SHA-256 of each scored photo.")


class AccountOut(BaseModel):
    platform: str
    account: str
    first_seen_at: datetime
    listings: list[AccountListingOut]


class SpeciesOut(BaseModel):
    key: str
    scientific_name: str
    common_name: str
    cites: str | None
    iucn: str | None
    protected_id: str
    cites_text: str
    iucn_text: str
    protected_text: str
    detector_labels: list[str]
