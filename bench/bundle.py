"""Benchmark: storing six 12-megapixel phone photos and building the rescue-request bundle from them.

What it does, in this process, with the real libraries (Pillow, pillow-heif, pypdf, WeasyPrint):

1. makes ``--photos`` (6) photo-like JPEGs of ``--width`` × ``--height`` (4032 × 3024, a phone's 12 MP)
   with EXIF and a GPS position, noisy enough to weigh what phone photos weigh (a few MB each);
2. stores each through :class:`~outreach.reports.evidence.EvidenceStore` (read in chunks, type check,
   full decode, upright re-encode without metadata, hashing, content-addressed write) and times it;
3. builds the bundle PDF (Korean, English and Khmer labels, a Khmer statement, the photos scaled to
   at most 1800 px) and the zip with the full-size files and manifest, ``--runs`` times, and prints
   the median, fastest and slowest build times and the sizes.

    .venv/bin/python bench/bundle.py [--photos 6] [--runs 5] [--width 4032] [--height 3024]

Needs no database or Redis: the app is built on a throw-away SQLite file it never opens. Not a
test: it prints figures.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, ImageDraw

from outreach import create_app
from outreach.reports.bundle import (
    BundleCase,
    BundleEvidence,
    BundleLocation,
    BundlePerson,
    BundleStatement,
    EvidenceRole,
    RescueBundle,
    build_bundle_pdf,
    write_bundle_zip,
)
from outreach.reports.evidence import EvidenceStore

ROLES = [
    EvidenceRole.FACE_PHOTO,
    EvidenceRole.PASSPORT,
    EvidenceRole.BUILDING,
    EvidenceRole.BUILDING,
    EvidenceRole.LOCATION,
    EvidenceRole.OTHER,
]


def phone_photo(width: int, height: int, seed: int) -> bytes:
    im = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(im)
    rnd = random.Random(seed)
    for _ in range(400):
        x, y = rnd.randrange(width), rnd.randrange(height)
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        draw.rectangle([x, y, x + rnd.randrange(40, 800), y + rnd.randrange(40, 800)], fill=colour)
    # Sensor noise: what makes a real photo weigh megabytes rather than kilobytes.
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    im = Image.blend(im, noise, 0.25)
    exif = Image.Exif()
    exif[0x0110] = "Galaxy S24"
    exif.get_ifd(0x8825).update({1: "N", 2: (10.0, 36.0, 33.5), 3: "E", 4: (103.0, 31.0, 46.6)})
    out = io.BytesIO()
    im.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=int, default=6)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--width", type=int, default=4032)
    parser.add_argument("--height", type=int, default=3024)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="outreach-bench-bundle-") as folder:
        app = create_app(
            {
                "SECRET_KEY": secrets.token_hex(16),
                "DATABASE_URL": f"sqlite:///{folder}/unused.sqlite3",
                "REDIS_URL": "redis://127.0.0.1:1/0",  # never connected to
                "EVIDENCE_DIR": os.path.join(folder, "evidence"),
                "EVIDENCE_MAX_BYTES": 15 * 1024 * 1024,
            }
        )
        with app.app_context():
            store = EvidenceStore.from_app()
            photos = [phone_photo(args.width, args.height, seed) for seed in range(args.photos)]
            accept_times = []
            evidence = []
            for n, data in enumerate(photos):
                started = time.perf_counter()
                record = store.accept(io.BytesIO(data), declared_name=f"IMG_{n:04d}.jpg")
                accept_times.append(time.perf_counter() - started)
                evidence.append(BundleEvidence(record, ROLES[n % len(ROLES)]))
            now = datetime.now(UTC)
            bundle = RescueBundle(
                case=BundleCase(
                    reference="R-2026-0042",
                    reported_at=now,
                    status="located",
                    summary="어머니의 신고: 아들이 2주 전부터 시아누크빌의 단지에 갇혀 있습니다.\n" * 3,
                    task_force_reference="TF-KH-118",
                    recruitment="Telegram @fastjob_kh",
                    officer_name="Park Ji-won",
                ),
                person=BundlePerson(
                    name_latin="KIM MINSU", name_hangul="김민수", date_of_birth=date(1999, 4, 12)
                ),
                location=BundleLocation(province="Preah Sihanouk", latitude=10.6093, longitude=103.5296),
                evidence=tuple(evidence),
                statement=BundleStatement(
                    text="ខ្ញុំឈ្មោះ គីម ម៉ិនស៊ូ។ ពួកគេយកលិខិតឆ្លងដែនរបស់ខ្ញុំ ហើយមិនអនុញ្ញាតឱ្យខ្ញុំចេញទេ។ " * 4,
                    language="km",
                ),
                disclosure_reference="D-2026-0007",
                prepared_by="Park Ji-won",
                prepared_at=now,
                issuer="Embassy of the Republic of Korea in the Kingdom of Cambodia",
            )
            build_bundle_pdf(bundle, store)  # warm-up: fonts and templates load once per process
            pdf_times, zip_times = [], []
            for _ in range(args.runs):
                started = time.perf_counter()
                pdf = build_bundle_pdf(bundle, store)
                pdf_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                manifest = write_bundle_zip(bundle, store, Path(folder) / "bundle.zip", pdf=pdf)
                zip_times.append(time.perf_counter() - started)

    mb = 1024 * 1024
    print(
        f"photos: {args.photos} × {args.width}×{args.height} JPEG, {sum(map(len, photos)) / mb:.1f} MB in all"
    )
    print(
        f"store (check, decode, strip, re-encode, hash, write) per photo: median "
        f"{statistics.median(accept_times):.2f} s, slowest {max(accept_times):.2f} s"
    )
    print(
        f"bundle PDF over {args.runs} runs: median {statistics.median(pdf_times):.2f} s, "
        f"fastest {min(pdf_times):.2f} s, slowest {max(pdf_times):.2f} s; {len(pdf) / mb:.1f} MB"
    )
    print(
        f"zip (PDF + {len(manifest.files)} files + manifest): median {statistics.median(zip_times):.2f} s; "
        f"{manifest.zip_size / mb:.1f} MB"
    )
    print(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
