"""Pseudonymisation at the door: national identifiers become keyed hashes before anything is stored."""

from __future__ import annotations

import functools
import hashlib

PERSON_KEY_HEX_CHARS = 32
_SHA256_BLOCK_BYTES = 64


@functools.lru_cache(maxsize=4)
def _keyed_states(key: str) -> tuple[hashlib._Hash, hashlib._Hash]:
    """SHA-256 states after absorbing the key XOR ipad and XOR opad (RFC 2104).

    They depend on the key alone, so every person's HMAC starts from copies of them; a cohort
    file has close to a million persons, and deriving the pads again for each costs more than
    hashing the identifier.
    """
    secret = key.encode("utf-8")
    if len(secret) > _SHA256_BLOCK_BYTES:
        secret = hashlib.sha256(secret).digest()
    secret = secret.ljust(_SHA256_BLOCK_BYTES, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in secret))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in secret))
    return inner, outer


def person_key(identifier_digits: str, key: str) -> str:
    """HMAC-SHA256 of the identifier's digits under the pseudonym key, as 32 lowercase hex characters.

    The same person gets the same key across years and sources as long as the key is unchanged.
    """
    if not key:
        raise ValueError("pseudonym key is empty")
    inner_start, outer_start = _keyed_states(key)
    inner = inner_start.copy()
    inner.update(identifier_digits.encode("ascii"))
    outer = outer_start.copy()
    outer.update(inner.digest())
    return outer.hexdigest()[:PERSON_KEY_HEX_CHARS]
