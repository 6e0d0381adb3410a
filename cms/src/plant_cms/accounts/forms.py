"""The Wagtail admin's sign-in form, asking for the platform account's email."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms.auth import LoginForm

from plant_cms.accounts.backends import SIGN_IN_ERROR_ATTR


class PlatformLoginForm(LoginForm):
    """`WAGTAILADMIN_USER_LOGIN_FORM`: the email and password of the platform account."""

    error_messages = {
        **LoginForm.error_messages,
        "invalid_login": _("Your email and password didn't match an editor account. Please try again."),
        "throttled": _("Too many sign-in attempts. Please wait %(minutes)s before trying again."),
        "unavailable": _("Sign-in is unavailable right now. Please try again in a moment."),
    }

    def __init__(self, request=None, *args, **kwargs) -> None:
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = _("Email")
        self.fields["username"].max_length = 320
        self.fields["username"].widget = forms.EmailInput(attrs={"placeholder": _("Enter your email"), "autofocus": "", "autocomplete": "email"})

    def get_invalid_login_error(self) -> forms.ValidationError:
        error = getattr(self.request, SIGN_IN_ERROR_ATTR, None)
        if error is not None and error.reason == "throttled":
            seconds = error.retry_after or 60
            minutes = f"{max(1, round(seconds / 60))} minute(s)"
            return forms.ValidationError(self.error_messages["throttled"], code="throttled", params={"minutes": minutes})
        if error is not None and error.reason == "unavailable":
            return forms.ValidationError(self.error_messages["unavailable"], code="unavailable")
        return forms.ValidationError(self.error_messages["invalid_login"], code="invalid_login")
