"""Publishing the analysts' snapshot: atomic, keeps the previous one, never half-written."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from iwh.publication import PublicationError, publish, remove_stale_incoming
from iwh.settings import Settings
from iwh.warehouse import connect


def _settings(tmp_path: Path) -> Settings:
    return Settings(landing_dir=tmp_path / "landing", home=tmp_path / "home", pseudonym_key=None)


def _write_version(settings: Settings, version: int) -> None:
    con = connect(settings)
    try:
        for schema in ("raw", "marts", "quality"):
            con.execute(f"create schema if not exists {schema}")
        con.execute("create or replace table marts.version as select ? as v", [version])
    finally:
        con.close()


def _published_version(path: Path) -> int:
    """Read in a fresh process, as an analyst would: DuckDB caches open databases per process."""
    code = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
        "print(con.execute('select v from marts.version').fetchone()[0])"
    )
    return int(
        subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True).stdout
    )


def test_publish_replaces_the_snapshot_and_keeps_the_previous(tmp_path):
    settings = _settings(tmp_path)
    _write_version(settings, 1)
    first = publish(settings)
    assert first.previous_path is None
    _write_version(settings, 2)
    second = publish(settings)
    assert _published_version(settings.published_path) == 2
    assert _published_version(second.previous_path) == 1
    assert sorted(p.name for p in settings.published_dir.iterdir()) == [
        "warehouse.duckdb",
        "warehouse.previous.duckdb",
    ]


def test_published_files_are_not_world_readable(tmp_path):
    settings = _settings(tmp_path)
    _write_version(settings, 1)
    publish(settings)
    mode = stat.S_IMODE(os.stat(settings.published_path).st_mode)
    assert mode & stat.S_IRWXO == 0
    assert mode & stat.S_IWGRP == 0


def test_an_open_reader_keeps_its_snapshot_and_a_new_reader_sees_the_new_one(tmp_path):
    settings = _settings(tmp_path)
    _write_version(settings, 1)
    publish(settings)
    reader = duckdb.connect(str(settings.published_path), read_only=True)
    try:
        _write_version(settings, 2)
        publish(settings)
        assert reader.execute("select v from marts.version").fetchone()[0] == 1
        assert _published_version(settings.published_path) == 2
    finally:
        reader.close()


def test_an_incomplete_warehouse_is_not_published(tmp_path):
    settings = _settings(tmp_path)
    _write_version(settings, 1)
    publish(settings)
    con = connect(settings)
    con.execute("drop schema quality cascade")
    con.close()
    with pytest.raises(PublicationError, match="lacks schema"):
        publish(settings)
    assert _published_version(settings.published_path) == 1
    assert remove_stale_incoming(settings) == []


def test_a_full_disk_ends_with_a_clear_message_and_the_snapshot_intact(tmp_path, monkeypatch):
    import errno
    import shutil

    settings = _settings(tmp_path)
    _write_version(settings, 1)
    publish(settings)
    _write_version(settings, 2)

    def copy_until_the_disk_is_full(source, target):
        Path(target).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(shutil, "copyfile", copy_until_the_disk_is_full)
    with pytest.raises(PublicationError) as raised:
        publish(settings)
    assert str(raised.value) == (
        f"could not publish to {settings.published_dir}: the disk is full. "
        f"The published snapshot {settings.published_path} is unchanged."
    )
    assert _published_version(settings.published_path) == 1
    assert not list(settings.published_dir.glob(".incoming-*"))
