"""Build the GX Data Docs site and make it safe to open offline.

GX's pages pull Bootstrap, jQuery and a logo from public CDNs, and its index page fills
its tables with JavaScript from those CDNs. A report about personal data should not make
the reader's browser call third parties, and an auditor's machine may have no network: the
external references are removed, the index tables are written out as static HTML, and a
small inline stylesheet replaces Bootstrap.
"""

from __future__ import annotations

import html
import re
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from expectations.checkpoints import DOCS_SITE, docs_page
from expectations.reuse import stored_result

EXTERNAL_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>.*?</script>", re.IGNORECASE | re.DOTALL)
EXTERNAL_LINK = re.compile(r"<link[^>]*\bhref=\"https?://[^\"]*\"[^>]*>", re.IGNORECASE)
EXTERNAL_IMAGE = re.compile(r"<img[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>", re.IGNORECASE)
FILTER_BUTTON = re.compile(r"<button[^>]*clearTableFilters[^>]*>.*?</button>", re.IGNORECASE | re.DOTALL)
FOOTER = re.compile(r"<footer\b.*?</footer>", re.IGNORECASE | re.DOTALL)
EXTERNAL_ANCHOR = re.compile(r"<a\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>(.*?)</a>", re.IGNORECASE | re.DOTALL)
# GX writes these tables empty; this module fills them (and fills them again on the next build).
INDEX_TABLE = re.compile(
    r"<table\s+id=\"(?P<id>section-1-content-block-2-(?P<n>\d)-body-table)\"[^>]*>.*?</table>", re.DOTALL
)

STYLE = """<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #1b1b1b; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #c8c8c8; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
.failed { color: #a00000; font-weight: bold; }
.passed { color: #006000; }
.fa, .fas { display: none; }
</style>"""


def build(context, docs_dir: Path, result_identifiers: Sequence) -> Path:
    """Render the pages of ``result_identifiers`` and the index, then strip every external reference.

    Every other page was made offline when it was written and is left as it is. With no page to
    render and an index in place, the site already shows everything: the validation store holds
    nothing it did not hold when the index was written. An index in place keeps its page and gets
    new tables: GX would read every result ever stored to write the tables its scripts fill, and
    those scripts are removed."""
    index = docs_dir / "index.html"
    if not result_identifiers and index.is_file():
        return index
    existing_index = index.is_file()
    # An empty list makes GX render every stored result, which is what a site without an index needs.
    context.build_data_docs(
        site_names=[DOCS_SITE], resource_identifiers=list(result_identifiers), build_index=not existing_index
    )
    pages = (
        [docs_dir / docs_page(identifier) for identifier in result_identifiers]
        if result_identifiers
        else [page for page in docs_dir.rglob("*.html") if page != index]
    )
    for page in pages:
        text = page.read_text(encoding="utf-8")
        if STYLE not in text:
            page.write_text(_offline(text), encoding="utf-8")
    text = index.read_text(encoding="utf-8")
    index.write_text(_static_index_tables(text if existing_index else _offline(text), context), encoding="utf-8")
    return index


def _offline(text: str) -> str:
    for pattern in (EXTERNAL_SCRIPT, INLINE_SCRIPT, EXTERNAL_LINK, EXTERNAL_IMAGE, FILTER_BUTTON, FOOTER):
        text = pattern.sub("", text)
    text = EXTERNAL_ANCHOR.sub(r"\1", text)
    if STYLE not in text:
        text = text.replace("</head>", f"{STYLE}\n</head>", 1)
    return text


def _validation_rows(context) -> list[tuple[str, str, str, str, bool, str]]:
    store = context.validation_results_store
    rows = []
    for key in store.list_keys():
        result = stored_result(store, key)
        run_name, run_time, batch = key.to_tuple()[-3:]
        rows.append((run_time, run_name, result["suite_name"], batch, bool(result["success"]), docs_page(key)))
    return sorted(rows, reverse=True)


def _static_index_tables(text: str, context) -> str:
    def replace(match: re.Match) -> str:
        if match.group("n") == "1":
            body = "".join(
                f'<tr><td class="{"passed" if success else "failed"}">{"passed" if success else "FAILED"}</td>'
                f"<td>{html.escape(run_time)}</td><td>{html.escape(run_name)}</td>"
                f'<td><a href="{html.escape(urllib.parse.quote(link))}">{html.escape(suite)}</a></td>'
                f"<td>{html.escape(batch)}</td></tr>"
                for run_time, run_name, suite, batch, success, link in _validation_rows(context)
            )
            head = "<tr><th>Status</th><th>Run time</th><th>Run</th><th>Expectation suite</th><th>Batch</th></tr>"
        else:
            suites = sorted(suite.name for suite in context.suites.all())
            body = "".join(
                f'<tr><td><a href="expectations/{html.escape(name.replace(".", "/"))}.html">{html.escape(name)}</a>'
                "</td></tr>"
                for name in suites
            )
            head = "<tr><th>Expectation suite</th></tr>"
        return f'<table id="{match.group("id")}"><thead>{head}</thead><tbody>{body}</tbody></table>'

    return INDEX_TABLE.sub(replace, text)
