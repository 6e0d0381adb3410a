"""Outgoing mail through a backend chosen by `AUTH_MAIL_BACKEND`: `console` or `file` (SMTP later)."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from auth_service.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    """One message. `kind` names the template (`password_reset`, ...); `data` carries what a test
    or a later HTML template needs (the reset link and token)."""

    to: str
    subject: str
    body: str
    kind: str
    data: dict[str, str] = field(default_factory=dict)


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...


class ConsoleMailer:
    """Development: log the whole mail (links included) as one JSON log line."""

    def __init__(self, sender: str) -> None:
        self._sender = sender

    async def send(self, mail: Mail) -> None:
        log.info("mail to %s: %s", mail.to, mail.subject, extra={"mail": {"from": self._sender, **asdict(mail)}})


class FileMailer:
    """Tests and development: append each mail as one JSON line to a file."""

    def __init__(self, path: Path, sender: str) -> None:
        self._path = path
        self._sender = sender

    async def send(self, mail: Mail) -> None:
        line = json.dumps({"from": self._sender, "sent_at": datetime.now(UTC).isoformat(), **asdict(mail)}, ensure_ascii=False)
        await asyncio.to_thread(self._append, line + "\n")

    def _append(self, line: str) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # One write in append mode: concurrent writers never interleave inside a line.
        with open(self._path, "a", encoding="utf-8") as out:
            out.write(line)


def create_mailer(settings: Settings) -> Mailer:
    if settings.mail_backend == "file":
        assert settings.mail_file_path is not None  # the settings refuse `file` without a path
        return FileMailer(settings.mail_file_path, settings.mail_from)
    return ConsoleMailer(settings.mail_from)
