"""Every file of a synthetic landing zone, read back and checked against landing-zone.md.

Layout, encodings and byte order marks, header columns, code lists, identifier control
digits, date and decimal formats per year, municipality codes against the KLASS file, the
statbank export format, and the determinism of the .xlsx container.
"""

from __future__ import annotations

import re
import zipfile

import numpy as np
import pandas as pd
import pytest
from test_synth_calibration import date, read_delimited, read_jobbsjansen

from iwh.settings import SYNTHETIC_MARKER
from iwh_synth.identifiers import duf_is_valid, fnr_is_valid

YEARS = [2017, 2018, 2019, 2020]
STATBANK_TABLES = ("11342", "06445", "11715", "09588", "09817", "07984", "10540")
JS_BASE = ["fnr", "duf", "v1_1", "v1_2", "v1_3", "v1_4", "v1_5", "v1_7", "v1_8", "v2_1", "v2_2", "v2_3", "v2_5", "v2_9"]
JS_EXIT = ["v4_1", "v4_3", "v5_1", "v5_2", "v5_3", "v5_4_1", "v5_4_2", "v5_4_3", "v5_4_4"]
JS_MEASURES = [
    "v3_1_1",
    "v3_1_2",
    "v3_1_3",
    "v3_1_4",
    "v3_1_5",
    "v3_1_6",
    "v3_1_7",
    "v3_1_10",
    "v3_1_11",
    "v3_2_1",
    "v3_2_2",
    "v3_2_3",
    "v3_2_4",
    "v3_2_5",
    "v3_2_6",
    "v3_2_7",
    "v3_2_8",
    "v3_2_10",
    "v3_3_1",
    "v3_3_2",
    "v3_3_3",
    "v3_3_4",
    "v3_3_5",
    "v3_3_6",
    "v3_3_8",
    "v3_3_9",
    "v3_4_1",
    "v3_4_2",
    "v3_4_3",
    "v3_4_4",
    "v3_4_5",
    "v3_4_6",
    "v3_5_1",
    "v3_5_2",
    "v3_5_3",
    "v3_5_4",
    "v3_5_5",
    "v3_5_6",
    "v3_5_7",
    "v3_5_8",
    "v3_5_9",
]
JS_DIGITAL = ["v3_2_11", "v3_3_10"]
NIR_COLUMNS = {
    "Fodselsnummer",
    "Kjonn",
    "Fodselsaar",
    "StatsborgerskapForste",
    "DatoForForsteVedtakIntro",
    "GjennomforingsfristBeregnetFra",
    "AvsluttetDato",
    "Avsl_Kommunenummer",
    "Avsl_Kommunenavn",
    "Avslutningsaarsak",
    "SporForste",
    "SporSiste",
    "PROVE_NORSK_MUNTLIG_Resultat",
    "PROVE_NORSK_LYTT_Resultat",
    "PROVE_NORSK_LES_Resultat",
    "PROVE_NORSK_SKRIV_Resultat",
    "AntallTimerFravaerIntro",
    "AntallDagerFravaerIntro",
    "AntallTimerDeltattNorsk",
    "AntallTimerDeltattSamf",
    "AntallTimerDeltattNKNV",
}
END_REASONS = {
    "Arbeid",
    "Ordinær utdanning - videregående skole",
    "Ordinær utdanning - høyere utdanning",
    "Arbeidssøker på lønnstilskudd (NAV)",
    "Arbeidssøker på andre tiltak i regi av NAV",
    "Arbeidssøker på KVP (NAV)",
    "Arbeidssøker på tiltak i regi av andre enn NAV",
    "Adferd i/utenfor programmet",
    "Annet",
    "Helsemessige årsaker",
    "Ikke arbeidssøker",
    "Ikke arbeidssøker - forsørget",
    "Ikke arbeidssøker - sosialkontoret/trygd",
    "Ingen aktivitet",
    "Mistet rett til intro",
    "Ordinær opplæring - grunnskole",
    "På andre trygdeytelser",
    "På sosial stønad",
    "Død",
    "Flyttet",
    "Hjemmeværende med omsorg for barn 0-1 år",
    "Hjemmeværende med omsorg for barn 1-3 år",
    "Ikke registrert sluttårsak",
    "Ukjent",
}
NIR_MEASURES = {
    "Norskopplæring",
    "Norskopplæring høyere nivå",
    "Samfunnskunnskap",
    "Språkpraksis",
    "Yrkesrettet kurs i regi av andre",
    "Ordinært arbeid som del av programmet",
    "Tiltak i arbeidsmarkedsbedrift i kommunal regi",
    "Tiltak i arbeidsmarkedsbedrift i NAVs regi",
    "Hospitering på arbeidsplass i kommunal regi",
    "Hospitering på arbeidsplass i regi av andre",
    "Arbeidspraksis i NAVs regi",
    "Arbeidsmarkedsopplæring (AMO-kurs)",
    "Tiltak som fremmer sosialt nettverk",
    "Helsefremmende tiltak/fysisk fostring",
    "Tiltak knyttet til barn og familie",
    "Frivillig virksomhet/ord. kultur- og fritidstilbud",
    "Realkompetansevurdering, herunder yrkesprøving",
    "Godkjenning/vurdering av formal kompetanse",
    "Fag i grunnskole for voksne",
    "Fag i videregående skole",
    "Selvstudium",
    "Sertifiseringskurs i regi av andre",
    "Annet",
}
LEVELS = {"Under A1", "A1", "A2", "B1", "B2"}


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    from iwh_synth import generate

    out = tmp_path_factory.mktemp("contract") / "landing"
    generate(out, years=YEARS, scale=0.25, seed=11)
    return out


@pytest.fixture(scope="module")
def klass(landing):
    return read_delimited(landing / "ssb" / "klass_131_kommuner.csv")


def valid_in(klass: pd.DataFrame, year: int) -> dict[str, str]:
    """code → name of the municipalities KLASS says were valid in the year."""
    rows = klass[
        (klass["validFrom"] <= f"{year}-12-31") & ((klass["validTo"] == "") | (klass["validTo"] >= f"{year}-01-01"))
    ]
    return dict(zip(rows["code"], rows["name"]))


def test_layout_is_complete_and_marked_synthetic(landing):
    files = {str(path.relative_to(landing)) for path in landing.rglob("*") if path.is_file()}
    expected = {
        SYNTHETIC_MARKER,
        "truth.json",
        "truth_persons.parquet",
        "ssb/sentralitet.csv",
        "ssb/klass_131_kommuner.csv",
    }
    expected |= {f"ssb/{table}.csv" for table in STATBANK_TABLES}
    for year in YEARS:
        expected.add(f"jobbsjansen/individrapportering_{year}.{'xlsx' if year == 2019 else 'csv'}")
        expected |= {f"nir/nir_deltakere_{year}.csv", f"nir/nir_tiltak_{year}.csv"}
        expected |= {f"regnskap/jobbsjansen_prosjekter_{year}.csv", f"regnskap/kostra_f275_{year}.csv"}
    # The latest cohort's follow-up has not arrived yet.
    expected |= {f"register/status_ett_aar_etter_{year}.csv" for year in YEARS[:-1]}
    assert files == expected
    assert "demo key" in (landing / SYNTHETIC_MARKER).read_text(encoding="utf-8")


def test_encodings_and_byte_order_marks_drift_by_year(landing):
    for year in (2017, 2018):
        data = (landing / "jobbsjansen" / f"individrapportering_{year}.csv").read_bytes()
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        text = data.decode("cp1252")
        assert re.search("[æøåÆØÅ]", text) and "\r\n" in text
    data = (landing / "jobbsjansen" / "individrapportering_2020.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf\xef\xbb\xbffnr;duf;")
    for path in [
        *(landing / "nir").glob("*.csv"),
        *(landing / "regnskap").glob("*.csv"),
        *(landing / "ssb").glob("*.csv"),
    ]:
        data = path.read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf") and b"\r\n" not in data, path.name
        data.decode("utf-8")


def test_jobbsjansen_reports_follow_the_contract(landing, klass):
    countries_seen = set()
    identifiers_by_year = {}
    for year in YEARS:
        frame = read_jobbsjansen(landing, year)
        measures = JS_MEASURES + (JS_DIGITAL if year >= 2020 else [])
        delivered = [column for column in frame.columns if column not in ("cohort_year", "source_row")]
        assert set(delivered) == set(JS_BASE + JS_EXIT + measures) | ({"kommentar"} if year >= 2020 else set())
        raw_text = (
            frame if year == 2019 else read_delimited(landing / "jobbsjansen" / f"individrapportering_{year}.csv")
        )
        if year <= 2018:
            assert set(raw_text["v2_1"]) <= {"Kvinne", "Mann", ""} and set(raw_text["v1_3"]) <= {"Del A", "Del C"}
            assert set(raw_text["v5_1"]) <= {
                "Under 10 %",
                "10-19 %",
                "20-29 %",
                "30-49 %",
                "50 % eller mer",
                "Vet ikke",
                "",
            }
        else:
            assert set(raw_text["v2_1"]) <= {"0", "1", ""} and set(raw_text["v1_3"]) <= {"Ordning A", "Område 1"}
        uses_fnr = frame["fnr"] != ""
        assert (uses_fnr ^ (frame["duf"] != "")).all()
        assert all(fnr_is_valid(value) for value in frame.loc[uses_fnr, "fnr"])
        assert all(duf_is_valid(value) for value in frame.loc[~uses_fnr, "duf"])
        identifiers = frame["fnr"].where(uses_fnr, frame["duf"])
        assert identifiers.is_unique
        identifiers_by_year[year] = dict(zip(identifiers, frame["v1_7"]))
        valid_names = set(valid_in(klass, year).values())
        assert set(frame["v1_1"]) <= valid_names
        assert ((frame["v1_2"] != "") == (frame["v1_1"] == "Oslo")).all()
        assert set(frame["v1_7"]) <= {"1", "2", "3"}
        leaver = frame["v1_7"] == "2"
        assert frame.loc[leaver, "v1_8"].isin([str(m) for m in range(1, 13)] + [""]).all()
        assert (frame.loc[~leaver, JS_EXIT + measures + ["v1_8"]] == "").all().all()
        assert frame["v2_9"].isin([str(c) for c in range(1, 12)] + [""]).all()
        assert frame[measures].isin(["", "0", "1"]).all().all()
        assert frame["v4_1"].isin([str(c) for c in range(1, 10)] + [""]).all()
        assert ((frame["v4_3"] != "") <= (frame["v4_1"] == "1")).all()
        assert frame["v5_1"].isin([str(c) for c in range(1, 7)] + [""]).all()
        assert (
            frame["v5_2"].isin(["1", "2", "3", ""]).all()
            and frame["v5_3"].isin([str(c) for c in range(8)] + [""]).all()
        )
        assert frame[["v5_4_1", "v5_4_2", "v5_4_3", "v5_4_4"]].isin(LEVELS | {"Usikker", ""}).all().all()
        start_year = pd.to_numeric(frame["v1_4"])
        assert (start_year <= year).all() and frame["v1_5"].isin([str(m) for m in range(1, 13)]).all()
        countries_seen |= set(frame["v2_5"]) - {""}
    assert "Det palestinske området (statsløs)" in countries_seen
    for year in YEARS[:-1]:
        continuing = {identifier for identifier, status in identifiers_by_year[year].items() if status in ("1", "3")}
        assert continuing and continuing <= set(identifiers_by_year[year + 1])


def test_nir_extracts_follow_the_contract(landing, klass):
    for year in YEARS:
        raw = (landing / "nir" / f"nir_deltakere_{year}.csv").read_text(encoding="utf-8")
        header = raw.split("\n", 1)[0].split(";")
        assert set(header) == NIR_COLUMNS
        assert (header[0] == "Fodselsnummer") == (year != 2019)
        frame = read_delimited(landing / "nir" / f"nir_deltakere_{year}.csv")
        assert frame["Fodselsnummer"].is_unique and all(fnr_is_valid(value) for value in frame["Fodselsnummer"])
        assert set(frame["Kjonn"]) == {"K", "M"}
        assert (frame["Fodselsnummer"].str[8].astype(int) % 2 == (frame["Kjonn"] == "M")).all()
        date_pattern = r"\d{4}-\d{2}-\d{2}" if year >= 2020 else r"\d{2}\.\d{2}\.\d{4}"
        for column in ("DatoForForsteVedtakIntro", "GjennomforingsfristBeregnetFra", "AvsluttetDato"):
            assert frame[column].str.fullmatch(f"({date_pattern})?").all(), column
        end = date(frame["AvsluttetDato"])
        assert (end.dt.year == year).all()
        municipalities = valid_in(klass, year)
        assert all(
            municipalities[code] == name for code, name in zip(frame["Avsl_Kommunenummer"], frame["Avsl_Kommunenavn"])
        )
        assert set(frame["Avslutningsaarsak"]) <= END_REASONS
        assert frame[["SporForste", "SporSiste"]].isin(["", "1", "2", "3"]).all().all()
        tests = [
            "PROVE_NORSK_MUNTLIG_Resultat",
            "PROVE_NORSK_LYTT_Resultat",
            "PROVE_NORSK_LES_Resultat",
            "PROVE_NORSK_SKRIV_Resultat",
        ]
        assert frame[tests].isin(LEVELS | {""}).all().all()
        hours = [
            "AntallTimerFravaerIntro",
            "AntallDagerFravaerIntro",
            "AntallTimerDeltattNorsk",
            "AntallTimerDeltattSamf",
            "AntallTimerDeltattNKNV",
        ]
        decimal = r"\d+,\d" if year == 2018 else r"\d+\.\d"
        assert frame[hours].apply(lambda column, decimal=decimal: column.str.fullmatch(f"({decimal})?")).all().all()
        tiltak = read_delimited(landing / "nir" / f"nir_tiltak_{year}.csv")
        assert list(tiltak.columns) == ["Fodselsnummer", "Tiltak", "TiltakStartDato", "TiltakSluttDato"]
        assert set(tiltak["Tiltak"]) <= NIR_MEASURES and set(tiltak["Fodselsnummer"]) <= set(frame["Fodselsnummer"])
        assert tiltak["TiltakStartDato"].str.fullmatch(date_pattern).all()
        assert tiltak["TiltakSluttDato"].str.fullmatch(f"({date_pattern})?").all()
        assert (tiltak["TiltakSluttDato"] == "").any()


def test_followup_deliveries_follow_the_contract(landing):
    register = landing / "register"
    assert b"\r\n" in (register / "status_ett_aar_etter_2017.csv").read_bytes()
    assert (register / "status_ett_aar_etter_2019.csv").read_bytes().startswith(b"\xef\xbb\xbffnr;")
    for year in YEARS[:-1]:
        frame = read_delimited(register / f"status_ett_aar_etter_{year}.csv")
        assert sorted(frame.columns) == ["fnr", "sosialhjelp", "status_november", "yrkesinntekt_kr"]
        assert (list(frame.columns)[0] == "fnr") == (year != 2018)
        assert frame["fnr"].is_unique and all(fnr_is_valid(value) for value in frame["fnr"])
        assert set(frame["status_november"]) == {str(code) for code in range(1, 9)}
        assert frame["yrkesinntekt_kr"].str.fullmatch(r"(\d+)?").all() and (frame["yrkesinntekt_kr"] == "").any()
        assert set(frame["sosialhjelp"]) == {"0", "1", ""}
        # Every exit with a fødselsnummer, nobody known only by DUF, nobody else.
        nir = read_delimited(landing / "nir" / f"nir_deltakere_{year}.csv")
        jobbsjansen = read_jobbsjansen(landing, year)
        leavers = jobbsjansen.loc[jobbsjansen["v1_7"] == "2"]
        assert set(frame["fnr"]) == set(nir["Fodselsnummer"]) | set(leavers.loc[leavers["fnr"] != "", "fnr"])
        assert not set(frame["fnr"]) & set(leavers["duf"])
        died = set(nir.loc[nir["Avslutningsaarsak"] == "Død", "Fodselsnummer"])
        assert set(frame.loc[frame["fnr"].isin(died), "status_november"]) <= {"8"}


def test_accounts_cover_every_project_and_municipality(landing, klass):
    for year in YEARS:
        municipalities = valid_in(klass, year)
        kostra = read_delimited(landing / "regnskap" / f"kostra_f275_{year}.csv")
        assert list(kostra.columns) == [
            "kommunenummer",
            "kommunenavn",
            "lonnsutgifter_1000kr",
            "antall_deltakere_intro",
        ]
        assert all(municipalities[code] == name for code, name in zip(kostra["kommunenummer"], kostra["kommunenavn"]))
        deltakere = read_delimited(landing / "nir" / f"nir_deltakere_{year}.csv")
        assert set(deltakere["Avsl_Kommunenummer"]) == set(kostra["kommunenummer"])
        assert (
            kostra["lonnsutgifter_1000kr"].str.fullmatch(r"\d+\.\d").all()
            and kostra["antall_deltakere_intro"].str.fullmatch(r"\d+").all()
        )
        projects = read_delimited(landing / "regnskap" / f"jobbsjansen_prosjekter_{year}.csv")
        assert list(projects.columns) == ["prosjekt", "kommunenummer", "lonnsutgifter_kr", "antall_deltakere"]
        report = read_jobbsjansen(landing, year)
        report_projects = np.where(report["v1_2"] != "", report["v1_1"] + " - " + report["v1_2"], report["v1_1"])
        participants = pd.Series(report_projects).value_counts()
        assert dict(zip(projects["prosjekt"], projects["antall_deltakere"].astype(int))) == participants.to_dict()
        name_of_code = {name: code for code, name in municipalities.items()}
        for prosjekt, code in zip(projects["prosjekt"], projects["kommunenummer"]):
            assert code == name_of_code[prosjekt.split(" - ")[0]]


def test_statbank_exports_cover_every_municipality_and_year(landing, klass):
    codes_by_year = {year: set(valid_in(klass, year)) for year in YEARS}
    every_code = set().union(*codes_by_year.values())
    symbols_seen = set()
    for table in STATBANK_TABLES:
        text = (landing / "ssb" / f"{table}.csv").read_text(encoding="utf-8")
        lines = text.rstrip("\n").split("\n")
        assert re.fullmatch(rf'"region";"statistikkvariabel";"år";"{table}: [^"]+"', lines[0])
        cells = [line.split(";") for line in lines[1:]]
        assert all(re.fullmatch(r'"\d{4} [^"]+"', cell[0]) and re.fullmatch(r'"\d{4}"', cell[2]) for cell in cells)
        values = {(cell[0][1:5], int(cell[2][1:-1])): cell[3] for cell in cells}
        assert {code for code, _ in values} == every_code
        for (code, year), value in values.items():
            if code in codes_by_year[year]:
                assert re.fullmatch(r"-?\d+(,\d)?|\.\.|\.\.\.|:", value), (table, value)
            else:
                assert value == "."
            symbols_seen |= {value} & {".", "..", "...", ":"}
    assert symbols_seen == {".", "..", "...", ":"}
    assert '"0231 Skedsmo (-2019)"' in (landing / "ssb" / "11342.csv").read_text(encoding="utf-8")
    centrality = read_delimited(landing / "ssb" / "sentralitet.csv")
    assert list(centrality.columns) == ["kommunenummer", "år", "sentralitet"]
    assert set(centrality["sentralitet"]) <= {"1", "2", "3", "4", "5", "6"}
    assert {(code, int(year)) for code, year in zip(centrality["kommunenummer"], centrality["år"])} == {
        (code, year) for year in YEARS for code in codes_by_year[year]
    }


def test_klass_history_carries_the_reforms(klass):
    rows = {(code, name): (valid_from, valid_to) for code, name, valid_from, valid_to in klass.itertuples(index=False)}
    assert rows[("0231", "Skedsmo")] == ("2017-01-01", "2019-12-31")
    assert rows[("3030", "Lillestrøm")] == ("2020-01-01", "")
    assert rows[("1601", "Trondheim")] == ("2017-01-01", "2017-12-31")
    assert rows[("5001", "Trondheim")] == ("2018-01-01", "")
    assert rows[("1702", "Steinkjer")] == ("2017-01-01", "2017-12-31")
    assert rows[("5004", "Steinkjer")] == ("2018-01-01", "2019-12-31")
    assert rows[("5006", "Steinkjer")] == ("2020-01-01", "")
    assert rows[("1201", "Bergen")] == ("2017-01-01", "2019-12-31") and rows[("4601", "Bergen")] == ("2020-01-01", "")
    assert rows[("0301", "Oslo")] == ("2017-01-01", "")
    assert klass["code"].str.fullmatch(r"\d{4}").all() and not klass.duplicated(["code", "name"]).any()


def test_xlsx_is_a_plain_first_sheet_with_fixed_timestamps(landing):
    path = landing / "jobbsjansen" / "individrapportering_2019.xlsx"
    with zipfile.ZipFile(path) as archive:
        assert {info.date_time for info in archive.infolist()} == {(2021, 1, 1, 0, 0, 0)}
        sheet = archive.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert '<c r="A1" t="inlineStr"><is><t>fnr</t></is></c>' in sheet
    frame = pd.read_excel(path, dtype=str, engine="openpyxl").fillna("")
    assert frame["fnr"].str.fullmatch(r"(\d{11})?").all() and frame["duf"].str.fullmatch(r"(\d{12})?").all()
    assert frame["v1_7"].isin(["1", "2", "3"]).all()
