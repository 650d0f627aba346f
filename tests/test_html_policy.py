"""The Content-Security-Policy of every page the warehouse writes (iwh.html_policy)."""

from __future__ import annotations

from html.parser import HTMLParser

from iwh.html_policy import META_TAG, POLICY


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
