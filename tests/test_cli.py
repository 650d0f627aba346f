"""The `iwh` command line: argument parsing and the errors a user sees."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest
from r_available import r_has

from iwh.publication import publish
from iwh.settings import Settings
from iwh.warehouse import connect
from orchestration.cli import main, parse_years, where_lines


def test_parse_years_accepts_ranges_and_lists():
    assert parse_years("2017-2020") == [2017, 2018, 2019, 2020]
    assert parse_years("2019,2017, 2019") == [2017, 2019]
    assert parse_years("2018-2019,2021") == [2018, 2019, 2021]


def test_parse_years_rejects_an_empty_range():
    with pytest.raises(argparse.ArgumentTypeError):
        parse_years("2020-2017")


def test_run_without_landing_directory_exits_2_with_a_clear_message(tmp_path, monkeypatch, capsys):
    missing = tmp_path / "no-such-landing"
    monkeypatch.setenv("IWH_LANDING_DIR", str(missing))
    monkeypatch.setenv("IWH_HOME", str(tmp_path / "home"))
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert f"the landing directory {missing} does not exist" in err
    assert "Traceback" not in err


def test_run_on_real_deliveries_without_a_key_is_refused(tmp_path, monkeypatch, capsys):
    landing = tmp_path / "landing"
    (landing / "nir").mkdir(parents=True)
    monkeypatch.setenv("IWH_LANDING_DIR", str(landing))
    monkeypatch.setenv("IWH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("IWH_PSEUDONYM_KEY", raising=False)
    assert main(["run"]) == 2
    assert "IWH_PSEUDONYM_KEY is not set" in capsys.readouterr().err


def test_where_before_any_run_says_nothing_is_published(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IWH_HOME", str(tmp_path / "home"))
    assert main(["where"]) == 1
    assert "nothing published yet" in capsys.readouterr().err


def test_an_unknown_outcome_variant_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IWH_OUTCOME_VARIANT", "table9")
    monkeypatch.setenv("IWH_HOME", str(tmp_path / "home"))
    assert main(["where"]) == 2
    assert "IWH_OUTCOME_VARIANT='table9' is not a coding of the outcome" in capsys.readouterr().err


def test_an_unknown_js_scope_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IWH_JS_SCOPE", "ordning_b")
    monkeypatch.setenv("IWH_HOME", str(tmp_path / "home"))
    assert main(["where"]) == 2
    assert "IWH_JS_SCOPE='ordning_b' is not a scope of Jobbsjansen schemes" in capsys.readouterr().err


def _access_line(lines: list[str], label: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in lines if line.strip().startswith(f"{label}:"))


def _published(tmp_path) -> Settings:
    """A published snapshot with one known cell, made as `iwh run` makes it (working file, then copy)."""
    settings = Settings(landing_dir=tmp_path / "landing", home=tmp_path / "home dir", pseudonym_key=None)
    con = connect(settings)
    for schema in ("raw", "marts", "quality"):
        con.execute(f"create schema {schema}")
    con.execute("create table marts.exclusions as select 'modelled' as step, 42 as n_rows")
    con.close()
    publish(settings)
    return settings


def test_the_access_lines_iwh_where_prints_open_the_published_snapshot(tmp_path):
    lines = where_lines(_published(tmp_path))

    shell = subprocess.run(
        _access_line(lines, "DuckDB CLI"),
        shell=True,
        input="select n_rows from marts.exclusions;",
        capture_output=True,
        text=True,
        check=True,
    )
    assert "42" in shell.stdout
    python = _access_line(lines, "Python") + "; print(con.execute('select n_rows from marts.exclusions').fetchall())"
    assert (
        subprocess.run([sys.executable, "-c", python], capture_output=True, text=True, check=True).stdout == "[(42,)]\n"
    )


@pytest.mark.skipif(not r_has("DBI", "duckdb"), reason="needs R with the DBI and duckdb packages")
def test_the_r_access_line_opens_the_published_snapshot(tmp_path):
    r = (
        _access_line(where_lines(_published(tmp_path)), "R")
        + '; cat(DBI::dbGetQuery(con, "select n_rows from marts.exclusions")$n_rows)'
    )
    assert subprocess.run(["Rscript", "-e", r], capture_output=True, text=True, check=True).stdout == "42"
