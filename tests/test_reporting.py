"""The shared reporting layer: every message translated in both languages, numbers written as each
language's readers write them, the table component and the page frame every report shares."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import pandas as pd
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from iwh import html_policy
from iwh.reporting import Column, Language, RunFacts, render, table
from iwh.reporting.language import catalogue_path
from iwh.settings import REPORT_LANGUAGES, Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]
NBSP = "\u00a0"


def _used_messages() -> set[str]:
    """Every msgid the code and templates use, extracted as `make messages` extracts them."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config, "babel.cfg")
    used = set()
    for _filename, _line, message, _comments, _context in extract_from_dir(ROOT, method_map, options_map):
        used.update([message] if isinstance(message, str) else [part for part in message if part])
    return used


def test_messages_are_extracted_from_code_and_templates():
    used = _used_messages()
    assert "Synthetic data." in used  # iwh/reporting/templates/base.html
    assert "every Jobbsjansen scheme" in used  # N_() in iwh/reporting/pages.py
    assert "yes" in used  # Language.boolean


@pytest.mark.parametrize("code", REPORT_LANGUAGES)
def test_every_message_used_has_a_translation(code):
    with catalogue_path(code).open("rb") as po:
        catalog = read_po(po, locale=code)
    missing = []
    for message in sorted(_used_messages()):
        entry = catalog.get(message)
        if entry is None or entry.fuzzy:
            missing.append(message)
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if not all(strings):
            missing.append(message)
    assert missing == [], f"untranslated in {catalogue_path(code).relative_to(ROOT)} (run `make messages`)"
    # Placeholders of a translation match its message's (Babel's own checks).
    problems = [(message.id, [str(error) for error in errors]) for message, errors in catalog.check()]
    assert problems == []


def test_the_norwegian_catalogue_translates():
    nb, en = Language("nb"), Language("en")
    assert nb._("Synthetic data.") == "Syntetiske data."
    assert en._("Synthetic data.") == "Synthetic data."
    assert nb.boolean(True) == "ja" and en.boolean(False) == "no"


@pytest.mark.parametrize(
    ("code", "method", "value", "digits", "expected"),
    [
        ("nb", "decimal", 1234567.891, 2, f"1{NBSP}234{NBSP}567,89"),
        ("en", "decimal", 1234567.891, 2, "1,234,567.89"),
        ("nb", "decimal", -10699.52, 2, f"-10{NBSP}699,52"),
        ("nb", "decimal", 0.4567, 3, "0,457"),
        ("nb", "decimal", 2.0, 0, "2"),
        ("nb", "percent", 0.415, 1, f"41,5{NBSP}%"),
        ("en", "percent", 0.415, 1, "41.5%"),
        ("nb", "percent", 0.56, 0, f"56{NBSP}%"),
        ("nb", "percent_of_100", 72.94, 1, f"72,9{NBSP}%"),
        ("en", "percent_of_100", 72.94, 0, "73%"),
    ],
)
def test_numbers_with_digits(code, method, value, digits, expected):
    assert getattr(Language(code), method)(value, digits) == expected


@pytest.mark.parametrize(
    ("code", "method", "value", "expected"),
    [
        ("nb", "integer", 19316, f"19{NBSP}316"),
        ("en", "integer", 19316, "19,316"),
        ("nb", "integer", 1560, f"1{NBSP}560"),
        ("nb", "count", 3, "<5"),
        ("nb", "count", 0, "0"),
        ("nb", "count", 28214, f"28{NBSP}214"),
        ("nb", "ungrouped", 2019.0, "2019"),
        ("nb", "number", 0.25, "0,25"),
        ("en", "number", 0.25, "0.25"),
        ("nb", "p_value", 0.00001, "<0,0001"),
        ("en", "p_value", 0.03126, "0.0313"),
        ("nb", "decimal", math.nan, ""),
        ("nb", "count", None, ""),
        ("nb", "percent", pd.NA, ""),
    ],
)
def test_numbers(code, method, value, expected):
    assert getattr(Language(code), method)(value) == expected


def test_a_number_is_written_the_same_every_time_and_keeps_its_sign():
    nb = Language("nb")
    # -0.0 equals 0.0, yet a rounded negative number is written with its sign.
    assert [nb.decimal(value, 1) for value in (0.0, -0.0, -0.04, 0.0)] == ["0,0", "-0,0", "-0,0", "0,0"]
    assert [nb.percent(share, 1) for share in (0.415, 0.415)] == [f"41,5{NBSP}%"] * 2
    assert [nb.integer(value) for value in (1560, 1560.0)] == [f"1{NBSP}560"] * 2


def test_the_language_comes_from_the_environment():
    assert Settings.from_env({}).report_language == "nb"
    assert Settings.from_env({"IWH_REPORT_LANGUAGE": "en"}).report_language == "en"
    with pytest.raises(SettingsError, match="IWH_REPORT_LANGUAGE='de'"):
        Settings.from_env({"IWH_REPORT_LANGUAGE": "de"})


@pytest.fixture(scope="module")
def table_page_template(tmp_path_factory):
    """A page as a report writes one: its own template extending the shared frame."""
    folder = tmp_path_factory.mktemp("templates")
    (folder / "table_page.html").write_text(
        '{% extends "base.html" %}{% from "components.html" import table as t %}'
        "{% block body %}{{ t(table) }}{% endblock %}",
        encoding="utf-8",
    )
    return folder


def test_the_table_component_writes_numbers_escapes_text_and_suppresses(table_page_template):
    frame = pd.DataFrame(
        {
            "name": ["<script>alert(1)</script>", "Kvinne", "Mann"],
            "n": [1234, 3, None],
            "share": [0.4151, 0.02, None],
            "hidden": [False, False, True],
        }
    )
    lang = Language("nb")
    columns = [Column("name", "Kategori"), Column("n", "Personer", "count"), Column("share", "Andel", "percent", 1)]
    page = render(
        table_page_template,
        "table_page.html",
        lang,
        title="T",
        run=RunFacts("run-1", "report_text", "ordning_a", False, dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)),
        table=table(lang, frame, columns, table_id="t", suppressed="hidden"),
    )
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", re.search(r'<table id="t">(.*?)</table>', page, re.S).group(1))
    cells = [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row) for row in rows]
    assert cells == [
        ["Kategori", "Personer", "Andel"],
        ["&lt;script&gt;alert(1)&lt;/script&gt;", f"1{NBSP}234", f"41,5{NBSP}%"],
        ["Kvinne", "&lt;5", f"2,0{NBSP}%"],
        ["Mann", "&lt;5", "&lt;5"],
    ]
    assert '<td class="num">' in page


def test_a_table_of_records_is_the_table_of_their_frame():
    frame = pd.DataFrame(
        {"name": ["a", None], "n": [3, 12], "share": [None, 0.25], "hidden": [True, False], "link": ["a.html", None]}
    )
    lang = Language("en")
    columns = [
        Column("name", "Name", href="link"),
        Column("n", "Persons", "count"),
        Column("share", "Share", "percent", 1),
    ]
    from_frame = table(lang, frame, columns, table_id="t", suppressed="hidden")
    from_records = table(lang, frame.to_dict("records"), columns, table_id="t", suppressed="hidden")
    assert from_records == from_frame
    assert [[cell.text for cell in row.cells] for row in from_records.rows] == [["a", "<5", "<5"], ["", "12", "25.0%"]]


def test_every_page_names_its_run_and_warns_of_synthetic_data(table_page_template):
    frame = pd.DataFrame({"name": ["a"], "n": [10], "share": [0.5], "hidden": [False]})
    lang = Language("nb")
    columns = [Column("name", "Kategori")]

    def page(code: str, synthetic: bool, scope: str) -> str:
        run = RunFacts("run-7", "table8_literal", scope, synthetic, dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC))
        return render(
            table_page_template,
            "table_page.html",
            Language(code),
            title="T",
            run=run,
            table=table(lang, frame, columns),
        )

    synthetic = page("nb", True, "ordning_a")
    assert '<html lang="nb">' in synthetic
    assert synthetic.index(html_policy.META_TAG) < synthetic.index("<title>")
    assert synthetic.index('id="synthetic-banner"') < synthetic.index("<h1>")
    assert "Syntetiske data." in synthetic
    assert "<code>table8_literal</code>" in synthetic and "<code>ordning_a</code>" in synthetic
    assert "Kjøring run-7, laget 2026-01-02 03:04 UTC." in synthetic
    real = page("en", False, "alle")
    assert '<html lang="en">' in real and "synthetic-banner" not in real
    assert "every Jobbsjansen scheme" in real and "Run run-7, made 2026-01-02 03:04 UTC." in real
