"""Fixtures for the import tests: files written into tmp_path and uploads kept there too."""

import csv
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    # Uploaded files land under MEDIA_ROOT; keep them out of the project's var/ folder.
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def write_csv(tmp_path):
    """Return a function that writes rows as CSV text in the given encoding and returns the path."""

    def write(name: str, text: str, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return path

    return write


@pytest.fixture
def bank_with_customer_no(bank_full_csv, tmp_path) -> Path:
    """The bank-marketing file with a "customer_no" column BM000001... in front, every other value unchanged."""
    target = tmp_path / "bank-full-keyed.csv"
    with open(bank_full_csv, newline="", encoding="utf-8") as source, open(target, "w", newline="", encoding="utf-8") as out:
        reader = csv.reader(source, delimiter=";")
        writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
        header = next(reader)
        writer.writerow(["customer_no", *header])
        for number, row in enumerate(reader, start=1):
            writer.writerow([f"BM{number:06d}", *row])
    return target
