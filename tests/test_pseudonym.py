"""person_key: HMAC-SHA256 of the identifier digits under the secret key, 32 lowercase hex characters."""

from __future__ import annotations

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


def test_keys_computed_in_turn_do_not_change_one_another():
    # Each person's HMAC starts from a cached keyed state: using it must leave the state as it was.
    first = [person_key(digits, "k") for digits in ("01010112345", "002955636951")]
    person_key("01010112345", "k2")
    assert [person_key(digits, "k") for digits in ("01010112345", "002955636951")] == first
    assert first[0] == "4bd7b230e3d406d5befb66a507560254"
