"""Request dependencies: the process's Services and a read session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from pydantic import AfterValidator
from sqlalchemy.orm import Session

from app.pipeline.ingest import platform_name
from app.services import Services


def get_services(request: Request) -> Services:
    return request.app.state.services


def get_session(
    services: Annotated[Services, Depends(get_services)],
) -> Iterator[Session]:
    with services.database.session() as session:
        yield session


ServicesDep = Annotated[Services, Depends(get_services)]
SessionDep = Annotated[Session, Depends(get_session)]
Platform = Annotated[str, AfterValidator(platform_name)]
"""A platform in a path, spelt as stored (see ``platform_name``)."""
