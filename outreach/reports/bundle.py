"""The rescue-request bundle: one PDF the task force can act on, and a zip of it with the files.

What the Cambodian police ask for before a rescue, in one document: who (with a recent face photo
and the passport copy), where (coordinates, map links, a photo of the building), since when, what
happened (the statement), and which disclosure entry allowed it to leave the embassy. Headings and
labels are in Korean, English and Khmer side by side, since the document is read by Korean and
Cambodian officers alike; the facts are shown as they were recorded. Times are Cambodia time.

The PDF is built with WeasyPrint from ``templates/reports/bundle.html``. Everything it loads comes
through :class:`_BundleFetcher`: the stored evidence files named in the bundle and the Korean and
Khmer fonts (Debian's ``fonts-nanum`` and ``fonts-khmeros``; embedded as subsets), and nothing else
— no network, no other file, whatever the text of a report contains. A missing photo or font stops
the build rather than leaving a gap in a document the police rely on.

The zip holds the PDF, every evidence file as stored (metadata removed, see :mod:`.evidence`), the
statement as a UTF-8 text file (Khmer copied out of any PDF comes out garbled: a PDF maps each glyph
to one piece of text, and Khmer draws some vowels and subscripts out of reading order), a
``manifest.json`` (names, roles, SHA-256 and sizes of the stored files and of the originals as
uploaded) and a ``SHA256SUMS`` file that ``sha256sum -c`` checks. Its own SHA-256 is returned for the
disclosure log.

Input is plain dataclasses, so the later reports models only have to fill them in.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from flask import render_template
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from PIL import Image
from weasyprint import HTML, URLFetcher
from weasyprint.urls import URLFetcherResponse

from outreach.grievances.timeutil import LOCAL_TZ, LOCAL_TZ_NAME
from outreach.i18n import LOCALES, for_person_language
from outreach.reports.evidence import JPEG, PNG, EvidenceStore, StoredEvidence

# WeasyPrint logs every layout step at INFO; a worker's log would hold seven lines per bundle.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

#: Longest side of a photo inside the PDF. The zip carries the full-size file; in the PDF this is
#: sharp at A4 width and keeps six phone photos to a few megabytes (and the build to seconds).
PDF_IMAGE_MAX_SIDE = 1800
PDF_JPEG_QUALITY = 85

#: The fonts embedded in the PDF: Debian's packages, installed by ``.ci/setup``.
FONTS: dict[str, tuple[Path, str]] = {
    "hangul": (Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf"), "fonts-nanum"),
    "hangul-bold": (Path("/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf"), "fonts-nanum"),
    "khmer": (Path("/usr/share/fonts/truetype/khmeros/KhmerOSsiemreap.ttf"), "fonts-khmeros"),
}


class BundleError(RuntimeError):
    """The bundle cannot be built as asked (a file missing or changed, a font not installed)."""


class EvidenceRole(StrEnum):
    """What a file shows; the police look for each by name."""

    FACE_PHOTO = "face_photo"
    PASSPORT = "passport"
    BUILDING = "building"
    LOCATION = "location"  # a map screenshot or a shared location
    OTHER = "other"


@dataclass(frozen=True)
class BundleCase:
    reference: str
    reported_at: datetime
    #: The case's stage in words (the lifecycle's value, e.g. "located").
    status: str
    summary: str
    task_force_reference: str | None = None
    recruitment: str | None = None
    last_contact_at: datetime | None = None
    reporter: str | None = None
    officer_name: str | None = None
    officer_contact: str | None = None


@dataclass(frozen=True)
class BundlePerson:
    name_latin: str
    name_hangul: str | None = None
    date_of_birth: date | None = None
    sex: str | None = None
    nationality: str = "Republic of Korea"
    passport_number: str | None = None
    phones: tuple[str, ...] = ()
    description: str | None = None


@dataclass(frozen=True)
class BundleLocation:
    province: str | None = None
    area: str | None = None
    building: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    #: A map link as the reporter gave it (shown as text; a link only if it is http or https).
    map_url: str | None = None
    seen_at: datetime | None = None
    note: str | None = None

    @property
    def has_coordinates(self) -> bool:
        return self.latitude is not None and self.longitude is not None


@dataclass(frozen=True)
class BundleEvidence:
    record: StoredEvidence
    role: EvidenceRole
    caption: str | None = None


@dataclass(frozen=True)
class BundleStatement:
    text: str
    #: The language it is written in (ko, en, km, or another ISO code).
    language: str
    given_by: str | None = None
    given_at: datetime | None = None


@dataclass(frozen=True)
class RescueBundle:
    case: BundleCase
    person: BundlePerson
    location: BundleLocation
    disclosure_reference: str
    prepared_by: str
    prepared_at: datetime
    issuer: str
    evidence: tuple[BundleEvidence, ...] = ()
    statement: BundleStatement | None = None


@dataclass(frozen=True)
class ManifestEntry:
    name: str
    sha256: str
    size: int
    media_type: str
    role: str | None = None
    original_name: str | None = None
    original_sha256: str | None = None
    original_size: int | None = None
    original_type: str | None = None
    removed_metadata: tuple[str, ...] = ()


@dataclass(frozen=True)
class BundleManifest:
    case_reference: str
    disclosure_reference: str
    prepared_at: str
    pdf: ManifestEntry
    files: tuple[ManifestEntry, ...]
    #: Of the zip itself (not inside it): what the disclosure log records as handed over.
    zip_sha256: str = ""
    zip_size: int = 0

    def as_json(self) -> str:
        data = {
            "case_reference": self.case_reference,
            "disclosure_reference": self.disclosure_reference,
            "prepared_at": self.prepared_at,
            "time_zone": LOCAL_TZ_NAME,
            "pdf": _entry_json(self.pdf),
            "files": [_entry_json(e) for e in self.files],
        }
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _entry_json(entry: ManifestEntry) -> dict[str, Any]:
    data = {k: v for k, v in entry.__dict__.items() if v is not None}
    data["removed_metadata"] = list(entry.removed_metadata)
    return data


# --- labels: each shown in Korean, English and Khmer -----------------------------------------------

LABELS: dict[str, LazyString] = {
    "title": _l("Rescue request"),
    "confidential": _l("Confidential: personal data handed over for a rescue"),
    "references": _l("References"),
    "case_reference": _l("Embassy case"),
    "task_force_reference": _l("Task force reference"),
    "disclosure_reference": _l("Disclosure record"),
    "prepared": _l("Prepared by"),
    "status": _l("Stage"),
    "times_note": _l("All times are Cambodia time (ICT, UTC+7)."),
    "person": _l("Person in danger"),
    "name": _l("Name"),
    "name_hangul": _l("Name in Korean"),
    "date_of_birth": _l("Date of birth"),
    "sex": _l("Sex"),
    "nationality": _l("Nationality"),
    "passport_number": _l("Passport number"),
    "phones": _l("Phone numbers"),
    "description": _l("Description"),
    "location": _l("Last known location"),
    "province": _l("Province"),
    "area": _l("Area"),
    "building": _l("Compound or building"),
    "address": _l("Address"),
    "coordinates": _l("Coordinates"),
    "map": _l("Map"),
    "seen_at": _l("Known there at"),
    "note": _l("Note"),
    "case": _l("Case summary"),
    "reported_at": _l("Reported"),
    "reporter": _l("Reported by"),
    "last_contact": _l("Last contact"),
    "recruitment": _l("How they were recruited"),
    "officer": _l("Embassy officer"),
    "statement": _l("Statement"),
    "statement_language": _l("Language"),
    "given_by": _l("Given by"),
    "photos": _l("Photos"),
    "passport": _l("Passport copy"),
    "face_photo": _l("Face photo"),
    "building_photo": _l("Building"),
    "location_photo": _l("Location"),
    "other": _l("Other"),
    "files": _l("Files in this bundle"),
    "files_note": _l(
        "Each file is in the zip beside this PDF. Metadata (such as the GPS position of the phone "
        "that took a photo) was removed; the SHA-256 of the file as it was sent is kept."
    ),
    "file": _l("File"),
    "kind": _l("Kind"),
    "size": _l("Size"),
    "removed": _l("Removed"),
    "original": _l("Original as sent"),
    "pages": _l("Pages"),
    "none": _l("Not known"),
}

ROLE_LABELS = {
    EvidenceRole.FACE_PHOTO: "face_photo",
    EvidenceRole.PASSPORT: "passport",
    EvidenceRole.BUILDING: "building_photo",
    EvidenceRole.LOCATION: "location_photo",
    EvidenceRole.OTHER: "other",
}


def trilingual(key: str) -> dict[str, str]:
    """A label in each language residents use: ``{"ko": …, "en": …, "km": …}``."""
    result = {}
    for lang in LOCALES:
        with for_person_language(lang):
            result[lang] = str(LABELS[key])
    return result


# --- formatting ----------------------------------------------------------------------------------


def cambodia_time(moment: datetime | None) -> str:
    """``2026-03-02 14:05 ICT``: a moment as people in Cambodia read it."""
    if moment is None:
        return ""
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") + " ICT"


def map_links(location: BundleLocation) -> list[tuple[str, str]]:
    """Links that open the coordinates in Google Maps and OpenStreetMap."""
    if location.latitude is None or location.longitude is None:
        return []
    lat, lon = f"{location.latitude:.6f}", f"{location.longitude:.6f}"
    return [
        ("Google Maps", f"https://www.google.com/maps/search/?api=1&query={lat}%2C{lon}"),
        ("OpenStreetMap", f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=18/{lat}/{lon}"),
    ]


def _human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


def _age(born: date | None, on: datetime) -> int | None:
    if born is None:
        return None
    today = on.astimezone(LOCAL_TZ).date()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _safe_reference(reference: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]+", "-", reference).strip("-") or "case"


def _zip_names(evidence: Iterable[BundleEvidence]) -> list[str]:
    """``files/01-passport-여권.jpg``: ordered, unique, saying what each file is."""
    return [
        f"files/{n:02d}-{item.role.value.replace('_', '-')}-{item.record.original_name}"
        for n, item in enumerate(evidence, start=1)
    ]


# --- the PDF -------------------------------------------------------------------------------------


class _BundleFetcher(URLFetcher):
    """Serves ``evidence:<sha256>`` from the store and ``font:<name>`` from :data:`FONTS`; refuses
    every other URL, so nothing in a report's text can make the PDF fetch or read anything else."""

    def __init__(self, store: EvidenceStore, records: dict[str, StoredEvidence]) -> None:
        super().__init__(fail_on_errors=True, allowed_protocols=["evidence", "font"])
        self.store = store
        self.records = records

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        scheme, _, name = url.partition(":")
        if scheme == "evidence" and name in self.records:
            body, media_type = _pdf_image(self.store.path_of(self.records[name]), self.records[name])
            return URLFetcherResponse(url, body, {"Content-Type": media_type})
        if scheme == "font" and name in FONTS:
            return URLFetcherResponse(url, FONTS[name][0].read_bytes(), {"Content-Type": "font/ttf"})
        raise BundleError(f"the bundle may not load {url!r}")


def _pdf_image(path: Path, record: StoredEvidence) -> tuple[bytes, str]:
    """The stored image, made smaller when it is larger than a page needs."""
    data = path.read_bytes()
    if max(record.width or 0, record.height or 0) <= PDF_IMAGE_MAX_SIDE:
        return data, record.media_type
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (PDF_IMAGE_MAX_SIDE, PDF_IMAGE_MAX_SIDE))  # JPEG: decode at a fraction of the size
        im.thumbnail((PDF_IMAGE_MAX_SIDE, PDF_IMAGE_MAX_SIDE))
        out = io.BytesIO()
        if record.media_type == PNG:
            im.save(out, "PNG")
        else:
            im.convert("RGB").save(out, "JPEG", quality=PDF_JPEG_QUALITY)
    return out.getvalue(), record.media_type if record.media_type == PNG else JPEG


def _check_inputs(bundle: RescueBundle, store: EvidenceStore) -> None:
    for name, (path, package) in FONTS.items():
        if not path.is_file():
            raise BundleError(f"font {name} ({path}) is missing: install the Debian package {package}")
    for item in bundle.evidence:
        if not store.verify(item.record):
            raise BundleError(
                f"evidence file {item.record.sha256} is missing or does not match its hash; "
                "the bundle is not built from a changed file"
            )


def render_bundle_html(bundle: RescueBundle, zip_names: list[str] | None = None) -> str:
    """The bundle as HTML (what the PDF is made from; also handy to look at in a browser)."""
    names = zip_names or _zip_names(bundle.evidence)
    by_role: dict[EvidenceRole, list[BundleEvidence]] = {role: [] for role in EvidenceRole}
    for item in bundle.evidence:
        by_role[item.role].append(item)
    with for_person_language("en"):
        return render_template(
            "reports/bundle.html",
            b=bundle,
            tri=trilingual,
            when=cambodia_time,
            by_role=by_role,
            roles=EvidenceRole,
            role_labels=ROLE_LABELS,
            files=list(zip(names, bundle.evidence, strict=True)),
            map_links=map_links(bundle.location),
            age=_age(bundle.person.date_of_birth, bundle.prepared_at),
            human_size=_human_size,
            # Into a CSS string: only characters that cannot end it or escape from it.
            footer=re.sub(r"[^\w .:/#·-]", "", f"{bundle.case.reference} · {bundle.disclosure_reference}"),
            safe_map_url=bool(bundle.location.map_url and re.match(r"https?://", bundle.location.map_url)),
        )


def build_bundle_pdf(bundle: RescueBundle, store: EvidenceStore) -> bytes:
    """The rescue-request PDF; raises :class:`BundleError` if a file or a font is not as it should be."""
    _check_inputs(bundle, store)
    records = {item.record.sha256: item.record for item in bundle.evidence}
    html = render_bundle_html(bundle)
    fetcher = _BundleFetcher(store, records)
    pdf = HTML(string=html, base_url="evidence:", url_fetcher=fetcher).write_pdf(
        custom_metadata=False, pdf_identifier=hashlib.sha256(html.encode()).digest()[:16]
    )
    return bytes(pdf)


# --- the zip -------------------------------------------------------------------------------------


def write_bundle_zip(
    bundle: RescueBundle, store: EvidenceStore, target: Path, *, pdf: bytes | None = None
) -> BundleManifest:
    """Write the zip (PDF, files, manifest, SHA256SUMS) to ``target``; returns what it holds."""
    _check_inputs(bundle, store)
    pdf = pdf if pdf is not None else build_bundle_pdf(bundle, store)
    stamp = bundle.prepared_at.astimezone(LOCAL_TZ).timetuple()[:6]
    reference = _safe_reference(bundle.case.reference)
    pdf_entry = ManifestEntry(
        name=f"rescue-request-{reference}.pdf",
        sha256=hashlib.sha256(pdf).hexdigest(),
        size=len(pdf),
        media_type="application/pdf",
    )
    entries: list[ManifestEntry] = []
    tmp = target.with_name(target.name + ".part")
    with zipfile.ZipFile(tmp, "w") as archive:
        archive.writestr(_zip_info(pdf_entry.name, stamp, zipfile.ZIP_DEFLATED), pdf)
        for name, item in zip(_zip_names(bundle.evidence), bundle.evidence, strict=True):
            record = item.record
            digest = hashlib.sha256()
            # Photos are compressed already; storing them as they are keeps the zip fast to build.
            info = _zip_info(
                name,
                stamp,
                zipfile.ZIP_DEFLATED if record.media_type == "application/pdf" else zipfile.ZIP_STORED,
            )
            with store.path_of(record).open("rb") as src, archive.open(info, "w") as dst:
                while chunk := src.read(1024 * 1024):
                    digest.update(chunk)
                    dst.write(chunk)
            if digest.hexdigest() != record.sha256:
                raise BundleError(f"evidence file {record.sha256} changed while the bundle was written")
            entries.append(
                ManifestEntry(
                    name=name,
                    sha256=record.sha256,
                    size=record.size,
                    media_type=record.media_type,
                    role=item.role.value,
                    original_name=record.original_name,
                    original_sha256=record.original_sha256,
                    original_size=record.original_size,
                    original_type=record.original_type,
                    removed_metadata=record.removed_metadata,
                )
            )
        if bundle.statement is not None:
            # The exact text: copying Khmer out of a PDF is unreliable (a PDF maps each glyph to one
            # piece of text, and Khmer draws some vowels and subscripts out of reading order).
            text = bundle.statement.text.encode("utf-8")
            name = f"statement-{_safe_reference(bundle.statement.language)}.txt"
            archive.writestr(_zip_info(name, stamp, zipfile.ZIP_DEFLATED), text)
            entries.append(
                ManifestEntry(
                    name=name,
                    sha256=hashlib.sha256(text).hexdigest(),
                    size=len(text),
                    media_type="text/plain; charset=utf-8",
                    role="statement",
                )
            )
        manifest = BundleManifest(
            case_reference=bundle.case.reference,
            disclosure_reference=bundle.disclosure_reference,
            prepared_at=bundle.prepared_at.astimezone(LOCAL_TZ).isoformat(timespec="seconds"),
            pdf=pdf_entry,
            files=tuple(entries),
        )
        archive.writestr(_zip_info("manifest.json", stamp, zipfile.ZIP_DEFLATED), manifest.as_json())
        sums = "".join(f"{e.sha256}  {e.name}\n" for e in (pdf_entry, *entries))
        archive.writestr(_zip_info("SHA256SUMS", stamp, zipfile.ZIP_DEFLATED), sums)
    tmp.replace(target)
    digest = hashlib.sha256()
    with target.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return replace(manifest, zip_sha256=digest.hexdigest(), zip_size=target.stat().st_size)


def _zip_info(name: str, stamp: tuple[int, ...], compression: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(stamp[0], stamp[1], stamp[2], stamp[3], stamp[4], stamp[5]))
    info.compress_type = compression
    info.external_attr = 0o600 << 16
    return info


__all__ = [
    "BundleCase",
    "BundleError",
    "BundleEvidence",
    "BundleLocation",
    "BundleManifest",
    "BundlePerson",
    "BundleStatement",
    "EvidenceRole",
    "ManifestEntry",
    "RescueBundle",
    "build_bundle_pdf",
    "render_bundle_html",
    "write_bundle_zip",
]
