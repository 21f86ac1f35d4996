"""The published checkpoints that load by name: where each is published, its sha256 and
licence (the data is published.json beside this file), and where a fetched copy lives.

A model's files are fetched into `downloads/<name>/` in the cache directory under their
published file names (a TensorFlow.js graph finds its weights by the name it was published
with); its first file is the one loading converts.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

PUBLISHED = Path(__file__).resolve().parent / "published.json"
MIRROR_ENV = "MANYPOSE_MIRROR"


@dataclass(frozen=True)
class PublishedFile:
    url: str
    sha256: Optional[str] = None         # the full digest, where one is known
    sha256_prefix: Optional[str] = None  # its first digits, where only those are published
    size: Optional[int] = None

    @property
    def name(self) -> str:
        return urlsplit(self.url).path.rsplit("/", 1)[-1]

    def source_url(self) -> str:
        """The published address, or the same file name under $MANYPOSE_MIRROR."""
        mirror = os.environ.get(MIRROR_ENV)
        return f"{mirror.rstrip('/')}/{self.name}" if mirror else self.url

    @property
    def checkable(self) -> bool:
        return bool(self.sha256 or self.sha256_prefix)


@dataclass(frozen=True)
class PublishedModel:
    name: str
    about: str
    licence: str
    files: tuple[PublishedFile, ...]
    checksum_source: str

    def folder(self, cache: Path) -> Path:
        return cache / "downloads" / self.name

    def main_file(self, cache: Path) -> Path:
        return self.folder(cache) / self.files[0].name

    def fetched(self, cache: Path) -> bool:
        return all((self.folder(cache) / file.name).is_file() for file in self.files)


@lru_cache(maxsize=1)
def published_models() -> dict[str, PublishedModel]:
    data = json.loads(PUBLISHED.read_text())
    return {entry["name"]: PublishedModel(entry["name"], entry["about"], entry["licence"],
                                          tuple(PublishedFile(**file) for file in entry["files"]),
                                          entry["checksum_source"])
            for entry in data["models"]}
