"""Erasing a member's garden (account deleted in the auth service)."""

from __future__ import annotations

import logging
import os
import uuid

from django.db import transaction

from plant_cms.garden.models import CareEvent, CareTask, GardenPlant, MemberProfile, PlantPhoto, ReminderDelivery
from plant_cms.garden.storage import garden_photo_storage

log = logging.getLogger("plant_cms.garden.erase")


def erase_member(owner_sub: uuid.UUID) -> dict[str, int]:
    """Delete every garden row of `owner_sub`, then the photo files. Idempotent.

    Rows go in one transaction; files are removed after it commits (a file left behind by a crash
    is unreachable: no row points at it, and the next erasure of the same member removes its folder).

    Returns:
        Rows deleted per model label.
    """
    storage = garden_photo_storage()
    with transaction.atomic():
        names = list(PlantPhoto.objects.filter(owner_sub=owner_sub).values_list("image", flat=True))
        counts = {
            "events": CareEvent.objects.filter(owner_sub=owner_sub).delete()[0],
            "tasks": CareTask.objects.filter(owner_sub=owner_sub).delete()[0],
            "photos": PlantPhoto.objects.filter(owner_sub=owner_sub).delete()[0],
            "plants": GardenPlant.objects.filter(owner_sub=owner_sub).delete()[0],
            "profiles": MemberProfile.objects.filter(owner_sub=owner_sub).delete()[0],
            "reminders": ReminderDelivery.objects.filter(owner_sub=owner_sub).delete()[0],
        }
    for name in names:
        try:
            storage.delete(name)
        except OSError:
            log.warning("garden photo file not deleted", extra={"file": name})
    _remove_member_folder(storage, str(owner_sub))
    return counts


def _remove_member_folder(storage: object, folder: str) -> None:
    """Delete whatever is left in the member's photo folder (files of an interrupted erasure)."""
    try:
        _, files = storage.listdir(folder)  # type: ignore[attr-defined]
    except (FileNotFoundError, NotADirectoryError, OSError):
        return
    for name in files:
        try:
            storage.delete(f"{folder}/{name}")  # type: ignore[attr-defined]
        except OSError:
            pass
    path = getattr(storage, "path", None)
    if path is not None:
        try:
            os.rmdir(path(folder))
        except OSError:
            pass
