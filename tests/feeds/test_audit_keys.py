"""The checkpoint signing key (feeds/audit/keys.py): the forms it is given in, and generation."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from feeds.audit import keys
from feeds.errors import Invalid


def _seed(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def test_a_key_is_read_from_base64_a_base64_file_or_a_pem_file(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    text = base64.b64encode(_seed(key)).decode()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "key.b64").write_text(text + "\n")
    (tmp_path / "key.pem").write_bytes(pem)
    expected = keys.public_key_text(key.public_key())
    for source in (text, str(tmp_path / "key.b64"), str(tmp_path / "key.pem")):
        assert keys.public_key_text(keys.load_private_key(source).public_key()) == expected


@pytest.mark.parametrize("bad", ["not base64!", base64.b64encode(b"short").decode(), "/no/such"])
def test_a_malformed_key_is_refused_with_a_message(bad: str) -> None:
    with pytest.raises(Invalid, match="32 bytes"):
        keys.load_private_key(bad)
    with pytest.raises(Invalid, match="32 bytes"):
        keys.load_public_key(bad)


def test_without_a_configured_key_one_is_generated_once_and_kept(tmp_path: Path) -> None:
    assert keys.verifying_key("", tmp_path) is None  # verifying never generates
    with ThreadPoolExecutor(8) as pool:  # workers starting together agree on one key
        made = list(pool.map(lambda _: keys.signing_key("", tmp_path), range(8)))
    published = {keys.public_key_text(key.public_key()) for key in made}
    assert len(published) == 1
    again = keys.verifying_key("", tmp_path)
    assert again is not None and keys.public_key_text(again) in published
    generated = tmp_path / keys.GENERATED_NAME
    assert generated.stat().st_mode & 0o077 == 0  # readable by its owner only
    assert [p.name for p in tmp_path.iterdir()] == [keys.GENERATED_NAME]  # no scratch left
