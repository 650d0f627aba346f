"""The Content-Security-Policy every HTML page the warehouse writes carries.

The pages show text from landing-zone files (labels, free text), and a delivery is not
trusted: were a label ever rendered as markup, the policy still runs no script and loads
nothing from elsewhere. It is delivered as a ``<meta http-equiv>`` tag because the pages are
opened as files, with no server to send the header.

- no script at all (so no inline event handler either) and no plugin;
- images and stylesheets only from the page's own directory tree (``'self'``) or inline
  (``data:`` images, ``<style>`` elements and ``style`` attributes: the pages are single files
  with their styles inline; CSS without scripts or outside requests cannot exfiltrate);
- no fonts, frames, connections or form targets anywhere, and no ``<base>`` to re-point
  relative links.

Templates insert ``META_TAG`` as the first element of ``<head>`` (before anything it governs);
in Jinja2 mark it safe (``{{ csp_meta | safe }}``): it contains no delivered text.
"""

from __future__ import annotations

import html

POLICY = (
    "default-src 'none'; script-src 'none'; object-src 'none'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)


def meta_tag(policy: str = POLICY) -> str:
    """The ``<meta http-equiv="Content-Security-Policy">`` element for ``policy``."""
    return f'<meta http-equiv="Content-Security-Policy" content="{html.escape(policy, quote=True)}">'


META_TAG = meta_tag()
