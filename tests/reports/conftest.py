"""Evidence fixtures: an app whose evidence folder is the test's own, a store on it, and phone-like files."""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image, ImageDraw

from outreach.reports.evidence import EvidenceStore

#: Where a rescuer's phone was: what must never reach the stored copy.
GPS = {1: "N", 2: (11.0, 33.0, 24.5), 3: "E", 4: (104.0, 55.0, 12.25)}
PHONE_MODEL = "Galaxy S24 Ultra"


@pytest.fixture
def evidence_app(make_app: Callable[..., Flask], tmp_path: Path) -> Iterator[Flask]:
    app = make_app(EVIDENCE_DIR=str(tmp_path / "evidence"))
    with app.app_context():
        yield app


@pytest.fixture
def store(evidence_app: Flask) -> EvidenceStore:
    return EvidenceStore.from_app()


def phone_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0110] = PHONE_MODEL  # Model
    exif[0x0112] = orientation  # Orientation
    gps = exif.get_ifd(0x8825)
    gps.update(GPS)
    return exif


def photo(width: int = 640, height: int = 480, *, seed: int = 1, fmt: str = "JPEG", **save: Any) -> bytes:
    """A photo-like image (coloured blocks, so it compresses like a real one) in ``fmt``."""
    rnd = random.Random(seed)
    im = Image.new("RGB", (width, height), (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    draw = ImageDraw.Draw(im)
    for _ in range(60):
        x, y = rnd.randrange(width), rnd.randrange(height)
        w, h = rnd.randrange(10, max(11, width // 3)), rnd.randrange(10, max(11, height // 3))
        draw.rectangle(
            [x, y, x + w, y + h], fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        )
    out = io.BytesIO()
    im.save(out, fmt, **save)
    return out.getvalue()


def stored_files(store: EvidenceStore) -> list[Path]:
    return [p for p in (store.root / "sha256").rglob("*") if p.is_file()]
