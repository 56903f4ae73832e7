"""Indonesian mobile numbers in captions, normalised to +628..."""

from __future__ import annotations

import pytest

from app.pipeline.contacts import contact_numbers

NUMBER = "+6281234567890"


@pytest.mark.parametrize(
    "caption",
    [
        "WA 081234567890",
        "wa 0812-3456-7890 ready",
        "hub 0812 3456 7890",
        "0812.3456.7890",
        "+62 812 3456 7890",
        "+62-812-3456-7890",
        "62 812-3456-7890",
        "(+62) 812 3456 7890",
        "order: wa.me/6281234567890",
        "https://wa.me/+6281234567890?text=halo",
        "WA ０８１２-３４５６-７８９０",  # full-width
        "＋６２ ８１２ ３４５６ ７８９０",
        "WA ٠٨١٢٣٤٥٦٧٨٩٠",  # Arabic-Indic
        "WA 0812\u200b3456\u200b7890",  # zero-width spaces
        "WA 0812\u200e-3456-7890",  # a direction mark
        "WA 0812\u20133456\u20137890",  # en dashes
    ],
)
def test_contact_numbers_written_forms_normalise_to_one(caption):
    assert contact_numbers(caption) == [NUMBER]


@pytest.mark.parametrize(
    "caption",
    [
        None,
        "",
        "harga 350000 nego",
        "telp kantor 021-555-1234",
        "resi 12081234567890x",
        "0812345",
    ],
)
def test_contact_numbers_without_mobile_number_gives_none(caption):
    assert contact_numbers(caption) == []


def test_contact_numbers_several_numbers_kept_once_in_order():
    caption = "WA 0857 1111 2222 / 0812-3456-7890 / wa.me/6285711112222"
    assert contact_numbers(caption) == ["+6285711112222", NUMBER]
