"""Agent token values: `ragt_` + 32 random base62 characters + a 6-character base62 CRC32.

The fixed prefix lets secret scanners recognise a leaked token; the checksum lets the server turn
away a mistyped or truncated token without a database or Redis lookup. Only the SHA-256 digest is
ever stored.
"""

import hashlib
import secrets
import string
import zlib

PREFIX = "ragt_"
ALPHABET = string.digits + string.ascii_letters
RANDOM_LENGTH = 32
CHECKSUM_LENGTH = 6
LENGTH = len(PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH


def _base62(number: int, width: int) -> str:
    chars = []
    while number:
        number, rest = divmod(number, 62)
        chars.append(ALPHABET[rest])
    return "".join(reversed(chars)).rjust(width, "0")


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_LENGTH)


def generate(prefix: str = PREFIX) -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return prefix + body + _checksum(body)


def is_well_formed(value: str, prefix: str = PREFIX) -> bool:
    """The prefix is a parameter so other secrets (API tokens) share the format and checks."""
    if len(value) != len(prefix) + RANDOM_LENGTH + CHECKSUM_LENGTH or not value.startswith(prefix):
        return False
    body, check = value[len(prefix) : -CHECKSUM_LENGTH], value[-CHECKSUM_LENGTH:]
    if any(c not in ALPHABET for c in body):
        return False
    return secrets.compare_digest(_checksum(body), check)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def hint(value: str, prefix: str = PREFIX) -> str:
    """What the UI shows to tell tokens apart: the prefix, then the first and last 4 characters."""
    return f"{value[: len(prefix) + 4]}…{value[-4:]}"
