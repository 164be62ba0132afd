"""SCRAM-SHA-256 password verifiers in PostgreSQL's stored format (RFC 5802 and RFC 7677).

``ALTER ROLE ... PASSWORD '<verifier>'`` stores a verifier as it is, so the plain password never
travels to the server, never lands in its logs and never sits in a statement the Data API sees.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

ITERATIONS = 4096  # PostgreSQL's default scram_iterations
SALT_BYTES = 16  # what PostgreSQL generates


def scram_sha256_verifier(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` (base64 parts) for ``password``.

    A random 16-byte salt is drawn unless one is given (tests pass PostgreSQL's own to compare).
    ASCII only: PostgreSQL runs SASLprep on the password first, which leaves ASCII untouched, and
    implementing SASLprep for the rest is not worth it for generated passwords.
    """
    if not password.isascii():
        raise ValueError("the password must be ASCII (SASLprep for other characters is not implemented)")
    if iterations < 1:
        raise ValueError(f"iterations must be positive, not {iterations}")
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    salted_password = hashlib.pbkdf2_hmac("sha256", password.encode("ascii"), salt, iterations)
    client_key = hmac.digest(salted_password, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted_password, b"Server Key", "sha256")
    return f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
