"""The account graph: accounts linked by the photos and contact numbers they share.

Two accounts are linked

- by **photo** when they posted the same photo (same SHA-256) or near-duplicates of it
  (photos the matcher recorded in ``photo_matches``). Near-duplicates are grouped
  transitively into *shared photos*. A shared photo posted by ``n`` different accounts
  gives each of the ``n (n - 1) / 2`` account pairs it links the weight ``1 / (n - 1)``,
  so one shared photo adds exactly 1 to the total link weight of each account that
  posted it, however many posted it. A rare, personally taken photo shared by two
  accounts links them with weight 1; a stock or viral picture posted by five unrelated
  accounts links each pair with 0.25 only. Weights add up over shared photos.
- by **contact** when their captions carry the same mobile number (normalised by
  :mod:`app.pipeline.contacts`). Each shared number weighs 1, whatever the number of
  accounts: a seller's own number is strong evidence even across many accounts.

Each link keeps its evidence: which photos (or numbers), their distance, and when each
account first posted each one (the listing's ``posted_at``, else when Satwa received it).

Limitation: contact numbers are read from every caption on each request rather than
stored at ingest, and near-duplicates are grouped transitively (A like B, B like C puts
A and C in one shared photo even when A and C differ by more than the match distance).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from app.pipeline.contacts import contact_numbers
from app.pipeline.link_records import AccountInfo, LinkRecords, load_link_records

PHOTO = "photo"
CONTACT = "contact"
CONTACT_WEIGHT = 1.0
"""Weight of one contact number two accounts share."""


def load_account_graph(session: Session) -> tuple[AccountGraph, LinkRecords]:
    """The account graph of everything in the database, and the rows it came from."""
    records = load_link_records(session)
    return AccountGraph.build(records), records


def shared_photo_weight(account_count: int) -> float:
    """Weight of one link a photo shared by ``account_count`` accounts creates."""
    return 1.0 / (account_count - 1)


@dataclass(frozen=True)
class SharedPhoto:
    """Near-duplicate photos posted by several accounts, with who posted what first."""

    group_id: int
    first_posts: dict[int, tuple[str, datetime]]
    """Account id -> (its photo sha256, when it first posted it)."""
    distances: dict[tuple[str, str], int]

    @property
    def account_ids(self) -> list[int]:
        return sorted(self.first_posts)

    @property
    def first_poster(self) -> int:
        return min(self.first_posts, key=lambda account: self.first_posts[account][1])

    def distance(self, photo_a: str, photo_b: str) -> int | None:
        if photo_a == photo_b:
            return 0
        return self.distances.get(_pair(photo_a, photo_b))


@dataclass
class AccountLink:
    """One kind of link between two accounts, its weight and its evidence."""

    account_ids: tuple[int, int]
    kind: str
    weight: float = 0.0
    shared_photos: list[SharedPhoto] = field(default_factory=list)
    numbers: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    """Number -> (listing ids of the first account, of the second) carrying it."""

    def other(self, account_id: int) -> int:
        first, second = self.account_ids
        return second if account_id == first else first


class AccountGraph:
    """Accounts and the weighted photo and contact links between them."""

    def __init__(self, accounts: dict[int, AccountInfo]) -> None:
        self.accounts = accounts
        self.links: dict[tuple[int, int, str], AccountLink] = {}
        self.shared_photos: list[SharedPhoto] = []

    @classmethod
    def build(cls, records: LinkRecords) -> AccountGraph:
        """The graph of everything in ``records`` (see :mod:`app.pipeline.link_records`)."""
        graph = cls(records.accounts())
        for shared in _shared_photos(records):
            graph._add_shared_photo(shared)
        graph._add_contacts(records.captions)
        return graph

    def account_id(self, platform: str, handle: str) -> int | None:
        for account in self.accounts.values():
            if (account.platform, account.handle) == (platform, handle):
                return account.account_id
        return None

    def links_of(self, account_id: int) -> list[AccountLink]:
        """The account's links, heaviest first."""
        found = [link for link in self.links.values() if account_id in link.account_ids]
        return sorted(found, key=lambda link: (-link.weight, link.kind))

    def _link(self, first: int, second: int, kind: str) -> AccountLink:
        pair = (min(first, second), max(first, second))
        key = (*pair, kind)
        if key not in self.links:
            self.links[key] = AccountLink(pair, kind)
        return self.links[key]

    def _add_shared_photo(self, shared: SharedPhoto) -> None:
        self.shared_photos.append(shared)
        weight = shared_photo_weight(len(shared.account_ids))
        for first, second in itertools.combinations(shared.account_ids, 2):
            link = self._link(first, second, PHOTO)
            link.weight += weight
            link.shared_photos.append(shared)

    def _add_contacts(self, captions: Iterable[tuple[str, int, str]]) -> None:
        listings_by_number: dict[str, dict[int, list[str]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for listing_id, account_id, caption in captions:
            for number in contact_numbers(caption):
                listings_by_number[number][account_id].append(listing_id)
        for number, listings in listings_by_number.items():
            for first, second in itertools.combinations(sorted(listings), 2):
                link = self._link(first, second, CONTACT)
                link.weight += CONTACT_WEIGHT
                link.numbers[number] = (listings[first], listings[second])


def _shared_photos(records: LinkRecords) -> list[SharedPhoto]:
    """Group near-duplicate photos; keep the groups posted by two or more accounts."""
    first_posts = records.first_posts()
    groups = _photo_groups(first_posts, records.matches)
    group_of = {photo: index for index, photos in enumerate(groups) for photo in photos}
    distances: dict[int, dict[tuple[str, str], int]] = defaultdict(dict)
    for photo_a, photo_b, distance in records.matches:
        if photo_a in group_of:
            distances[group_of[photo_a]][_pair(photo_a, photo_b)] = distance
    shared = []
    for group_id, photos in enumerate(groups):
        posts = _earliest_post_per_account(photos, first_posts)
        if len(posts) >= 2:
            shared.append(SharedPhoto(group_id, posts, distances[group_id]))
    return shared


def _photo_groups(
    first_posts: dict[str, dict[int, datetime]],
    matches: list[tuple[str, str, int]],
) -> list[set[str]]:
    """Connected groups of photos over the match pairs (union-find)."""
    parent = {photo: photo for photo in first_posts}

    def root(photo: str) -> str:
        while parent[photo] != photo:
            parent[photo] = parent[parent[photo]]
            photo = parent[photo]
        return photo

    for photo_a, photo_b, _distance in matches:
        if photo_a in parent and photo_b in parent:
            parent[root(photo_a)] = root(photo_b)
    groups: dict[str, set[str]] = defaultdict(set)
    for photo in parent:
        groups[root(photo)].add(photo)
    return sorted(groups.values(), key=min)


def _earliest_post_per_account(
    photos: set[str], first_posts: dict[str, dict[int, datetime]]
) -> dict[int, tuple[str, datetime]]:
    posts: dict[int, tuple[str, datetime]] = {}
    for photo in sorted(photos):
        for account_id, posted_at in first_posts[photo].items():
            known = posts.get(account_id)
            if known is None or posted_at < known[1]:
                posts[account_id] = (photo, posted_at)
    return posts


def _pair(photo_a: str, photo_b: str) -> tuple[str, str]:
    return (photo_a, photo_b) if photo_a <= photo_b else (photo_b, photo_a)
