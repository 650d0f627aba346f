"""Publishing the analysts' read-only snapshot by atomic replacement.

The pipeline writes only its working database. On success the working database is
checkpointed and copied to a temporary file beside the snapshot, verified, and renamed
over the snapshot. A reader holding the old snapshot open keeps its (unlinked) file;
the next connection sees the new one. A crash at any point leaves either the old or the
new snapshot in place, never a half-written one.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from iwh.settings import Settings
from iwh.warehouse import FILE_MODE, connect, ensure_private_dir

REQUIRED_SCHEMAS = ("raw", "marts", "quality")


class PublicationError(RuntimeError):
    pass


@dataclass(frozen=True)
class PublishedSnapshot:
    path: Path
    previous_path: Path | None
    size_bytes: int


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _verify(path: Path) -> None:
    con = duckdb.connect(str(path), read_only=True)
    try:
        schemas = {row[0] for row in con.execute("select schema_name from information_schema.schemata").fetchall()}
    finally:
        con.close()
    missing = [s for s in REQUIRED_SCHEMAS if s not in schemas]
    if missing:
        raise PublicationError(f"refusing to publish: the working warehouse lacks schema(s) {', '.join(missing)}")


def publish(settings: Settings) -> PublishedSnapshot:
    """Replace the published snapshot with a copy of the working warehouse.

    The caller must hold the writer lock and have closed its own connections.
    """
    con = connect(settings)
    try:
        con.execute("checkpoint")
    finally:
        con.close()

    try:
        return _swap_in_copy(settings)
    except OSError as error:
        reason = {
            errno.ENOSPC: "the disk is full",
            errno.EDQUOT: "the disk quota is exceeded",
            errno.EACCES: "permission denied",
            errno.EPERM: "permission denied",
            errno.EROFS: "the file system is read-only",
        }.get(error.errno, error.strerror or str(error))
        raise PublicationError(
            f"could not publish to {settings.published_dir}: {reason}. "
            f"The published snapshot {settings.published_path} is unchanged."
        ) from error


def _swap_in_copy(settings: Settings) -> PublishedSnapshot:
    published_dir = ensure_private_dir(settings.published_dir)
    tmp_path = published_dir / f".incoming-{uuid.uuid4().hex}.duckdb"
    try:
        shutil.copyfile(settings.warehouse_path, tmp_path)
        os.chmod(tmp_path, FILE_MODE)
        _fsync_path(tmp_path)
        _verify(tmp_path)

        previous = None
        if settings.published_path.exists():
            # A hard link keeps the outgoing snapshot as `previous` without a second copy and
            # without a moment where the published path is missing.
            link_tmp = published_dir / f".previous-{uuid.uuid4().hex}.duckdb"
            os.link(settings.published_path, link_tmp)
            os.replace(link_tmp, settings.previous_published_path)
            previous = settings.previous_published_path
        os.replace(tmp_path, settings.published_path)
        _fsync_path(published_dir)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return PublishedSnapshot(
        path=settings.published_path,
        previous_path=previous,
        size_bytes=settings.published_path.stat().st_size,
    )


def remove_stale_incoming(settings: Settings) -> list[Path]:
    """Temporary files left by a publication that was killed midway; safe to delete under the writer lock."""
    if not settings.published_dir.exists():
        return []
    stale = sorted(settings.published_dir.glob(".incoming-*.duckdb")) + sorted(
        settings.published_dir.glob(".previous-*.duckdb")
    )
    for path in stale:
        path.unlink()
    return stale
