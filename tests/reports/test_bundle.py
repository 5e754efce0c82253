"""The rescue-request bundle: a PDF with Korean and Khmer text and the photos inside, and its zip."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader
from weasyprint import HTML

from outreach.reports.bundle import (
    PDF_IMAGE_MAX_SIDE,
    BundleCase,
    BundleError,
    BundleEvidence,
    BundleLocation,
    BundlePerson,
    BundleStatement,
    EvidenceRole,
    RescueBundle,
    _BundleFetcher,
    build_bundle_pdf,
    write_bundle_zip,
)
from outreach.reports.evidence import EvidenceStore
from tests.reports.conftest import phone_exif, photo

KHMER_STATEMENT = "ខ្ញុំឈ្មោះ គីម ម៉ិនស៊ូ។ ពួកគេយកលិខិតឆ្លងដែនរបស់ខ្ញុំ ហើយមិនអនុញ្ញាតឱ្យខ្ញុំចេញទេ។"
KOREAN_SUMMARY = "어머니의 신고: 아들이 2주 전부터 시아누크빌의 단지에 갇혀 있습니다."
#: 2026-03-02 07:30 UTC is 14:30 in Phnom Penh.
PREPARED = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)


def make_bundle(store: EvidenceStore, *, html_in_summary: str = "") -> RescueBundle:
    files = [
        (photo(1600, 1200, seed=1, exif=phone_exif()), "얼굴.jpg", EvidenceRole.FACE_PHOTO),
        (photo(2400, 1800, seed=2), "passport.jpg", EvidenceRole.PASSPORT),  # larger than a page needs
        (photo(1200, 900, seed=3, fmt="HEIF"), "IMG_0042.HEIC", EvidenceRole.BUILDING),
        (photo(1200, 900, seed=4), "gate.jpg", EvidenceRole.BUILDING),
        (photo(800, 1400, seed=5, fmt="PNG"), "map-screenshot.png", EvidenceRole.LOCATION),
        (photo(900, 900, seed=6, fmt="WEBP"), "telegram.webp", EvidenceRole.OTHER),
        (HTML(string="<p>Passport page scan</p>").write_pdf(), "passport-scan.pdf", EvidenceRole.PASSPORT),
    ]
    evidence = tuple(
        BundleEvidence(store.accept(io.BytesIO(data), declared_name=name), role) for data, name, role in files
    )
    return RescueBundle(
        case=BundleCase(
            reference="R-2026-0042",
            reported_at=datetime(2026, 3, 1, 23, 5, tzinfo=UTC),
            status="located",
            summary=KOREAN_SUMMARY + html_in_summary,
            task_force_reference="TF-KH-118",
            recruitment="Telegram @fastjob_kh: 월 500만원 고수익 알바",
            last_contact_at=datetime(2026, 2, 16, 12, 0, tzinfo=UTC),
            reporter="김영희 (어머니) +82 10-1234-5678",
            officer_name="Park Ji-won",
            officer_contact="+855 23 211 900",
        ),
        person=BundlePerson(
            name_latin="KIM MINSU",
            name_hangul="김민수",
            date_of_birth=date(1999, 4, 12),
            sex="M",
            passport_number="M12345678",
            phones=("+855 96 123 4567",),
        ),
        location=BundleLocation(
            province="Preah Sihanouk (KH-18)",
            building="Golden Fortune compound, building B",
            latitude=10.609312,
            longitude=103.529604,
            seen_at=datetime(2026, 2, 16, 12, 0, tzinfo=UTC),
        ),
        evidence=evidence,
        statement=BundleStatement(
            text=KHMER_STATEMENT, language="km", given_by="KIM MINSU", given_at=PREPARED
        ),
        disclosure_reference="D-2026-0007",
        prepared_by="Park Ji-won",
        prepared_at=PREPARED,
        issuer="Embassy of the Republic of Korea in the Kingdom of Cambodia",
    )


def pdftotext(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "bundle.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_pdf_carries_korean_and_khmer_text_and_the_facts(store: EvidenceStore, tmp_path: Path) -> None:
    text = pdftotext(build_bundle_pdf(make_bundle(store), store), tmp_path)

    # Korean: headings, the name and the summary come out exactly as written.
    for korean in (
        "구조 요청",
        "위험에 처한 사람",
        "마지막으로 알려진 위치",
        "여권 사본",
        "김민수",
        KOREAN_SUMMARY,
    ):
        assert korean in text
    # Khmer: the title and labels come out of the text layer (pdftotext puts spaces between clusters).
    for khmer in ("សំណើសុំការជួយសង្គ្រោះ", "សញ្ជាតិ", "លេខយោង", "ម៉ោងទាំងអស់ជាម៉ោងកម្ពុជា"):
        assert flat(khmer) in flat(text)
    assert "Rescue request" in text and "Person in danger" in text
    for fact in ("R-2026-0042", "TF-KH-118", "D-2026-0007", "M12345678", "KIM MINSU", "1999-04-12 (26)"):
        assert fact in text
    # Times in Cambodia time, marked so.
    assert "2026-03-02 14:30 ICT" in text and "Cambodia time (ICT, UTC+7)" in text
    assert "10.609312, 103.529604" in text and "google.com/maps" in text


def test_the_fonts_are_embedded_and_every_photo_is_inside(store: EvidenceStore, tmp_path: Path) -> None:
    bundle = make_bundle(store)
    pdf = build_bundle_pdf(bundle, store)
    path = tmp_path / "bundle.pdf"
    path.write_bytes(pdf)

    fonts = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout
    embedded = {line.split()[0].split("+", 1)[1] for line in fonts.splitlines()[2:] if " yes " in line}
    assert {"Bundle-Sans", "Bundle-Khmer"} <= {name.removesuffix("-Bold") for name in embedded}

    # WeasyPrint shares one resource dictionary between pages: count each image object once.
    images = {image.indirect_reference.idnum for page in PdfReader(path).pages for image in page.images}
    photos = [item for item in bundle.evidence if item.record.is_image]
    assert len(photos) == 6 and len(images) == 6
    listed = subprocess.run(
        ["pdfimages", "-list", str(path)], check=True, capture_output=True, text=True
    ).stdout
    sizes = [tuple(map(int, line.split()[3:5])) for line in listed.splitlines()[2:]]
    assert len(sizes) == 6
    assert max(max(size) for size in sizes) == PDF_IMAGE_MAX_SIDE  # the 2400 px passport was made smaller
    assert (800, 1400) in sizes  # a smaller image goes in as it is


def test_the_zip_holds_the_pdf_the_files_and_a_manifest_whose_hashes_match(
    store: EvidenceStore, tmp_path: Path
) -> None:
    bundle = make_bundle(store)
    pdf = build_bundle_pdf(bundle, store)
    target = tmp_path / "bundle.zip"

    manifest = write_bundle_zip(bundle, store, target, pdf=pdf)

    assert manifest.zip_sha256 == hashlib.sha256(target.read_bytes()).hexdigest()
    assert manifest.zip_size == target.stat().st_size
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        assert names[0] == "rescue-request-R-2026-0042.pdf" and archive.read(names[0]) == pdf
        listed = json.loads(archive.read("manifest.json"))
        assert listed["disclosure_reference"] == "D-2026-0007"
        assert listed["prepared_at"] == "2026-03-02T14:30:00+07:00"
        entries = [listed["pdf"], *listed["files"]]
        assert sorted(e["name"] for e in entries) == sorted(
            n for n in names if n not in ("manifest.json", "SHA256SUMS")
        )
        for entry in entries:
            data = archive.read(entry["name"])
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
            assert len(data) == entry["size"]
        sums = archive.read("SHA256SUMS").decode()
        assert sums.splitlines() == [f"{e['sha256']}  {e['name']}" for e in entries]
        assert archive.read("statement-km.txt").decode() == KHMER_STATEMENT
    files = [e for e in listed["files"] if e["role"] != "statement"]
    assert [e["name"] for e in files][:2] == [
        "files/01-face-photo-얼굴.jpg",
        "files/02-passport-passport.jpg",
    ]
    for entry, item in zip(files, bundle.evidence, strict=True):
        assert entry["original_sha256"] == item.record.original_sha256
        assert entry["original_size"] == item.record.original_size
    assert "gps" in files[0]["removed_metadata"]
    assert files[2]["original_type"] == "image/heic" and files[2]["name"].endswith(".jpg")


def test_a_bundle_is_not_built_from_a_file_that_changed(store: EvidenceStore, tmp_path: Path) -> None:
    bundle = make_bundle(store)
    path = store.path_of(bundle.evidence[1].record)
    path.chmod(0o600)
    path.write_bytes(photo(50, 50, seed=99))
    with pytest.raises(BundleError, match="does not match its hash"):
        build_bundle_pdf(bundle, store)
    with pytest.raises(BundleError):
        write_bundle_zip(bundle, store, tmp_path / "bundle.zip")
    assert not (tmp_path / "bundle.zip").exists()


def test_report_text_cannot_make_the_pdf_load_anything(store: EvidenceStore, tmp_path: Path) -> None:
    bundle = make_bundle(store, html_in_summary=' <img src="file:///etc/passwd"> <b>bold</b>')
    text = pdftotext(build_bundle_pdf(bundle, store), tmp_path)
    assert '<img src="file:///etc/passwd">' in text and "<b>bold</b>" in text  # shown as text, escaped
    fetcher = _BundleFetcher(store, {})
    for url in ("file:///etc/passwd", "https://example.com/x.png", "evidence:" + "0" * 64, "font:other"):
        with pytest.raises(BundleError):
            fetcher.fetch(url)
