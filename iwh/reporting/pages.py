"""HTML pages from Jinja2 templates: one environment per language and template folder.

A report keeps its page template in its own package and extends ``base.html`` from here, which
carries the page's head, the shared style, the synthetic-data banner and the facts of the run;
``components.html`` holds the shared table macro.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined
from markupsafe import Markup

from iwh import html_policy
from iwh.reporting.language import N_, Language

TEMPLATES = "templates"
OUTCOME_VARIANT_TEXTS = {
    "report_text": N_("as the report's text (wage-subsidised work counts as achieved)"),
    "table8_literal": N_("as the report's table 8 is printed"),
}
JS_SCOPE_TEXTS = {
    "ordning_a": N_("only the former Jobbsjansen A, as the report (its footnote 2)"),
    "alle": N_("every Jobbsjansen scheme"),
}


@dataclass(frozen=True)
class RunFacts:
    """What every report says about the run it shows: which run, on which coding choices."""

    run_id: str
    outcome_variant: str
    js_scope: str | None
    synthetic: bool
    generated: dt.datetime

    @classmethod
    def now(cls, run_id: str, outcome_variant: str, js_scope: str | None, synthetic: bool) -> RunFacts:
        return cls(run_id, outcome_variant, js_scope, synthetic, dt.datetime.now(dt.UTC))

    def outcome_text(self, lang: Language) -> str:
        return (
            lang._(OUTCOME_VARIANT_TEXTS[self.outcome_variant]) if self.outcome_variant in OUTCOME_VARIANT_TEXTS else ""
        )

    def scope_text(self, lang: Language) -> str:
        return lang._(JS_SCOPE_TEXTS[self.js_scope]) if self.js_scope in JS_SCOPE_TEXTS else ""


@functools.cache
def environment(code: str, template_dir: Path | None = None) -> Environment:
    """Autoescaping environment with the catalogue of ``code`` installed (``_()`` and ``{% trans %}``)."""
    loaders = [FileSystemLoader(template_dir)] if template_dir else []
    env = Environment(
        loader=ChoiceLoader([*loaders, PackageLoader("iwh.reporting", TEMPLATES)]),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.install_gettext_translations(Language(code).translations, newstyle=True)
    # The policy names no delivered text: it is the one string the pages insert unescaped.
    env.globals["csp_meta"] = Markup(html_policy.META_TAG)
    return env


def render(template_dir: Path | None, template: str, lang: Language, **context) -> str:
    """``template`` from ``template_dir`` (or this package), rendered in ``lang``."""
    return environment(lang.code, template_dir).get_template(template).render(lang=lang, **context)
