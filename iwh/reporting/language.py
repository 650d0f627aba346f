"""A report's language: its gettext catalogue and how it writes numbers.

The catalogues are the ``.po`` files under ``locale/``, compiled in memory by Babel when a
language is first used, so a fresh clone needs no compile step and the repository holds no
binary ``.mo`` files that could drift from their sources.
"""

from __future__ import annotations

import functools
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import NumberPattern, format_decimal, format_percent, parse_pattern
from babel.support import Translations

from iwh.settings import REPORT_LANGUAGES

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "messages"
# Numbers as the country's readers write them: nb_NO has the decimal comma and a no-break space
# between thousands.
NUMBER_LOCALES = {"nb": "nb_NO", "en": "en"}
SUPPRESSED = "<5"
MIN_CELL = 5


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is defined; it is translated where it is shown."""
    return message


def catalogue_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(code: str) -> Translations:
    """The compiled catalogue of ``code`` (fuzzy entries are left out, as msgfmt does)."""
    with catalogue_path(code).open("rb") as po:
        catalog = read_po(po, locale=code, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def is_missing(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True)
class Language:
    """``code`` is one of REPORT_LANGUAGES; cheap to create, the catalogue is loaded once per process."""

    code: str

    def __post_init__(self) -> None:
        if self.code not in REPORT_LANGUAGES:
            raise ValueError(f"no report language {self.code!r}; use one of {', '.join(REPORT_LANGUAGES)}")

    @property
    def translations(self) -> Translations:
        return translations(self.code)

    @property
    def number_locale(self) -> str:
        return NUMBER_LOCALES[self.code]

    def _(self, message: str, **values) -> str:
        """The translation of ``message``, with ``%(name)s`` placeholders filled from ``values``."""
        text = self.translations.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values) -> str:
        return self.translations.ngettext(singular, plural, n) % {"n": n, **values}

    def decimal(self, value, digits: int = 2) -> str:
        """``value`` with exactly ``digits`` decimals and grouped thousands; empty when missing."""
        if is_missing(value):
            return ""
        return _decimal_text(self.code, digits, str(value))

    def number(self, value) -> str:
        """``value`` with as many decimals as it has (up to three): axis ticks, odds ratios in text."""
        if is_missing(value):
            return ""
        return _decimal_text(self.code, None, str(value))

    def integer(self, value) -> str:
        if is_missing(value):
            return ""
        return _decimal_text(self.code, 0, str(int(value)))

    def count(self, value) -> str:
        """A count of persons: 1–4 persons are not shown (``<5``)."""
        if is_missing(value):
            return ""
        return SUPPRESSED if 0 < int(value) < MIN_CELL else self.integer(value)

    def percent(self, share, digits: int = 0) -> str:
        """A share in 0–1 as a percentage in the locale's own form (``41,5 %``, ``41.5%``)."""
        if is_missing(share):
            return ""
        return _percent_text(self.code, digits, str(share))

    def percent_of_100(self, value, digits: int = 0) -> str:
        """A percentage already on 0–100 (``share_pct``, ``actual_pct``)."""
        return "" if is_missing(value) else self.percent(float(value) / 100, digits)

    def p_value(self, value) -> str:
        if is_missing(value):
            return ""
        if 0 <= value < 1e-4:
            return "<" + self.decimal(0.0001, 4)
        return self.decimal(value, 4)

    def boolean(self, value) -> str:
        if is_missing(value):
            return ""
        return self._("yes") if bool(value) else self._("no")

    def ungrouped(self, value) -> str:
        """A year, a row number: a number written without a thousands separator."""
        if is_missing(value):
            return ""
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return str(int(value))
        return str(value)


# Numbers are written from their ``str``, which is what Babel formats (a Decimal's ``str`` is the
# same Decimal), and remembered: the unit pages write ~100 000 numbers of which ~20 000 differ
# (the national shares and the counts recur on every page), and the locale and pattern are parsed
# once rather than for each number.
NUMBER_TEXTS_CACHED = 1 << 16


@functools.lru_cache(maxsize=NUMBER_TEXTS_CACHED)
def _decimal_text(code: str, digits: int | None, number: str) -> str:
    """``number`` with grouped thousands and exactly ``digits`` decimals; the locale's own decimal
    pattern (up to three decimals) when ``digits`` is None."""
    pattern = None if digits is None else _decimal_pattern(digits)
    return format_decimal(number, format=pattern, locale=_number_locale(code))


@functools.lru_cache(maxsize=NUMBER_TEXTS_CACHED)
def _percent_text(code: str, digits: int, number: str) -> str:
    return format_percent(number, format=_percent_pattern(code, digits), locale=_number_locale(code))


@functools.cache
def _number_locale(code: str) -> Locale:
    return Locale.parse(NUMBER_LOCALES[code])


@functools.cache
def _decimal_pattern(digits: int) -> NumberPattern:
    return parse_pattern("#,##0" + ("." + "0" * digits if digits else ""))


@functools.cache
def _percent_pattern(code: str, digits: int) -> NumberPattern:
    """The locale's percent pattern (where the sign goes, whether a space precedes it) with
    ``digits`` fixed decimals."""
    pattern = _number_locale(code).percent_formats[None].pattern
    return parse_pattern(pattern.replace("#,##0", "#,##0" + ("." + "0" * digits if digits else ""), 1))
