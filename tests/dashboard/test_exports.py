import datetime
from decimal import Decimal

import pytest

from portal.exports import neutralise


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ("+8613800000000", "'+8613800000000"),
        ("-1", "'-1"),
        ("@cmd", "'@cmd"),
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ("Campaign X", "Campaign X"),
        ("a=b", "a=b"),
        (None, ""),
    ],
)
def test_neutralise_text(value, expected):
    assert neutralise(value) == expected


@pytest.mark.parametrize("value", [-3, 0, 12.5, Decimal("-1.50"), datetime.date(2025, 1, 6)])
def test_neutralise_keeps_numbers_and_dates(value):
    assert neutralise(value) is value


def test_neutralise_bool_is_text():
    assert neutralise(True) == "True"
