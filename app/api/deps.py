"""Request dependencies: the process's Services and a read session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
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
Handle = Annotated[str, AfterValidator(str.strip)]
"""An account handle in a path, without surrounding spaces, as stored."""
Sha256 = Annotated[
    str,
    Path(
        pattern="^[0-9a-fA-F]{64}$",
        description="A photo's SHA-256: 64 hex digits (either case).",
    ),
    AfterValidator(str.lower),
]
"""A photo id in a path: anything else is a 422 naming the parameter."""
