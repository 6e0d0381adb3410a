"""Editors sign in to the Wagtail admin with their platform account (no local password)."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.db import transaction

from plant_cms.accounts.auth_service import SignedIn, SignInError, sign_in
from plant_cms.accounts.groups import MANAGED_GROUPS, STAFF_ROLES, SUPERUSER_ROLES, groups_for

log = logging.getLogger("plant_cms.accounts")

# Set on the request when sign-in failed for a reason the login form should say (not a bad password).
SIGN_IN_ERROR_ATTR = "_platform_sign_in_error"


class PlatformAccountBackend(ModelBackend):
    """`authenticate(request, username=<email>, password=...)` through the auth service.

    Only accounts with the `editor` or `admin` role get in; they become (or update) a local
    `core.User` named after their `sub`, with an unusable password and the Wagtail groups of their
    roles. Members get the same "email or password incorrect" answer as a wrong password.
    Permissions and `get_user` are `ModelBackend`'s (inactive users are refused).
    """

    def authenticate(self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any) -> Any:
        email = username if username is not None else kwargs.get("email")
        if not email or not password:
            return None
        try:
            signed_in = sign_in(email, password)
        except SignInError as exc:
            if request is not None and exc.reason != "invalid_credentials":
                setattr(request, SIGN_IN_ERROR_ATTR, exc)
            return None
        claims = signed_in.claims
        if claims.is_service or not STAFF_ROLES.intersection(claims.roles):
            log.info("platform account without an editor role refused at the admin sign-in")
            return None
        user = sync_editor(signed_in)
        return user if self.user_can_authenticate(user) else None


@transaction.atomic
def sync_editor(signed_in: SignedIn) -> Any:
    """Create or update the local user of a platform editor, its groups from its roles.

    A user deactivated locally (by an admin in Wagtail) stays deactivated, and is not updated.
    """
    User = get_user_model()
    claims = signed_in.claims
    user, created = User.objects.select_for_update().get_or_create(username=claims.sub, defaults={"email": signed_in.email})
    if not user.is_active:
        return user
    roles = set(claims.roles)
    user.email = signed_in.email
    if signed_in.display_name:
        user.first_name = signed_in.display_name[:150]
    user.is_superuser = bool(SUPERUSER_ROLES & roles)
    user.is_staff = user.is_superuser
    user.set_unusable_password()  # whatever happened before, the CMS holds no password
    user.save()
    wanted = groups_for(roles)
    managed = {group.name: group for group in Group.objects.filter(name__in=MANAGED_GROUPS)}
    user.groups.remove(*[group for name, group in managed.items() if name not in wanted])
    user.groups.add(*[group for name, group in managed.items() if name in wanted])
    if created:
        log.info("platform editor signed in for the first time", extra={"sub": claims.sub})
    return user


def forget_editor(sub: str) -> int:
    """An account deleted in the auth service: its local user, if any, is deactivated and stripped
    of personal data (kept, not deleted, so page revisions keep a valid author).

    Returns:
        1 when a local user was found, else 0.
    """
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=sub).first()
        if user is None:
            return 0
        user.is_active = False
        user.is_superuser = user.is_staff = False
        user.email = ""
        user.first_name = user.last_name = ""
        user.set_unusable_password()
        user.save()
        user.groups.clear()
        user.user_permissions.clear()
    return 1
