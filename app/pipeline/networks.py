"""Seller networks: groups of accounts joined by strong enough links.

A network is a connected group of two or more accounts over the links (photo and
contact, see :mod:`app.pipeline.linking`) whose weight reaches the threshold
(``SATWA_NETWORK_MIN_LINK_WEIGHT``). With the default 0.5, one rare photo shared by two
or three accounts, or one shared contact number, joins them; one stock picture posted by
five unrelated accounts (0.25 per link) does not. Each network shows its accounts, the
species seen in their photos, its first and last activity, and which account posted
each shared photo first. Its id is ``net-`` and the id of its earliest account.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import networkx as nx
from sqlalchemy.orm import Session

from app.pipeline.link_records import AccountInfo, LinkRecords, iso
from app.pipeline.linking import (
    PHOTO,
    AccountGraph,
    AccountLink,
    SharedPhoto,
    load_account_graph,
)

SpeciesKeys = Callable[[str], list[str]]
"""Detector label -> the catalogue keys it may stand for."""


@dataclass(frozen=True)
class Network:
    """A group of accounts and the links that join them."""

    network_id: str
    accounts: list[AccountInfo]
    links: list[AccountLink]
    shared_photos: list[SharedPhoto]
    species: list[dict[str, object]]

    @property
    def first_activity(self) -> datetime | None:
        return min(
            (a.first_activity for a in self.accounts if a.first_activity), default=None
        )

    @property
    def last_activity(self) -> datetime | None:
        return max(
            (a.last_activity for a in self.accounts if a.last_activity), default=None
        )


def load_networks(
    session: Session, min_link_weight: float, species_keys: SpeciesKeys | None = None
) -> tuple[AccountGraph, list[Network]]:
    """The account graph and its networks, from everything in the database."""
    graph, records = load_account_graph(session)
    return graph, find_networks(graph, records, min_link_weight, species_keys)


def find_networks(
    graph: AccountGraph,
    records: LinkRecords,
    min_link_weight: float,
    species_keys: SpeciesKeys | None = None,
) -> list[Network]:
    """Every network, largest (most accounts, then heaviest) first."""
    strong = nx.Graph()
    for link in graph.links.values():
        if link.weight >= min_link_weight:
            strong.add_edge(*link.account_ids)
    networks = [
        _network(graph, records, sorted(component), species_keys)
        for component in nx.connected_components(strong)
    ]
    return sorted(
        networks,
        key=lambda network: (
            -len(network.accounts),
            -sum(link.weight for link in network.links),
            network.network_id,
        ),
    )


def _network(
    graph: AccountGraph,
    records: LinkRecords,
    account_ids: list[int],
    species_keys: SpeciesKeys | None,
) -> Network:
    members = set(account_ids)
    links = [
        link
        for link in graph.links.values()
        if link.account_ids[0] in members and link.account_ids[1] in members
    ]
    shared = [
        photo
        for photo in graph.shared_photos
        if len(members.intersection(photo.account_ids)) >= 2
    ]
    return Network(
        network_id=f"net-{min(account_ids)}",
        accounts=[graph.accounts[account_id] for account_id in account_ids],
        links=sorted(links, key=lambda link: (-link.weight, link.account_ids)),
        shared_photos=shared,
        species=_species(records, members, species_keys),
    )


def _species(
    records: LinkRecords, members: set[int], species_keys: SpeciesKeys | None
) -> list[dict[str, object]]:
    """Detector labels seen in the network's photos, with photo counts."""
    photos = {p.photo_sha256 for p in records.postings if p.account_id in members}
    counts = Counter(
        label for photo in photos for label in set(records.labels.get(photo, ()))
    )
    return [
        {
            "label": label,
            "photos": count,
            "catalog": species_keys(label) if species_keys else [],
        }
        for label, count in counts.most_common()
    ]


def network_summary(network: Network) -> dict[str, object]:
    """The short form ``GET /v1/networks`` lists."""
    return {
        "network_id": network.network_id,
        "account_count": len(network.accounts),
        "accounts": [account.to_dict() for account in network.accounts],
        "species": network.species,
        "first_activity": iso(network.first_activity),
        "last_activity": iso(network.last_activity),
        "shared_photo_count": len(network.shared_photos),
        "link_weight": round(sum(link.weight for link in network.links), 4),
    }


def network_detail(network: Network, graph: AccountGraph) -> dict[str, object]:
    """The full form: summary, every link with its evidence, every shared photo."""
    return {
        **network_summary(network),
        "links": [link_detail(link, graph) for link in network.links],
        "shared_photos": [
            shared_photo_detail(photo, graph) for photo in network.shared_photos
        ],
    }


def link_detail(link: AccountLink, graph: AccountGraph) -> dict[str, object]:
    first, second = (graph.accounts[a] for a in link.account_ids)
    return {
        "accounts": [_ref(first), _ref(second)],
        "kind": link.kind,
        "weight": round(link.weight, 4),
        "evidence": link_evidence(link, link.account_ids[0], graph),
    }


def link_evidence(
    link: AccountLink, account_id: int, graph: AccountGraph
) -> list[dict[str, object]]:
    """The link's evidence, seen from ``account_id`` (its side first)."""
    other = link.other(account_id)
    if link.kind == PHOTO:
        return [
            _photo_evidence(shared, account_id, other) for shared in link.shared_photos
        ]
    swap = account_id != link.account_ids[0]
    return [
        {
            "number": number,
            "listing_ids": listings[1] if swap else listings[0],
            "linked_listing_ids": listings[0] if swap else listings[1],
        }
        for number, listings in sorted(link.numbers.items())
    ]


def _photo_evidence(
    shared: SharedPhoto, account_id: int, other: int
) -> dict[str, object]:
    photo, posted_at = shared.first_posts[account_id]
    linked_photo, linked_posted_at = shared.first_posts[other]
    return {
        "photo_sha256": photo,
        "first_posted_at": iso(posted_at),
        "linked_photo_sha256": linked_photo,
        "linked_first_posted_at": iso(linked_posted_at),
        "distance": shared.distance(photo, linked_photo),
        "accounts_sharing": len(shared.account_ids),
    }


def shared_photo_detail(shared: SharedPhoto, graph: AccountGraph) -> dict[str, object]:
    first = shared.first_poster
    photo, posted_at = shared.first_posts[first]
    return {
        "first_posted_by": {
            **_ref(graph.accounts[first]),
            "photo_sha256": photo,
            "posted_at": iso(posted_at),
        },
        "postings": [
            {
                **_ref(graph.accounts[account_id]),
                "photo_sha256": shared.first_posts[account_id][0],
                "first_posted_at": iso(shared.first_posts[account_id][1]),
            }
            for account_id in sorted(
                shared.first_posts, key=lambda a: shared.first_posts[a][1]
            )
        ],
    }


def _ref(account: AccountInfo) -> dict[str, str]:
    return {"platform": account.platform, "account": account.handle}
