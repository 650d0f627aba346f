"""person_key: HMAC-SHA256 of the identifier digits under the secret key, 32 lowercase hex characters."""

from __future__ import annotations

import hmac

import pytest

from iwh.pseudonym import person_key


def test_person_key_is_the_truncated_hmac_sha256():
    # Reference computed independently: printf 01010112345 | openssl dgst -sha256 -hmac k
    assert person_key("01010112345", "k") == "4bd7b230e3d406d5befb66a507560254"


def test_the_key_changes_every_person_key():
    assert person_key("01010112345", "k") != person_key("01010112345", "k2")


def test_an_empty_key_is_refused():
    with pytest.raises(ValueError, match="empty"):
        person_key("01010112345", "")


@pytest.mark.parametrize("key", ["k", "x" * 64, "y" * 65, "nøkkel-æøå", "z" * 300])
def test_person_key_agrees_with_the_standard_library_hmac_for_short_long_and_non_ascii_keys(key):
    for digits in ("01010112345", "002955636951"):
        assert person_key(digits, key) == hmac.new(key.encode("utf-8"), digits.encode("ascii"), "sha256").hexdigest()[:32]
