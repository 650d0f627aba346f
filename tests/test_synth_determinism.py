"""Same seed → byte-identical files; another seed → other persons; the key in use; the guard on the output directory."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
from test_synth_calibration import read_delimited

from iwh.pseudonym import person_key
from iwh.settings import DEMO_PSEUDONYM_KEY, SYNTHETIC_MARKER
from iwh_synth import SampleError, generate

SCALE = 0.1


def digests(root) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def seed_5(tmp_path_factory):
    out = tmp_path_factory.mktemp("seed5") / "landing"
    generate(out, scale=SCALE, seed=5)
    return out


def test_the_same_seed_writes_byte_identical_files(seed_5, tmp_path):
    again = tmp_path / "again"
    generate(again, scale=SCALE, seed=5)
    first, second = digests(seed_5), digests(again)
    assert first.keys() == second.keys() and len(first) == 35
    assert first == second


def test_another_seed_draws_other_persons(seed_5, tmp_path):
    other = tmp_path / "other"
    generate(other, scale=SCALE, seed=6)
    persons_5 = set(pd.read_parquet(seed_5 / "truth_persons.parquet")["person_key"])
    persons_6 = set(pd.read_parquet(other / "truth_persons.parquet")["person_key"])
    assert len(persons_5 & persons_6) < 0.01 * len(persons_5)
    # The country does not change with the seed: municipalities and their context stay put.
    assert (seed_5 / "ssb" / "09817.csv").read_bytes() == (other / "ssb" / "09817.csv").read_bytes()


def test_person_keys_use_the_demo_key_by_default(seed_5):
    truth = pd.read_parquet(seed_5 / "truth_persons.parquet")
    deltakere = read_delimited(seed_5 / "nir" / "nir_deltakere_2018.csv")
    expected = {person_key(fnr, DEMO_PSEUDONYM_KEY) for fnr in deltakere["Fodselsnummer"]}
    assert set(truth.loc[(truth["programme"] == "intro") & (truth["cohort_year"] == 2018), "person_key"]) == expected
    assert truth["person_key"].str.fullmatch(r"[0-9a-f]{32}").all()
    marker = (seed_5 / SYNTHETIC_MARKER).read_text(encoding="utf-8")
    assert "demo key" in marker and "seed=5" in marker
    assert json.loads((seed_5 / "truth.json").read_text(encoding="utf-8"))["pseudonym_key"] == "demo key"


def test_a_given_key_is_used_and_never_written_down(tmp_path):
    secret = "a-key-for-this-test-only"
    out = tmp_path / "keyed"
    generate(out, years=[2020], scale=0.05, seed=3, pseudonym_key=secret)
    truth = pd.read_parquet(out / "truth_persons.parquet")
    deltakere = read_delimited(out / "nir" / "nir_deltakere_2020.csv")
    intro_keys = set(truth.loc[truth["programme"] == "intro", "person_key"])
    assert intro_keys == {person_key(fnr, secret) for fnr in deltakere["Fodselsnummer"]}
    assert not intro_keys & {person_key(fnr, DEMO_PSEUDONYM_KEY) for fnr in deltakere["Fodselsnummer"]}
    for path in (out / SYNTHETIC_MARKER, out / "truth.json"):
        text = path.read_text(encoding="utf-8")
        assert secret not in text and "not recorded" in text


def test_refuses_a_non_empty_directory_without_the_marker(tmp_path):
    delivery = tmp_path / "real"
    (delivery / "nir").mkdir(parents=True)
    (delivery / "nir" / "nir_deltakere_2020.csv").write_text("Fodselsnummer;Kjonn\n", encoding="utf-8")
    with pytest.raises(SampleError, match=r"no \.iwh_synthetic_sample marker"):
        generate(delivery, years=[2020], scale=0.05)
    assert (delivery / "nir" / "nir_deltakere_2020.csv").read_text(encoding="utf-8") == "Fodselsnummer;Kjonn\n"
    assert not (delivery / "truth.json").exists()


def test_rewrites_an_earlier_sample_without_leaving_stale_files(tmp_path):
    out = tmp_path / "landing"
    generate(out, years=[2017, 2018], scale=0.05, seed=1)
    generate(out, years=[2020], scale=0.05, seed=1)
    delivered = {str(path.relative_to(out)) for path in out.rglob("*.csv")} | {
        str(p.relative_to(out)) for p in out.rglob("*.xlsx")
    }
    assert not any("2017" in name or "2018" in name for name in delivered)
    assert set(pd.read_parquet(out / "truth_persons.parquet")["cohort_year"]) == {2020}


def test_rejects_years_outside_the_period_and_unknown_models(tmp_path):
    with pytest.raises(SampleError, match="2017-2020"):
        generate(tmp_path / "years", years=[2016, 2017])
    with pytest.raises(SampleError, match="unknown truth model 'm4'"):
        generate(tmp_path / "model", truth="m4")
    assert not (tmp_path / "years").exists() and not (tmp_path / "model").exists()
