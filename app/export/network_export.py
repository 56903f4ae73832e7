"""Seller networks as files for link-chart tools: GraphML and Gephi's CSV tables.

Nodes are accounts (id ``platform/account``); one undirected edge joins two linked
accounts, its ``weight`` the sum of their photo and contact link weights, with each
kind's weight and evidence counts as attributes. Gephi opens the GraphML file directly,
or imports ``nodes.csv`` and ``edges.csv`` with its spreadsheet importer.
"""

from __future__ import annotations

import csv
import io

import networkx as nx

from app.pipeline.link_records import AccountInfo, iso
from app.pipeline.linking import CONTACT, PHOTO, AccountGraph
from app.pipeline.networks import Network

EXPORT_FORMATS = {
    "graphml": ("network.graphml", "application/graphml+xml"),
    "nodes.csv": ("nodes.csv", "text/csv"),
    "edges.csv": ("edges.csv", "text/csv"),
}
"""Format name -> (file name, media type)."""

NODE_COLUMNS = ("Id", "Label", "platform", "account", "network", "first", "last")
EDGE_COLUMNS = (
    "Source",
    "Target",
    "Type",
    "Weight",
    "kinds",
    "photo_weight",
    "contact_weight",
    "shared_photos",
    "shared_numbers",
)


def network_graph(networks: list[Network], graph: AccountGraph) -> nx.Graph:
    """One graph of the given networks: accounts as nodes, links merged per pair."""
    chart = nx.Graph()
    for network in networks:
        for account in network.accounts:
            chart.add_node(node_id(account), **_node_attributes(account, network))
        for link in network.links:
            first, second = (node_id(graph.accounts[a]) for a in link.account_ids)
            edge = chart.get_edge_data(first, second) or _empty_edge()
            edge[f"{link.kind}_weight"] += link.weight
            edge["weight"] += link.weight
            edge["shared_photos"] += len(link.shared_photos)
            edge["shared_numbers"] += len(link.numbers)
            edge["kinds"] = ";".join(
                kind for kind in (PHOTO, CONTACT) if edge[f"{kind}_weight"] > 0
            )
            chart.add_edge(first, second, **edge)
    return chart


def export_bytes(chart: nx.Graph, export_format: str) -> bytes:
    """The chart in one of :data:`EXPORT_FORMATS`."""
    if export_format == "graphml":
        return "\n".join(nx.generate_graphml(chart)).encode()
    if export_format == "nodes.csv":
        return _csv(NODE_COLUMNS, _node_rows(chart))
    if export_format == "edges.csv":
        return _csv(EDGE_COLUMNS, _edge_rows(chart))
    raise ValueError(
        f"Expected an export format among {sorted(EXPORT_FORMATS)}; "
        f"got {export_format!r}"
    )


def node_id(account: AccountInfo) -> str:
    return f"{account.platform}/{account.handle}"


def _node_attributes(account: AccountInfo, network: Network) -> dict[str, str]:
    return {
        "label": node_id(account),
        "platform": account.platform,
        "account": account.handle,
        "network": network.network_id,
        "first_activity": iso(account.first_activity) or "",
        "last_activity": iso(account.last_activity) or "",
    }


def _empty_edge() -> dict[str, object]:
    return {
        "weight": 0.0,
        "photo_weight": 0.0,
        "contact_weight": 0.0,
        "shared_photos": 0,
        "shared_numbers": 0,
        "kinds": "",
    }


def _node_rows(chart: nx.Graph):
    for node, data in sorted(chart.nodes(data=True)):
        yield (
            node,
            data["label"],
            data["platform"],
            data["account"],
            data["network"],
            data["first_activity"],
            data["last_activity"],
        )


def _edge_rows(chart: nx.Graph):
    for first, second, data in sorted(chart.edges(data=True)):
        yield (
            first,
            second,
            "Undirected",
            round(data["weight"], 4),
            data["kinds"],
            round(data["photo_weight"], 4),
            round(data["contact_weight"], 4),
            data["shared_photos"],
            data["shared_numbers"],
        )


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""Cell starts a spreadsheet would run as a formula (a seller picks the handle)."""


def _csv(columns, rows) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_inert(cell) for cell in row] for row in rows)
    return buffer.getvalue().encode()


def _inert(cell: object) -> object:
    """A text cell a spreadsheet would take for a formula, with a ' in front (the
    usual guard against CSV injection); numbers and other text are left alone."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell
