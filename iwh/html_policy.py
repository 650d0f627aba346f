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

One page is an application rather than a document: dbt's docs site, a single file whose one
inline script draws the page from the manifest embedded in it. It gets ``own_scripts_policy``:
the same policy, except that the inline scripts the file was written with run (each allowed by
its SHA-256 hash, so neither an injected script nor an inline event handler does) and its
inline (``data:``) fonts load. dbt has no template to put the tag in, so ``with_policy`` puts it
at the start of the file's ``<head>``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from html.parser import HTMLParser

POLICY = (
    "default-src 'none'; script-src 'none'; object-src 'none'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)


def meta_tag(policy: str = POLICY) -> str:
    """The ``<meta http-equiv="Content-Security-Policy">`` element for ``policy``."""
    return f'<meta http-equiv="Content-Security-Policy" content="{html.escape(policy, quote=True)}">'


META_TAG = meta_tag()


def own_scripts_policy(page: str) -> str:
    """``POLICY`` for a single-file application page: its own inline scripts run, its inline fonts load."""
    hashes = sorted({_sha256_source(script) for script in _inline_scripts(page)})
    script_sources = " ".join(hashes) if hashes else "'none'"
    return POLICY.replace("script-src 'none'", f"script-src {script_sources}") + "; font-src data:"


def with_policy(page: str, policy: str = POLICY) -> str:
    """``page`` with the policy's meta tag as the first element of its ``<head>``."""
    head = _HEAD.search(page)
    if head is None:
        raise ValueError("the page has no <head> to carry its Content-Security-Policy")
    return page[: head.end()] + meta_tag(policy) + page[head.end() :]


_HEAD = re.compile(r"<head(\s[^>]*)?>", re.IGNORECASE)


class _InlineScripts(HTMLParser):
    def __init__(self) -> None:
        # Script text is hashed as the browser reads it: raw, character references included.
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "script" and not dict(attrs).get("src"):
            self._current = []

    def handle_data(self, data):
        if self._current is not None:
            self._current.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._current is not None:
            self.scripts.append("".join(self._current))
            self._current = None


def _inline_scripts(page: str) -> list[str]:
    parser = _InlineScripts()
    parser.feed(page)
    parser.close()
    return parser.scripts


def _sha256_source(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"
