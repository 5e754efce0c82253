"""Evidence files: check what arrives by its content, keep a clean copy, store it by its hash.

What the police ask for before a rescue is a passport copy, a recent face photo, a photo of the
building and a short statement. These arrive from phones through a one-time upload link, often from
people in danger or from their families, so the store is built for three things:

* **Nothing but photos and PDFs.** A file is judged by its bytes, never by its name or declared type
  (:mod:`filetype` reads the magic numbers; ``pillow_heif`` knows every HEIF brand a phone writes).
  JPEG, PNG, HEIC/HEIF, WebP and PDF are accepted; programs, scripts, web pages, SVG drawings,
  archives and everything else are refused with a reason the uploader can act on. An image must also
  decode completely (Pillow), and a PDF must parse (pypdf).
* **Bounded.** The body is read in chunks into a temporary file and reading stops one byte past
  ``EVIDENCE_MAX_BYTES``: a 50 MB upload costs at most the limit in disk and one chunk in memory.
  Decoding is bounded too (:data:`MAX_PIXELS`).
* **Nothing about the sender leaves with the file.** A phone photo carries EXIF: the phone's model,
  the time and, on most phones, the GPS position where it was taken, which may be where a rescuer or
  an escaped victim is hiding. The stored file is a *derivative*: images are decoded and written
  again (turned upright first, since the orientation tag goes with the EXIF) with no EXIF, XMP,
  comments or text chunks; PDFs are rebuilt from their pages without document metadata, scripts,
  automatic actions or attached files. The original is never written to the store; its SHA-256 and
  size are recorded, so whoever holds the original can show it is the file that was sent.

Stored files live under ``EVIDENCE_DIR`` (default ``instance/evidence``, never under the web root),
at ``sha256/ab/cd/<hex digest>`` of the stored bytes: the same content is stored once, a file can be
checked against its name at any time (:meth:`EvidenceStore.verify`), and nothing a user typed becomes
part of a path. Folders are ``0700`` and files ``0400`` (stored content never changes).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import unicodedata
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import filetype
import pillow_heif
from flask import current_app
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject

# HEIC is what iPhones save by default; the opener teaches Pillow to decode it (libheif, bundled).
pillow_heif.register_heif_opener()

#: Bytes read from the upload per call: bounds the memory one upload holds.
CHUNK_SIZE = 64 * 1024
#: Largest image accepted, in pixels (a 50-megapixel phone photo). Decoding takes about 3 bytes a
#: pixel, so this bounds the memory a hostile "decompression bomb" (a tiny file of huge dimensions)
#: can take, well below Pillow's own warning level.
MAX_PIXELS = 50_000_000
#: Quality of re-written JPEGs: indistinguishable from a phone's own output for faces and documents.
JPEG_QUALITY = 92

JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
HEIC, WEBP = "image/heic", "image/webp"

#: Accepted content (by what the bytes are) → (Pillow format name or None for PDF, stored type).
ACCEPTED: dict[str, tuple[str | None, str]] = {
    JPEG: ("JPEG", JPEG),
    PNG: ("PNG", PNG),
    "image/apng": ("PNG", PNG),  # an animated PNG: its first frame is kept
    HEIC: ("HEIF", JPEG),
    WEBP: ("WEBP", JPEG),
    PDF: (None, PDF),
}
EXTENSIONS = {JPEG: "jpg", PNG: "png", PDF: "pdf"}
#: Declared names that claim to be an accepted kind: a refused file named like this was disguised.
ACCEPTED_SUFFIXES = {"jpg", "jpeg", "jfif", "png", "heic", "heif", "webp", "pdf"}

#: What :mod:`filetype` calls programs: refused with a reason of their own.
EXECUTABLES = {
    "application/x-executable",  # ELF (Linux, Android)
    "application/x-msdownload",  # PE (Windows .exe, .dll)
    "application/x-shockwave-flash",
    "application/x-google-chrome-extension",
    "application/x-deb",
    "application/x-rpm",
    "application/x-nintendo-nes-rom",
    "application/wasm",
    "application/x-mach-binary",
    "application/x-apple-diskimage",
    "application/vnd.android.package-archive",
}


class ReadableStream(Protocol):
    """What an upload is read from: Werkzeug's ``FileStorage.stream``, a file, a socket reader."""

    def read(self, size: int = -1, /) -> bytes: ...


class EvidenceRejected(ValueError):
    """A file that is not stored. ``code`` says why (for logs and tests); ``message`` says it to people.

    Codes: ``empty``, ``too_large``, ``executable``, ``archive``, ``text`` (scripts, web pages, SVG),
    ``not_accepted`` (any other kind), ``unreadable`` (looks like a photo or PDF but does not
    decode), ``too_many_pixels``, ``pdf_encrypted``. ``disguised`` is set when the name claimed an
    accepted kind the content is not (a script named ``photo.jpg``).
    """

    def __init__(
        self, code: str, message: LazyString | JoinedMessage | str, *, disguised: bool = False
    ) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.disguised = disguised

    def __str__(self) -> str:
        return str(self.message)


@dataclass(frozen=True)
class StoredEvidence:
    """One stored evidence file, as the later ``evidence_file`` table will hold it."""

    #: SHA-256 (hex) of the stored bytes: the content address, and what a disclosure lists.
    sha256: str
    size: int
    #: What was stored: ``image/jpeg``, ``image/png`` or ``application/pdf``.
    media_type: str
    #: SHA-256 and size of the file exactly as it was uploaded (the original is not kept).
    original_sha256: str
    original_size: int
    #: What the original's bytes were (``image/heic`` for an iPhone photo stored as JPEG).
    original_type: str
    #: The uploader's file name made safe to show and to put in a zip, with the stored file's extension.
    original_name: str
    #: What the uploader's browser said the file was; never trusted, kept for the record.
    declared_type: str | None
    #: Where the file is, relative to ``EVIDENCE_DIR`` (the folder can move; records stay true).
    stored_path: str
    width: int | None = None
    height: int | None = None
    pages: int | None = None
    #: What was taken out of the original: ``gps``, ``exif``, ``xmp``, ``comment``, ``text``,
    #: ``pdf_info``, ``pdf_actions``, ``pdf_attachments``. Officers see it ("the GPS position was removed").
    removed_metadata: tuple[str, ...] = ()

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.media_type]


def _limit_text(max_bytes: int) -> str:
    return f"{max_bytes / (1024 * 1024):.0f} MB" if max_bytes >= 1024 * 1024 else f"{max_bytes} bytes"


@dataclass(frozen=True)
class _Derivative:
    path: Path
    media_type: str
    width: int | None
    height: int | None
    pages: int | None
    removed: tuple[str, ...]


class EvidenceStore:
    """Checks uploads and keeps their clean copies under ``root``.

    Plain and typed so that a view, a job or a test can use it alike; :meth:`from_app` builds it from
    the app's configuration.
    """

    def __init__(self, root: Path | str, *, max_bytes: int) -> None:
        self.root = Path(root).resolve()
        self.max_bytes = max_bytes
        self._tmp = self.root / "tmp"
        for folder in (self.root, self._tmp, self.root / "sha256"):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            # mkdir's mode does not touch a folder that already exists (or a parent it made with umask).
            with contextlib.suppress(PermissionError):
                folder.chmod(0o700)

    @classmethod
    def from_app(
        cls, config: Mapping[str, Any] | None = None, *, static_folder: str | None = None
    ) -> EvidenceStore:
        """The store the app is configured for; refuses a folder inside the web root."""
        if config is None:
            config = current_app.config
            static_folder = current_app.static_folder
        root = Path(config["EVIDENCE_DIR"]).resolve()
        if static_folder and root.is_relative_to(Path(static_folder).resolve()):
            raise RuntimeError(f"EVIDENCE_DIR ({root}) must not be inside the web root ({static_folder}).")
        return cls(root, max_bytes=int(config["EVIDENCE_MAX_BYTES"]))

    # --- reading a stored file -------------------------------------------------------------------

    def path_of(self, record: StoredEvidence | str) -> Path:
        """The absolute path of a stored file (by record, or by the path a record holds)."""
        relative = record.stored_path if isinstance(record, StoredEvidence) else record
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root / "sha256"):
            raise ValueError(f"not a stored evidence path: {relative!r}")
        return path

    def verify(self, record: StoredEvidence) -> bool:
        """Whether the stored file still holds exactly the bytes its record names."""
        path = self.path_of(record)
        if not path.is_file():
            return False
        digest, size = _hash_file(path)
        return digest == record.sha256 and size == record.size

    # --- accepting an upload ---------------------------------------------------------------------

    def accept(
        self,
        stream: ReadableStream,
        *,
        declared_name: str | None,
        declared_type: str | None = None,
        declared_size: int | None = None,
    ) -> StoredEvidence:
        """Check one uploaded file and store its clean copy; raises :class:`EvidenceRejected`.

        ``declared_size`` (a multipart part's or request's length, when known) lets a file that says it
        is too large be refused before a byte is read; the limit is enforced on what is read anyway.
        Nothing is stored for a refused file, and nothing of the original stays on disk either way.
        """
        if declared_size is not None and declared_size > self.max_bytes:
            raise self._too_large()
        with self._spooled(stream) as (original, original_sha256, original_size):
            if original_size == 0:
                raise EvidenceRejected("empty", _l("The file is empty. Choose the photo or document again."))
            with original.open("rb") as fh:
                head = fh.read(8192)
            detected = detect_type(head)
            if detected not in ACCEPTED:
                raise _refusal(detected, head, declared_name)
            derivative = self._derive(original, detected)
            try:
                sha256, size = _hash_file(derivative.path)
                stored_path = self._place(derivative.path, sha256)
            finally:
                derivative.path.unlink(missing_ok=True)
        return StoredEvidence(
            sha256=sha256,
            size=size,
            media_type=derivative.media_type,
            original_sha256=original_sha256,
            original_size=original_size,
            original_type=detected,
            original_name=safe_name(declared_name, EXTENSIONS[derivative.media_type]),
            declared_type=(declared_type or None) and declared_type[:100],
            stored_path=stored_path,
            width=derivative.width,
            height=derivative.height,
            pages=derivative.pages,
            removed_metadata=derivative.removed,
        )

    def _too_large(self) -> EvidenceRejected:
        return EvidenceRejected(
            "too_large",
            _l(
                "The file is larger than %(limit)s. Send a smaller photo (a screenshot works) "
                "or a PDF of fewer pages.",
                limit=_limit_text(self.max_bytes),
            ),
        )

    @contextlib.contextmanager
    def _spooled(self, stream: ReadableStream) -> Iterator[tuple[Path, str, int]]:
        """Copy the upload to a private temporary file, hashing it, never past the size limit."""
        fd, name = tempfile.mkstemp(dir=self._tmp, prefix="upload-")  # mode 0600
        path = Path(name)
        try:
            digest = hashlib.sha256()
            total = 0
            with os.fdopen(fd, "wb") as out:
                while True:
                    # One byte past the limit is enough to know the file is too large.
                    chunk = stream.read(min(CHUNK_SIZE, self.max_bytes + 1 - total))
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > self.max_bytes:
                        raise self._too_large()
                    digest.update(chunk)
                    out.write(chunk)
            yield path, digest.hexdigest(), total
        finally:
            path.unlink(missing_ok=True)

    def _derive(self, original: Path, detected: str) -> _Derivative:
        fd, name = tempfile.mkstemp(dir=self._tmp, prefix="derived-")
        os.close(fd)
        target = Path(name)
        try:
            pil_format, stored_type = ACCEPTED[detected]
            if pil_format is None:
                pages, removed = _clean_pdf(original, target)
                return _Derivative(target, stored_type, None, None, pages, removed)
            width, height, removed = _clean_image(original, pil_format, stored_type, target)
            return _Derivative(target, stored_type, width, height, None, removed)
        except BaseException:
            target.unlink(missing_ok=True)
            raise

    def _place(self, source: Path, sha256: str) -> str:
        """Move ``source`` to its content address (atomically); an identical stored file is kept."""
        relative = f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"
        final = self.root / relative
        final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if final.exists() and _hash_file(final)[0] == sha256:
            return relative
        source.chmod(0o400)
        # A rename within one file system: a reader sees the whole file or none, never half of it.
        os.replace(source, final)
        return relative


def detect_type(head: bytes) -> str:
    """The MIME type the first bytes of a file show, or ``""`` when nothing known matches."""
    # Every HEIF brand phones write (heic, heix, mif1, …): filetype knows only some of them.
    heif = pillow_heif.get_file_mimetype(head) if head[4:8] == b"ftyp" else ""
    if heif in ("image/heic", "image/heif"):
        return HEIC
    kind = filetype.guess(head)
    return str(kind.mime) if kind is not None else ""


def _looks_like_text(head: bytes) -> bool:
    """Scripts, web pages and SVG are text; only the refusal's wording depends on this."""
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        return exc.start >= len(head) - 3
    return True


def _refusal(detected: str, head: bytes, declared_name: str | None) -> EvidenceRejected:
    name = declared_name or ""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if detected in EXECUTABLES:
        code = "executable"
    elif detected and filetype.is_archive(head):
        code = "archive"
    elif not detected and _looks_like_text(head):
        code = "text"
    else:
        code = "not_accepted"
    disguised = suffix in ACCEPTED_SUFFIXES
    return EvidenceRejected(
        code, JoinedMessage(_refusal_sentences(code, suffix, disguised)), disguised=disguised
    )


def _refusal_sentences(code: str, suffix: str, disguised: bool) -> list[LazyString]:
    """The sentences of a refusal, lazily: they are read in the language of whoever shows them."""
    what = {
        "executable": _l("This file is a program. Programs are never accepted."),
        "archive": _l("This file is an archive (zip, rar, 7z and the like). Send each file on its own."),
        "text": _l("This file is text (a script, a web page or an SVG drawing), not a photo or a PDF."),
        "not_accepted": _l("This kind of file is not accepted."),
    }[code]
    sentences = [what, _l("Send photos (JPEG, PNG, HEIC, WebP) or PDF documents.")]
    if disguised:
        sentences.insert(0, _l("Its name ends in .%(suffix)s, but its content is not one.", suffix=suffix))
    return sentences


class JoinedMessage:
    """Several lazy sentences shown as one message, translated when it is shown."""

    def __init__(self, parts: list[LazyString]) -> None:
        self.parts = parts

    def __str__(self) -> str:
        return " ".join(str(p) for p in self.parts)


def _unreadable() -> EvidenceRejected:
    return EvidenceRejected(
        "unreadable",
        _l("The file looks like a photo or PDF but cannot be opened: it may be damaged. Send it again."),
    )


def _too_many_pixels() -> EvidenceRejected:
    return EvidenceRejected(
        "too_many_pixels", _l("The image is too large (more than 50 megapixels). Send a smaller copy.")
    )


def _clean_image(
    original: Path, pil_format: str, stored_type: str, target: Path
) -> tuple[int, int, tuple[str, ...]]:
    """Decode the image fully and write it again, upright, without its metadata."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns below twice its own limit; our own limit is lower still.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(original) as im:
                if im.format != pil_format:
                    raise _unreadable()
                if im.width * im.height > MAX_PIXELS:
                    raise _too_many_pixels()
                im.load()
                removed = _image_metadata(im)
                icc = im.info.get("icc_profile")
                upright = ImageOps.exif_transpose(im)
    except EvidenceRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels() from None
    except (OSError, SyntaxError, ValueError, EOFError):  # Pillow's ways of saying "not a whole image"
        raise _unreadable() from None
    # Only the pixels (and the colour profile, which says how to show them) go on.
    upright.info = {}
    params: dict[str, Any] = {"icc_profile": icc} if icc else {}
    if stored_type == JPEG:
        rgb = _flatten(upright)
        rgb.save(target, "JPEG", quality=JPEG_QUALITY, **params)
    else:
        if upright.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
            upright = upright.convert("RGBA")
        upright.save(target, "PNG", **params)
    return upright.width, upright.height, removed


def _flatten(im: Image.Image) -> Image.Image:
    """``im`` in a mode JPEG can hold; transparency becomes white (a sticker, not evidence)."""
    if im.mode in ("RGB", "L", "CMYK"):
        return im
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", im.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return im.convert("RGB")


def _image_metadata(im: Image.Image) -> tuple[str, ...]:
    found: list[str] = []
    exif = im.getexif()
    if exif.get_ifd(0x8825):  # the GPS IFD
        found.append("gps")
    if exif or im.info.get("exif"):
        found.append("exif")
    if im.info.get("xmp") or im.info.get("XML:com.adobe.xmp"):
        found.append("xmp")
    if im.info.get("comment"):
        found.append("comment")
    if getattr(im, "text", None):  # PNG tEXt/iTXt/zTXt chunks
        found.append("text")
    return tuple(found)


_KEPT_ACTIONS = {"/URI", "/GoTo"}


def _as_dict(obj: Any) -> DictionaryObject:
    """``obj`` (a reference or a direct object) as a dictionary, or an empty one."""
    resolved = obj.get_object() if obj is not None else None
    return resolved if isinstance(resolved, DictionaryObject) else DictionaryObject()


def _clean_pdf(original: Path, target: Path) -> tuple[int, tuple[str, ...]]:
    """Rebuild the PDF from its pages alone: no metadata, scripts, automatic actions or attachments.

    Only pages are copied, so the catalog's document metadata, XMP, open action, document scripts,
    forms' scripts and attached files stay behind. On each page, automatic actions go, and an
    annotation keeps only a link (to a web address or within the document); filled-in form fields
    keep their appearance, so what was written still shows.
    """
    try:
        reader = PdfReader(original, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise EvidenceRejected(
                "pdf_encrypted",
                _l("The PDF is protected by a password. Save it without a password and send it again."),
            )
        removed: list[str] = []
        catalog = _as_dict(reader.trailer["/Root"])
        names = _as_dict(catalog.get("/Names"))
        if reader.metadata:
            removed.append("pdf_info")
        if "/Metadata" in catalog:
            removed.append("xmp")
        if "/EmbeddedFiles" in names:
            removed.append("pdf_attachments")
        if any(key in catalog for key in ("/OpenAction", "/AA", "/AcroForm")) or "/JavaScript" in names:
            removed.append("pdf_actions")
        writer = PdfWriter()
        for page in reader.pages:
            writer.add_page(page)
        for page in writer.pages:
            removed.extend(_clean_page(page))
        writer.metadata = None
        pages = len(writer.pages)
        if pages == 0:
            raise _unreadable()
        with target.open("wb") as out:
            writer.write(out)
    except EvidenceRejected:
        raise
    except Exception:  # a damaged or hostile PDF breaks the parser in many ways; each means "unreadable"
        raise _unreadable() from None
    return pages, tuple(dict.fromkeys(removed))


def _clean_page(page: DictionaryObject) -> list[str]:
    removed: list[str] = []
    if "/Metadata" in page:
        del page[NameObject("/Metadata")]
        removed.append("xmp")
    if "/AA" in page:
        del page[NameObject("/AA")]
        removed.append("pdf_actions")
    annots = page.get("/Annots")
    if annots is None:
        return removed
    kept = ArrayObject()
    for ref in annots.get_object():
        annot = _as_dict(ref)
        if annot.get("/Subtype") == "/FileAttachment":
            removed.append("pdf_attachments")
            continue
        if "/AA" in annot:
            del annot[NameObject("/AA")]
            removed.append("pdf_actions")
        if "/A" in annot and _as_dict(annot["/A"]).get("/S") not in _KEPT_ACTIONS:
            del annot[NameObject("/A")]
            removed.append("pdf_actions")
        kept.append(ref)
    page[NameObject("/Annots")] = kept
    return removed


_UNSAFE_IN_NAMES = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


def safe_name(name: str | None, extension: str, *, max_length: int = 80) -> str:
    """A file name fit to show and to put in a zip: no folders, no control or direction-changing
    characters, Korean and Khmer kept, the extension of what was stored (``passport.HEIC`` →
    ``passport.jpg``)."""
    base = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    # Categories C*: control, format (right-to-left overrides that make "gpj.exe" read as ".jpg"), …
    base = "".join(ch for ch in base if not unicodedata.category(ch).startswith("C"))
    stem = base.rsplit(".", 1)[0] if "." in base.strip(".") else base
    stem = _UNSAFE_IN_NAMES.sub("_", stem).strip(" ._")[:max_length].strip(" ._")
    return f"{stem or 'file'}.{extension}"


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
