"""Who may use the garden: members, by their platform access token."""

from __future__ import annotations

import uuid
from typing import Any

from plant_shared.django_auth import PlatformUser
from rest_framework.permissions import BasePermission


class IsMember(BasePermission):
    """A user's access token (not a service token, not an editor's admin session).

    Without a token the answer is 401 (DRF turns a failed check of an anonymous request into
    `NotAuthenticated`); with another kind of credential it is 403.
    """

    message = "This endpoint needs a member's access token."
    code = "member_token_required"

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return isinstance(user, PlatformUser) and not user.is_service and isinstance(user.id, uuid.UUID)
