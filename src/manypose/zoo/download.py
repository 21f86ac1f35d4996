"""Fetching a published file: into a partial file beside its place, resumed where an earlier
try stopped, its sha256 checked, then renamed into place. A file whose digest does not match is
removed and refused. With MANYPOSE_OFFLINE=1 nothing touches the network."""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from http.client import HTTPException
from pathlib import Path

from tqdm import tqdm

from ..atomic_files import publish

OFFLINE_ENV = "MANYPOSE_OFFLINE"
PARTIAL_SUFFIX = ".part"
CHUNK = 1 << 20
TIMEOUT_S = 30


class DownloadError(OSError):
    """The network or the server failed; a partial file is kept to resume from."""


class ChecksumMismatch(ValueError):
    """The file fetched is not the one published."""


def offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def fetch_file(url: str, destination: Path, sha256: str | None = None, sha256_prefix: str | None = None,
               progress: bool = True) -> Path:
    """`destination`, fetched from `url` unless it is there; resumes a partial file left by an
    earlier try; the digest (or its published prefix) must match."""
    if offline():
        raise DownloadError(f"{OFFLINE_ENV} is set: not fetching {url}; put {destination.name} into "
                            f"{destination.parent} yourself")
    partial = destination.with_name(destination.name + PARTIAL_SUFFIX)
    _download(url, partial, progress)
    check_digest(partial, sha256, sha256_prefix, url)
    publish(partial, destination)
    return destination


def check_digest(path: Path, sha256: str | None, sha256_prefix: str | None, source: str) -> None:
    """Refuse, and remove, a file whose sha256 is not the published one."""
    digest = unpublished_digest(path, sha256, sha256_prefix)
    if digest is None:
        return
    path.unlink(missing_ok=True)
    raise ChecksumMismatch(f"{source}: sha256 {digest} is not the published {(sha256 or sha256_prefix).lower()}; "
                           "the file was removed")


def unpublished_digest(path: Path, sha256: str | None, sha256_prefix: str | None) -> str | None:
    """The file's sha256 where it is not the published one (nor starts with its published
    prefix); None where it is, or where nothing is published to check against."""
    digest = file_sha256(path)
    expected = (sha256 or sha256_prefix or "").lower()
    if not expected or digest.startswith(expected) and (sha256 is None or digest == expected):
        return None
    return digest


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(url: str, partial: Path, progress: bool) -> None:
    """Into `partial`, after the bytes it holds already where the server can send the rest."""
    start = partial.stat().st_size if partial.exists() else 0
    headers = {"Range": f"bytes={start}-"} if start else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S) as response:
            resumed = start > 0 and response.status == 206
            total = _total_size(response, start if resumed else 0)
            _write_body(response, partial, resumed, total, progress, url)
    except urllib.error.HTTPError as error:
        if error.code == 416 and start:  # nothing after what we hold: the partial file is whole
            return
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, HTTPException, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        kept = f"; the {partial.stat().st_size} bytes that arrived are kept, run again to resume" \
            if partial.is_file() and partial.stat().st_size else ""
        raise DownloadError(f"{url}: {reason or type(error).__name__}{kept}") from None


def _total_size(response, already: int) -> int | None:
    length = response.headers.get("Content-Length")
    return already + int(length) if length and length.isdigit() else None


def _write_body(response, partial: Path, resumed: bool, total: int | None, progress: bool, url: str) -> None:
    partial.parent.mkdir(parents=True, exist_ok=True)
    with open(partial, "ab" if resumed else "wb") as file, \
            tqdm(total=total, initial=file.tell(), unit="B", unit_scale=True, desc=partial.name[:-len(PARTIAL_SUFFIX)],
                 disable=not progress) as bar:
        for block in iter(lambda: response.read(CHUNK), b""):
            file.write(block)
            bar.update(len(block))
        received = file.tell()
    if total is not None and received < total:
        raise DownloadError(f"{url}: the connection ended after {received} of {total} bytes; "
                            "they are kept, run again to resume")
