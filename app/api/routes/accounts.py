"""GET /v1/accounts/{platform}/{account}: a seller's listings and photos."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import Handle, Platform, SessionDep
from app.schemas import AccountOut
from app.store.reports import account_report

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


@router.get("/{platform}/{account}", response_model=AccountOut, summary="An account")
def get_account(platform: Platform, account: Handle, session: SessionDep):
    return account_report(session, platform, account)
