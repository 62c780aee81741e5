"""Checks on an uploaded file before FFmpeg sees it: name, type, size and container signature."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from mtlaqa.errors import MtlaqaError
from mtlaqa.web.limits import too_large_message

# extension -> container family; the family decides which leading bytes are accepted
VIDEO_EXTS: dict[str, str] = {
    ".mp4": "iso",
    ".m4v": "iso",
    ".mov": "iso",
    ".3gp": "iso",
    ".avi": "avi",
    ".mkv": "ebml",
    ".webm": "ebml",
    ".mpg": "mpeg",
    ".mpeg": "mpeg",
    ".ts": "mpegts",
}
ISO_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"}


class UploadError(MtlaqaError):
    """An upload refused before decoding; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def video_suffix(filename: str) -> str:
    """The lower-case extension of an accepted video name, or UploadError 415."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in VIDEO_EXTS:
        accepted = " ".join(sorted(VIDEO_EXTS))
        raise UploadError(
            f"{filename or 'the upload'}: not a video file type (accepted: {accepted})", 415
        )
    return suffix


def looks_like(head: bytes, family: str) -> bool:
    """True when the first bytes match the container family (a cheap guard, FFmpeg decides)."""
    if family == "iso":
        return len(head) >= 8 and head[4:8] in ISO_BOXES
    if family == "avi":
        return head[:4] == b"RIFF" and head[8:12] == b"AVI "
    if family == "ebml":
        return head[:4] == b"\x1a\x45\xdf\xa3"
    if family == "mpeg":
        return head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")
    if family == "mpegts":
        return head[:1] == b"\x47"
    return False


def save_upload(src: BinaryIO, filename: str, dest_dir: Path, max_bytes: int) -> Path:
    """Copy an upload into `dest_dir` under a fixed name (never the client's), checking it.

    Raises UploadError: 415 for a wrong type or content, 400 for an empty file, 413 past max_bytes.
    """
    suffix = video_suffix(filename)
    dest = dest_dir / f"upload{suffix}"
    size = 0
    with dest.open("wb") as out:
        while chunk := src.read(1 << 20):
            size += len(chunk)
            if size > max_bytes:
                raise UploadError(too_large_message(max_bytes), 413)
            out.write(chunk)
    if size == 0:
        raise UploadError(f"{filename}: the file is empty", 400)
    with dest.open("rb") as f:
        head = f.read(16)
    if not looks_like(head, VIDEO_EXTS[suffix]):
        raise UploadError(f"{filename}: the content is not a {suffix[1:]} video", 415)
    return dest
