"""Key ids and JWKs of Ed25519 keys."""

from __future__ import annotations

import jwt

from auth_service.key_encryption import KeyEncryptor
from auth_service.signing_keys import new_signing_key, public_key_from_jwk, thumbprint


def test_thumbprint_matches_rfc_8037_appendix_a3():
    # RFC 8037 A.3: the JWK thumbprint of the Ed25519 example key.
    assert thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo") == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_new_key_publishes_a_jwk_that_verifies_its_signatures():
    new = new_signing_key(KeyEncryptor("k" * 40))
    token = jwt.encode({"sub": "x"}, new.private_key, algorithm="EdDSA", headers={"kid": new.row.kid})

    public = public_key_from_jwk(new.row.public_jwk)

    assert jwt.decode(token, public, algorithms=["EdDSA"]) == {"sub": "x"}
    assert new.row.kid == new.row.public_jwk["kid"] == thumbprint(new.row.public_jwk["x"])
    assert jwt.PyJWK(new.row.public_jwk).key_id == new.row.kid
