"""The Ed25519 key that signs audit checkpoints.

The private key is given as a file path or as base64 of its 32 raw bytes (a file may hold
either that base64 text or a PEM "PRIVATE KEY", e.g. from `openssl genpkey -algorithm
ed25519`). When none is given, one is generated into the data directory once and reused.
The public key is published as base64 of its 32 raw bytes; its key id is the first 16 hex
digits of the SHA-256 of those bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import uuid
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from feeds.errors import Invalid

GENERATED_NAME = "audit-signing.key"


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_text(key: Ed25519PublicKey) -> str:
    """The public key as published: base64 of its 32 raw bytes."""
    return base64.b64encode(_raw(key)).decode()


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw(key)).hexdigest()[:16]


def _decode32(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise Invalid(f"{what} must be a file or base64 of 32 bytes.")
    return raw


def _private_from_text(text: str) -> Ed25519PrivateKey:
    if "PRIVATE KEY" in text:
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise Invalid("The audit signing key file does not hold an Ed25519 key.")
        return key
    return Ed25519PrivateKey.from_private_bytes(_decode32(text, "The audit signing key"))


def _as_file(source: str) -> Path | None:
    path = Path(source).expanduser()
    return path if len(source) < 4096 and path.is_file() else None


def _read_text(source: str) -> str:
    path = _as_file(source)
    return path.read_text() if path else source


def load_private_key(source: str) -> Ed25519PrivateKey:
    """The signing key from a file path or base64 text."""
    return _private_from_text(_read_text(source))


def load_public_key(source: str) -> Ed25519PublicKey:
    """A published public key from a file path or base64 text."""
    return Ed25519PublicKey.from_public_bytes(_decode32(_read_text(source), "The public key"))


def generate_into(path: Path) -> Ed25519PrivateKey:
    """The key stored at `path`, generating it first when missing. Several workers may
    start at once: the key is written to a private temporary file and linked into place,
    so all of them end up with the one key that won."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        seed = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        scratch = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(base64.b64encode(seed).decode() + "\n")
        try:
            os.link(scratch, path)
        except FileExistsError:
            pass  # another worker won the race; use its key
        finally:
            scratch.unlink()
    return load_private_key(str(path))


def signing_key(source: str, data_dir: Path) -> Ed25519PrivateKey:
    """The configured key, or the one generated into `data_dir` when none is configured."""
    return load_private_key(source) if source.strip() else generate_into(data_dir / GENERATED_NAME)


def verifying_key(source: str, data_dir: Path) -> Ed25519PublicKey | None:
    """The public half of the configured or generated key, without generating one."""
    if source.strip():
        return load_private_key(source).public_key()
    generated = data_dir / GENERATED_NAME
    return load_private_key(str(generated)).public_key() if generated.is_file() else None
