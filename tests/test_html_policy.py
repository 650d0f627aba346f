"""The Content-Security-Policy of every page the warehouse writes (iwh.html_policy)."""

from __future__ import annotations

import base64
import hashlib
from html.parser import HTMLParser

import pytest
from browser import Browser, requires_chromium

from iwh.html_policy import META_TAG, POLICY, meta_tag, own_scripts_policy, with_policy


class _Meta(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.attributes: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "meta":
            self.attributes.append(dict(attrs))


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {name: values for name, *values in parts}


def test_meta_tag_carries_the_policy_as_a_browser_reads_it():
    parser = _Meta()
    parser.feed(META_TAG)
    assert parser.attributes == [{"http-equiv": "Content-Security-Policy", "content": POLICY}]


def test_policy_runs_no_script_and_loads_nothing_from_elsewhere():
    directives = _directives(POLICY)
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["img-src"] == ["'self'", "data:"]
    assert directives["style-src"] == ["'self'", "'unsafe-inline'"]


APPLICATION = (
    "<!DOCTYPE html><html><head><title>app</title></head><body>"
    "<script>document.body.dataset.ownScript = 'ran'</script>"
    "<img src=x onerror=\"document.body.dataset.handler = 'ran'\"><p>ok</p></body></html>"
)


def test_own_scripts_policy_allows_exactly_the_pages_inline_scripts_by_hash():
    directives = _directives(own_scripts_policy(APPLICATION))
    own = "document.body.dataset.ownScript = 'ran'"
    digest = base64.b64encode(hashlib.sha256(own.encode()).digest()).decode()
    assert directives["script-src"] == [f"'sha256-{digest}'"]
    assert directives["default-src"] == ["'none'"]
    assert directives["font-src"] == ["data:"]
    assert _directives(own_scripts_policy("<html><head></head><body></body></html>"))["script-src"] == ["'none'"]


def test_with_policy_puts_the_tag_first_in_head():
    page = with_policy(APPLICATION, "default-src 'none'")
    assert page.startswith("<!DOCTYPE html><html><head>" + meta_tag("default-src 'none'") + "<title>")
    with pytest.raises(ValueError):
        with_policy("<p>no head</p>")


@pytest.mark.browser
@requires_chromium
def test_in_chromium_the_pages_own_script_runs_and_an_injected_handler_does_not(tmp_path):
    page = tmp_path / "app.html"
    page.write_text(with_policy(APPLICATION, own_scripts_policy(APPLICATION)), encoding="utf-8")
    with Browser() as browser:
        visit = browser.visit(page)
    assert 'data-own-script="ran"' in visit.dom
    assert "data-handler" not in visit.dom
    assert [entry["violatedDirective"] for entry in visit.blocked] == ["script-src-attr"]
