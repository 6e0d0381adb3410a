"""Where members' photos live: a private file storage, outside MEDIA_ROOT (which nginx serves to
anyone), read back only through the owner-only API."""

from __future__ import annotations

from django.core.files.storage import FileSystemStorage, Storage, storages

STORAGE_ALIAS = "garden_photos"


class PrivateFileSystemStorage(FileSystemStorage):
    """A `FileSystemStorage` that has no public URL: asking for one is a bug."""

    def url(self, name: str | None) -> str:
        raise NotImplementedError("Garden photos have no public URL; serve them through the API.")


def garden_photo_storage() -> Storage:
    """The `STORAGES["garden_photos"]` backend (a callable, so migrations do not freeze a path)."""
    return storages[STORAGE_ALIAS]
