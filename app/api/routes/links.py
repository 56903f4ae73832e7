"""GET /v1/accounts/{platform}/{account}/links: the accounts linked to one account."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from app.api.deps import Handle, Platform, SessionDep
from app.errors import NotFound, shown
from app.pipeline.linking import AccountGraph, load_account_graph
from app.pipeline.networks import link_evidence

router = APIRouter(prefix="/v1/accounts", tags=["networks"])


class LinkOut(BaseModel):
    """One linked account: how (``photo`` or ``contact``), how strongly, and why."""

    platform: str
    account: str
    kind: str
    weight: float
    evidence: list[dict[str, Any]]


class AccountLinksOut(BaseModel):
    platform: str
    account: str
    links: list[LinkOut]


@router.get(
    "/{platform}/{account}/links",
    response_model=AccountLinksOut,
    summary="Accounts linked by shared photos or contact numbers",
)
def get_account_links(platform: Platform, account: Handle, session: SessionDep):
    graph, _records = load_account_graph(session)
    account_id = graph.account_id(platform, account)
    if account_id is None:
        raise NotFound(
            f"Expected a known account; got {shown(account)} on {shown(platform)}, "
            "which no listing has come from (check the platform and handle)"
        )
    return {
        "platform": platform,
        "account": account,
        "links": [
            _link_out(graph, account_id, link) for link in graph.links_of(account_id)
        ],
    }


def _link_out(graph: AccountGraph, account_id: int, link) -> dict[str, Any]:
    other = graph.accounts[link.other(account_id)]
    return {
        "platform": other.platform,
        "account": other.handle,
        "kind": link.kind,
        "weight": round(link.weight, 4),
        "evidence": link_evidence(link, account_id, graph),
    }
