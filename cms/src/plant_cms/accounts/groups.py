"""The Wagtail groups platform roles map to, and what they may do.

- `editor` → "Editors": the admin, and on every page: add, edit, publish, lock; images and
  documents in every collection; the editorial snippets (species records, blog authors,
  categories, series).
- `admin` → "Moderators" and superuser: everything, including users and settings.

The groups and their page and collection permissions are created by the migration
`accounts.0001_editor_groups`; snippet permissions are granted after every `migrate`
(`grant_editorial_permissions`), because those models' permissions only exist once their apps
have migrated.
"""

from __future__ import annotations

from typing import Any

EDITORS = "Editors"
MODERATORS = "Moderators"
MANAGED_GROUPS = (EDITORS, MODERATORS)
ROLE_GROUPS: dict[str, tuple[str, ...]] = {"editor": (EDITORS,), "admin": (MODERATORS,)}
SUPERUSER_ROLES = frozenset({"admin"})
STAFF_ROLES = frozenset(ROLE_GROUPS)

# Apps whose models editors manage as snippets.
EDITORIAL_APPS = ("species", "blog")
SNIPPET_ACTIONS = ("add", "change", "delete", "view", "publish", "lock", "unlock")


def groups_for(roles: Any) -> set[str]:
    return {group for role in roles for group in ROLE_GROUPS.get(role, ())}


def grant_editorial_permissions(sender: Any = None, apps: Any = None, using: str = "default", **_: Any) -> None:
    """Give Editors and Moderators every add/change/delete/view (and publish/lock) permission on
    the editorial apps' models. Idempotent; runs after each app's post_migrate."""
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    try:
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")
    except LookupError:
        return
    permissions = [
        p for p in Permission.objects.using(using).filter(content_type__app_label__in=EDITORIAL_APPS)
        if p.codename.split("_", 1)[0] in SNIPPET_ACTIONS
    ]
    if not permissions:
        return
    for group in Group.objects.using(using).filter(name__in=MANAGED_GROUPS):
        group.permissions.add(*permissions)
