"""The account graph's weighting and seller networks, from records without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.pipeline.link_records import LinkRecords, Posting
from app.pipeline.linking import AccountGraph, shared_photo_weight
from app.pipeline.networks import find_networks

START = datetime(2026, 1, 1, tzinfo=UTC)


def records(
    postings: list[tuple[str, int, int]],
    matches: list[tuple[str, str, int]] = (),
    captions: list[tuple[str, int, str]] = (),
) -> LinkRecords:
    """``postings``: (photo, account id, day posted)."""
    accounts = {account for _photo, account, _day in postings}
    accounts |= {account for _listing, account, _caption in captions}
    return LinkRecords(
        account_rows=[(a, "facebook", f"seller{a}") for a in sorted(accounts)],
        postings=[
            Posting(photo, account, f"{account}-{day}", START + timedelta(days=day))
            for photo, account, day in postings
        ],
        matches=list(matches),
        captions=list(captions),
        labels={"p": ["tiger"], "q": ["tiger", "parrot"]},
    )


@pytest.mark.parametrize("accounts, weight", [(2, 1.0), (3, 0.5), (5, 0.25)])
def test_shared_photo_weight_falls_with_accounts_sharing(accounts, weight):
    assert shared_photo_weight(accounts) == weight


def test_graph_near_duplicates_link_accounts_with_distance_and_first_poster():
    graph = AccountGraph.build(records([("p", 1, 5), ("q", 2, 2)], [("q", "p", 7)]))

    (link,) = graph.links_of(1)
    assert (link.kind, link.weight) == ("photo", 1.0)
    (shared,) = link.shared_photos
    assert shared.first_poster == 2
    assert shared.distance("p", "q") == 7


def test_graph_stock_photo_of_five_accounts_forms_no_network():
    graph_records = records([("stock", account, 0) for account in range(1, 6)])
    graph = AccountGraph.build(graph_records)

    assert {link.weight for link in graph.links.values()} == {0.25}
    assert find_networks(graph, graph_records, min_link_weight=0.5) == []


def test_graph_two_rare_photos_add_up_and_join_network():
    graph_records = records([("p", 1, 0), ("p", 2, 1), ("q", 1, 2), ("q", 2, 3)])
    graph = AccountGraph.build(graph_records)

    (network,) = find_networks(graph, graph_records, min_link_weight=1.5)
    assert [account.handle for account in network.accounts] == ["seller1", "seller2"]
    assert network.first_activity == START
    assert network.last_activity == START + timedelta(days=3)
    assert [entry["label"] for entry in network.species] == ["tiger", "parrot"]


def test_graph_shared_number_links_accounts_as_contact():
    graph_records = records(
        [("p", 1, 0), ("q", 3, 0)],
        captions=[("l1", 1, "WA 0812-3456-7890"), ("l3", 3, "wa.me/6281234567890")],
    )
    graph = AccountGraph.build(graph_records)

    (link,) = graph.links_of(3)
    assert (link.kind, link.weight, link.other(3)) == ("contact", 1.0, 1)
    assert link.numbers == {"+6281234567890": (["l1"], ["l3"])}


def test_networks_largest_first():
    graph_records = records(
        [("a", 1, 0), ("a", 2, 0), ("b", 3, 0), ("b", 4, 0), ("b", 5, 0)],
        captions=[("l3", 3, "0811 2222 3333"), ("l5", 5, "0811-2222-3333")],
    )
    graph = AccountGraph.build(graph_records)

    networks = find_networks(graph, graph_records, min_link_weight=0.5)
    assert [len(network.accounts) for network in networks] == [3, 2]
    assert networks[0].network_id == "net-3"
