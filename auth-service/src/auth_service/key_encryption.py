"""Encryption at rest of the signing keys' private halves, under `AUTH_KEY_ENCRYPTION_KEY`.

AES-256-GCM with a key derived from the setting by HKDF-SHA256; the key id is the associated
data, so a ciphertext cannot be moved onto another key's row.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_FORMAT_V1 = b"\x01"
_NONCE_BYTES = 12
_INFO = b"plant-community-auth/signing-keys/v1"


class KeyDecryptionError(Exception):
    """The stored private key cannot be decrypted: another key-encryption key, or a damaged row."""


class KeyEncryptor:
    """Seal and open private keys. Build one per process: the derivation runs once."""

    def __init__(self, key_encryption_key: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(key_encryption_key.encode())
        self._aead = AESGCM(derived)

    def seal(self, kid: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _FORMAT_V1 + nonce + self._aead.encrypt(nonce, plaintext, kid.encode())

    def open(self, kid: str, sealed: bytes) -> bytes:
        """Raises:
            KeyDecryptionError: wrong key-encryption key, another row's ciphertext, or damage.
        """
        if not sealed.startswith(_FORMAT_V1) or len(sealed) <= 1 + _NONCE_BYTES:
            raise KeyDecryptionError(f"signing key {kid}: unknown storage format")
        nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, kid.encode())
        except InvalidTag:
            raise KeyDecryptionError(f"signing key {kid}: AUTH_KEY_ENCRYPTION_KEY does not decrypt it") from None
