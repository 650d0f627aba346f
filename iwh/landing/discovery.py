"""Which deliveries are in the landing zone: files → (source, cohort year), with their SHA-256."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from iwh.landing.contract import NON_DELIVERY_FILES, SOURCES, Source

_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class LandingFile:
    source: str
    cohort_year: int | None  # None for reference files
    path: Path
    relative_path: str  # POSIX path relative to the landing dir; stored as _source_file
    sha256: str  # "" for a refused file, which is never read
    size: int
    refused: str | None = None  # why the file is not read (a link); loading it is a file-level problem


@dataclass(frozen=True)
class LandingInventory:
    landing_dir: Path
    files: tuple[LandingFile, ...]
    unknown_files: tuple[str, ...]  # present but not in the contract: reported, never fatal

    def partitions(self) -> list[tuple[str, int]]:
        return sorted({(f.source, f.cohort_year) for f in self.files if f.cohort_year is not None})

    def cohort_years(self) -> list[int]:
        return sorted({year for _, year in self.partitions()})

    def partition_files(self, source: str, cohort_year: int) -> tuple[LandingFile, ...]:
        """Usually one file; two (a .csv and an .xlsx for the same year) is an ambiguous delivery."""
        return tuple(f for f in self.files if f.source == source and f.cohort_year == cohort_year)

    def reference_sources(self) -> list[str]:
        return sorted({f.source for f in self.files if f.cohort_year is None})

    def reference_files(self, source: str) -> tuple[LandingFile, ...]:
        return tuple(f for f in self.files if f.source == source and f.cohort_year is None)


class _HashCache:
    """SHA-256 per (path, size, mtime): a sensor tick re-hashes only files that changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hashes: dict[tuple[str, int, int], str] = {}

    def sha256(self, path: Path) -> tuple[str, int]:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            cached = self._hashes.get(key)
        if cached is None:
            cached = file_sha256(path)
            with self._lock:
                self._hashes = {k: v for k, v in self._hashes.items() if k[0] != key[0]}
                self._hashes[key] = cached
        return cached, stat.st_size


_hash_cache = _HashCache()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _match(relative: Path) -> tuple[Source, int | None] | None:
    if len(relative.parts) != 2:
        return None
    directory, name = relative.parts
    for candidate in SOURCES.values():
        if candidate.directory != directory:
            continue
        match = candidate.file_pattern.fullmatch(name)
        if match:
            year = int(match.group("year")) if candidate.partitioned else None
            return candidate, year
    return None


def _refusal(landing_dir: Path, path: Path) -> str | None:
    """Links are refused: through one, a landing zone would make ingestion read any file the
    process can read, and the file a data owner delivered is no longer the file that is loaded."""
    if path.is_symlink():
        return "filen er en symbolsk lenke, og lenker leses ikke: legg selve filen i mottakskatalogen"
    if not path.resolve().is_relative_to(landing_dir):
        return (
            "filen ligger utenfor mottakskatalogen (katalogen den står i er en lenke), og leses ikke: "
            "legg selve filen i mottakskatalogen"
        )
    return None


def _landing_file(landing_dir: Path, path: Path, source: Source, year: int | None) -> LandingFile:
    relative_path = path.relative_to(landing_dir).as_posix()
    refused = _refusal(landing_dir, path)
    if refused is not None:
        return LandingFile(source.name, year, path, relative_path, sha256="", size=0, refused=refused)
    sha, size = _hash_cache.sha256(path)
    return LandingFile(
        source=source.name,
        cohort_year=year,
        path=path,
        relative_path=relative_path,
        sha256=sha,
        size=size,
    )


def _is_candidate(path: Path) -> bool:
    # A link counts even when it is broken: it must be refused by name, not vanish.
    return path.is_symlink() or path.is_file()


def _candidate_files(landing_dir: Path) -> Iterable[Path]:
    paths = list(landing_dir.rglob("*"))
    # rglob does not enter a linked directory; a source directory that is a link is entered,
    # so that its files are refused by name instead of silently missing.
    paths += [child for path in paths if path.is_symlink() and path.is_dir() for child in path.iterdir()]
    for path in sorted(paths):
        relative = path.relative_to(landing_dir)
        # Hidden files (editor droppings, the synthetic marker) are never deliveries.
        if any(part.startswith(".") for part in relative.parts) or not _is_candidate(path):
            continue
        yield path


def discover(landing_dir: Path) -> LandingInventory:
    """Every delivery in the landing zone. Unknown files are listed, not fatal."""
    landing_dir = Path(landing_dir).resolve()
    files: list[LandingFile] = []
    unknown: list[str] = []
    if landing_dir.is_dir():
        for path in _candidate_files(landing_dir):
            relative = path.relative_to(landing_dir)
            matched = _match(relative)
            if matched is not None:
                files.append(_landing_file(landing_dir, path, *matched))
            elif relative.as_posix() not in NON_DELIVERY_FILES:
                unknown.append(relative.as_posix())
    return LandingInventory(landing_dir=landing_dir, files=tuple(files), unknown_files=tuple(unknown))


def source_files(landing_dir: Path, source: Source, cohort_year: int | None = None) -> tuple[LandingFile, ...]:
    """The files of one source (one cohort year of it), hashing only those."""
    landing_dir = Path(landing_dir).resolve()
    directory = landing_dir / source.directory
    if not directory.is_dir():
        return ()
    found = []
    for path in sorted(directory.iterdir()):
        if not _is_candidate(path):
            continue
        matched = _match(path.relative_to(landing_dir))
        if matched is not None and matched[0] is source and matched[1] == cohort_year:
            found.append(_landing_file(landing_dir, path, source, cohort_year))
    return tuple(found)
