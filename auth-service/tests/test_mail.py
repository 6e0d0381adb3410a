"""The mail backends: `file` appends JSON lines, `console` logs."""

from __future__ import annotations

import asyncio
import json
import logging

from auth_service.mail import ConsoleMailer, FileMailer, Mail, create_mailer


async def test_file_mailer_appends_one_json_line_per_mail(tmp_path):
    path = tmp_path / "out" / "mail.jsonl"
    mailer = FileMailer(path, "Plant <no-reply@plant.test>")

    await asyncio.gather(*(mailer.send(Mail(to=f"u{i}@plant.test", subject="s", body="b ünïcode", kind="k", data={"i": str(i)})) for i in range(20)))

    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert sorted(line["to"] for line in lines) == sorted(f"u{i}@plant.test" for i in range(20))
    assert {line["from"] for line in lines} == {"Plant <no-reply@plant.test>"}
    assert lines[0]["body"] == "b ünïcode" and "sent_at" in lines[0]


async def test_console_mailer_logs_the_mail(caplog):
    with caplog.at_level(logging.INFO, logger="auth_service.mail"):
        await ConsoleMailer("x@plant.test").send(Mail(to="u@plant.test", subject="Hello", body="link", kind="k"))

    [record] = caplog.records
    assert record.mail["to"] == "u@plant.test" and record.mail["subject"] == "Hello"


def test_backend_follows_the_setting(settings):
    assert isinstance(create_mailer(settings), FileMailer)
    assert isinstance(create_mailer(settings.model_copy(update={"mail_backend": "console"})), ConsoleMailer)
