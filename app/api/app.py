"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from app.allocator import tune_allocator
from app.api.body_limit import BodyLimitMiddleware
from app.api.errors import install_error_handlers
from app.api.routes import (
    accounts,
    health,
    links,
    listings,
    networks,
    photos,
    species,
)
from app.services import build_services
from app.settings import Settings

logger = logging.getLogger(__name__)

DESCRIPTION = (
    "Satwa scores online listing photos for illegal wildlife trade: the species in "
    "each photo, what the law says about it, and where the same photo was seen before."
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; model, database and match index load at startup (lifespan)."""
    settings = settings or Settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tune_allocator()  # in every server process, before its buffers exist
        app.state.services = build_services(settings)
        try:
            yield
        finally:
            app.state.services.close()

    # /docs and /redoc with Swagger UI and ReDoc served by the app itself, not a CDN
    # (Satwa runs without internet); no validator badge (it calls swagger.io).
    app = FastAPIOffline(
        title="Satwa",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        swagger_ui_parameters={"validatorUrl": None},
    )
    for module in (listings, photos, accounts, links, networks, species, health):
        app.include_router(module.router)
    install_error_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_request_bytes,
        timeout_s=settings.body_timeout_s,
    )
    return app


def configure_logging(level: str) -> None:
    """One handler on the ``app`` logger unless the process configured logging."""
    package_logger = logging.getLogger("app")
    package_logger.setLevel(level.upper())
    if not logging.getLogger().handlers and not package_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        package_logger.addHandler(handler)
