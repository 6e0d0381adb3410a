"""Development secrets, generated on first start and kept in `.data/<profile>/secrets.json` (0600).

Nothing secret is committed. Every value starts with the marker the production guard refuses,
so a development secret can never start a production service.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from plant_shared.settings import DEV_SECRET_MARKER

NAMES = (
    "postgres_auth_password",
    "postgres_gateway_password",
    "postgres_cms_password",
    "cms_secret_key",
    "auth_key_encryption_key",
    "gateway_client_secret",
    "plant_id_api_key",
    "plantnet_api_key",
    "demo_editor_password",
    "demo_member_password",
)


def load_or_create(path: Path) -> dict[str, str]:
    """Read the profile's secrets, generating any that are missing."""
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [name for name in NAMES if name not in stored]
    if missing:
        for name in missing:
            stored[name] = DEV_SECRET_MARKER + secrets.token_urlsafe(24)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh, indent=2)
    return stored
