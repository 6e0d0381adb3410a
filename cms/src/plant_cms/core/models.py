"""The page tree's root page and the user model."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from wagtail.admin.panels import FieldPanel
from wagtail.api import APIField
from wagtail.models import Page
from wagtail.search import index


class User(AbstractUser):
    """An editor's Wagtail account.

    Defined by the project from the first migration so that the link to the auth service's accounts
    (editors sign in with their platform account) can be added later without swapping user models.
    """


class HomePage(Page):
    """The root of the default Site: the one page directly under Wagtail's tree root.

    Every section of the site (blog, species catalogue) lives below it; a frontend reads it at
    `/api/v2/pages/` like any other page.
    """

    strapline = models.CharField(max_length=255, blank=True, help_text="One line under the site's name.")

    content_panels = Page.content_panels + [FieldPanel("strapline")]

    search_fields = Page.search_fields + [index.SearchField("strapline")]

    api_fields = [APIField("strapline")]

    parent_page_types = ["wagtailcore.Page"]
    # The section index pages (blog, species catalogue) are the only children.
    subpage_types = ["blog.BlogIndexPage", "species.PlantCatalogueIndexPage"]
    max_count = 1
