"""The GX Data Docs site, built by GX's site builder with two customisations GX documents.

- Page templates (the plugins directory's ``custom_data_docs/views``): GX's own pages pull
  Bootstrap, jQuery, Vega and a logo from public CDNs, and its index fills its tables with
  those scripts. A report about personal data should not make the reader's browser call third
  parties, and an auditor's machine may have no network. Our templates carry the warehouse's
  Content-Security-Policy (``iwh.html_policy``), load nothing, run nothing, and write the index
  tables out; the sections inside are GX's own templates.
- A stylesheet (``custom_data_docs/styles``) in place of Bootstrap.

Delivered text is shown as text. GX renders the cells of its tables, among them the unexpected
values of a failed expectation, by inserting the value as HTML (its templates are not
autoescaped): a label delivered as ``<img src=x onerror=…>`` became an element. The views here
escape every plain value GX hands to ``render_content_block``; GX's markup comes as rendered
content blocks (string templates, tables, …) and is rendered by GX as before. Escaping in the
view, not in the validated frame, keeps what GX validates equal to what was delivered (an
escaped ``&`` would no longer be in its code list) and covers every page kind at once. The
policy is the second line: were a value ever inserted as markup, it still could not run.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from great_expectations.render import RenderedComponentContent
from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import pass_context

from iwh.html_policy import META_TAG

DOCS_SITE = "quality"
# GX reads custom_data_docs/views and custom_data_docs/styles under the project's plugins directory.
PLUGINS_DIRECTORY = Path(__file__).resolve().parent / "gx_plugins"
PAGE_TEMPLATE = "iwh_page.j2"
INDEX_TEMPLATE = "iwh_index_page.j2"


def _is_content_block(value) -> bool:
    return isinstance(value, RenderedComponentContent) or (isinstance(value, dict) and "content_block_type" in value)


def _as_text(value) -> str:
    return "" if value is None else html.escape(str(value))


class _InertTextView:
    """Renders a GX document with ``template`` and shows every plain value in it as text.

    GX's loader looks in its own templates before the custom views directory, so a custom page
    template gets a name of its own and the view asks for it."""

    template: str

    def render(self, document, template=None, **kwargs):
        return super().render(document, template or self.template, csp_meta=META_TAG, **kwargs)

    @pass_context
    def render_content_block(
        self, jinja_context, content_block, index=None, content_block_id=None, render_to_markdown=False
    ):
        if isinstance(content_block, list):
            content_block = [element if _is_content_block(element) else _as_text(element) for element in content_block]
        elif not _is_content_block(content_block):
            return _as_text(content_block)
        return super().render_content_block(jinja_context, content_block, index, content_block_id, render_to_markdown)


class InertTextPageView(_InertTextView, DefaultJinjaPageView):
    """Validation result and expectation suite pages."""

    template = PAGE_TEMPLATE


class InertTextIndexPageView(_InertTextView, DefaultJinjaIndexPageView):
    """The index page."""

    template = INDEX_TEMPLATE


def _view(view_class: type) -> dict:
    return {"module_name": __name__, "class_name": view_class.__name__}


def site_config(docs_dir: Path) -> dict:
    """The ``data_docs_sites`` entry of the quality site (a project's great_expectations.yml holds the same)."""
    return {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {
            "class_name": "DefaultSiteIndexBuilder",
            "show_how_to_buttons": False,
            "view": _view(InertTextIndexPageView),
        },
        "site_section_builders": {
            "expectations": {"view": _view(InertTextPageView)},
            "validations": {"view": _view(InertTextPageView)},
            # Nothing here profiles; without the section GX does not list the store a second time.
            "profiling": "None",
        },
    }


def build(context, docs_dir: Path, resource_identifiers: Sequence) -> Path:
    """Render the pages of ``resource_identifiers`` (validation results and suites) and the index.

    Pages of earlier runs stay as they were rendered; with nothing new and an index in place the
    site already shows everything."""
    index = docs_dir / "index.html"
    if resource_identifiers or not index.is_file():
        # An empty list would make GX render every stored result; that is what a site without
        # an index needs.
        context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=list(resource_identifiers) or None)
    return index
