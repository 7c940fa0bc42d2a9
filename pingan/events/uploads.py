"""Checking an uploaded attachment by its content (not its name) and stripping image metadata.

Allowed: JPEG, PNG and WebP images (opened with Pillow and re-encoded, which drops EXIF — GPS
position, camera, time — and other metadata; the orientation is applied to the pixels first) and PDF
files (``%PDF-`` magic). The size limit is ``PINGAN_UPLOAD_MAX_BYTES`` (default 10 MB).
"""

from __future__ import annotations

import io
from pathlib import PurePath

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from PIL import Image, ImageOps, UnidentifiedImageError

from pingan.core.errors import DomainError, ValidationFailed

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
IMAGE_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
PDF = ("application/pdf", "pdf")


class FileTooLarge(DomainError):
    status = 413


def max_bytes() -> int:
    return int(getattr(settings, "PINGAN_UPLOAD_MAX_BYTES", DEFAULT_MAX_BYTES))


def _safe_stem(name: str) -> str:
    stem = PurePath(name or "file").stem.strip()[:80]
    return "".join(ch for ch in stem if ch.isalnum() or ch in "-_ .") or "file"


def clean_upload(upload: UploadedFile) -> SimpleUploadedFile:
    """The upload, checked and cleaned; ``DomainError`` (413 / 422) when refused."""
    limit = max_bytes()
    if upload.size is not None and upload.size > limit:
        raise FileTooLarge("file_too_large", f"the file is larger than {limit} bytes", max_bytes=limit)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge("file_too_large", f"the file is larger than {limit} bytes", max_bytes=limit)
    if not data:
        raise ValidationFailed("empty_file", "the file is empty")
    stem = _safe_stem(upload.name or "")
    if data.startswith(b"%PDF-"):
        content_type, ext = PDF
        return SimpleUploadedFile(f"{stem}.{ext}", data, content_type=content_type)
    cleaned, content_type, ext = _clean_image(data)
    return SimpleUploadedFile(f"{stem}.{ext}", cleaned, content_type=content_type)


def _clean_image(data: bytes) -> tuple[bytes, str, str]:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format or ""
            probe.verify()
        if fmt not in IMAGE_FORMATS:
            raise ValidationFailed("unsupported_file_type", "only JPEG, PNG, WebP images and PDF files are accepted",
                                   detected=fmt.lower())
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            pixels = ImageOps.exif_transpose(img)  # keep the picture upright once the EXIF is gone
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValidationFailed("unsupported_file_type", "only JPEG, PNG, WebP images and PDF files are accepted") from exc
    content_type, ext = IMAGE_FORMATS[fmt]
    out = io.BytesIO()
    # Pillow writes metadata only when save() is given it: with the info dropped too, nothing but the
    # pixels is written (no EXIF, XMP, comments, text chunks).
    clean = pixels.copy()
    clean.info = {}
    if fmt == "JPEG":
        if clean.mode not in ("RGB", "L", "CMYK"):
            clean = clean.convert("RGB")
        clean.save(out, format="JPEG", quality=90, optimize=True)
    elif fmt == "PNG":
        clean.save(out, format="PNG", optimize=True)
    else:
        clean.save(out, format="WEBP", quality=90)
    return out.getvalue(), content_type, ext
