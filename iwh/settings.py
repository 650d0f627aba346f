"""Settings from the environment: the only place that reads IWH_* variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Documented in the README: the synthetic sample is pseudonymised with this public key, so
# anyone can reproduce its person keys. It is refused for real deliveries.
DEMO_PSEUDONYM_KEY = "iwh-demo-key-not-secret"

# The generator writes this file in the landing root; its presence is what allows the demo key.
SYNTHETIC_MARKER = ".iwh_synthetic_sample"


# The two codings of NIR's end reasons (harmonisation.md): the report's text, or its table 8 as printed.
OUTCOME_VARIANTS = ("report_text", "table8_literal")
# Jobbsjansen schemes in the analysis (harmonisation.md): the report's Ordning A only, or every scheme.
JS_SCOPES = ("ordning_a", "alle")

# What people read is bokmål unless English is asked for (warehouse.md, "Reports").
REPORT_LANGUAGES = ("nb", "en")


DAGSTER_POSTGRES_SCHEME = "postgresql+psycopg2://"

# landing-zone.md: a delivery with more quarantined rows than this share of its rows is a
# systematic problem, and nothing is published.
DEFAULT_QUARANTINE_THRESHOLD_PCT = 1.0


class SettingsError(RuntimeError):
    """A configuration problem the user must fix (printed without a traceback by the CLI)."""


def _percentage(env, name: str, default: float) -> float:
    text = env.get(name) or ""
    if not text.strip():
        return default
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 100:
        raise SettingsError(f"{name}={text!r} is not a percentage between 0 and 100 (e.g. 1 or 2,5)")
    return value


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    home: Path
    pseudonym_key: str | None
    outcome_variant: str = OUTCOME_VARIANTS[0]
    report_language: str = REPORT_LANGUAGES[0]
    js_scope: str = JS_SCOPES[0]
    # A libpq connection string: each successful run also publishes to this PostgreSQL database.
    postgres_url: str | None = None
    # Dagster's run, event and schedule storage in PostgreSQL (postgresql+psycopg2://user@host/db).
    dagster_postgres_url: str | None = None
    quarantine_threshold_pct: float = DEFAULT_QUARANTINE_THRESHOLD_PCT

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        outcome_variant = env.get("IWH_OUTCOME_VARIANT") or OUTCOME_VARIANTS[0]
        if outcome_variant not in OUTCOME_VARIANTS:
            raise SettingsError(
                f"IWH_OUTCOME_VARIANT={outcome_variant!r} is not a coding of the outcome; use one of {', '.join(OUTCOME_VARIANTS)}"
            )
        report_language = env.get("IWH_REPORT_LANGUAGE") or REPORT_LANGUAGES[0]
        if report_language not in REPORT_LANGUAGES:
            raise SettingsError(
                f"IWH_REPORT_LANGUAGE={report_language!r} is not a report language; use one of {', '.join(REPORT_LANGUAGES)}"
            )
        js_scope = env.get("IWH_JS_SCOPE") or JS_SCOPES[0]
        if js_scope not in JS_SCOPES:
            raise SettingsError(
                f"IWH_JS_SCOPE={js_scope!r} is not a scope of Jobbsjansen schemes; use one of {', '.join(JS_SCOPES)}"
            )
        dagster_postgres_url = env.get("IWH_DAGSTER_POSTGRES_URL") or None
        if dagster_postgres_url and not dagster_postgres_url.startswith(DAGSTER_POSTGRES_SCHEME):
            # dagster-postgres speaks psycopg2; SQLAlchemy would pick another driver for postgresql://.
            raise SettingsError(
                f"IWH_DAGSTER_POSTGRES_URL must start with {DAGSTER_POSTGRES_SCHEME} "
                "(dagster-postgres connects with psycopg2), e.g. postgresql+psycopg2://dagster@db.example/dagster"
            )
        return cls(
            quarantine_threshold_pct=_percentage(env, "IWH_QUARANTINE_THRESHOLD_PCT", DEFAULT_QUARANTINE_THRESHOLD_PCT),
            landing_dir=Path(env.get("IWH_LANDING_DIR", "data/landing")).expanduser().resolve(),
            home=Path(env.get("IWH_HOME", "data")).expanduser().resolve(),
            pseudonym_key=env.get("IWH_PSEUDONYM_KEY") or None,
            outcome_variant=outcome_variant,
            report_language=report_language,
            js_scope=js_scope,
            postgres_url=env.get("IWH_POSTGRES_URL") or None,
            dagster_postgres_url=dagster_postgres_url,
        )

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def published_dir(self) -> Path:
        return self.home / "published"

    @property
    def published_path(self) -> Path:
        return self.published_dir / "warehouse.duckdb"

    @property
    def previous_published_path(self) -> Path:
        return self.published_dir / "warehouse.previous.duckdb"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"

    @property
    def codebook_path(self) -> Path:
        """The exports' codebook page; ``kodebok.csv`` beside it has the same rows."""
        return self.exports_dir / "kodebok.html"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def is_synthetic_landing(self) -> bool:
        return (self.landing_dir / SYNTHETIC_MARKER).is_file()

    def require_landing(self) -> None:
        if not self.landing_dir.is_dir():
            raise SettingsError(
                f"the landing directory {self.landing_dir} does not exist. "
                "Set IWH_LANDING_DIR to the deliveries, or write a synthetic sample with `iwh sample`."
            )

    def resolve_pseudonym_key(self) -> tuple[str, bool]:
        """The key to pseudonymise with, and whether it is the public demo key.

        Real deliveries without IWH_PSEUDONYM_KEY are refused: a guessable key would make
        every person key reversible by anyone holding a list of national ID numbers.
        """
        if self.pseudonym_key:
            return self.pseudonym_key, False
        if self.is_synthetic_landing:
            return DEMO_PSEUDONYM_KEY, True
        raise SettingsError(
            "IWH_PSEUDONYM_KEY is not set. Real deliveries are pseudonymised with a secret key; "
            f"set IWH_PSEUDONYM_KEY (the demo key is only used for a synthetic sample marked by {SYNTHETIC_MARKER})."
        )
