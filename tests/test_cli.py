"""The `iwh` command line: argument parsing and the errors a user sees."""

from __future__ import annotations

import argparse

import pytest

from orchestration.cli import main, parse_years


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
