"""Factories for tests (and shells): snippets and published blog posts."""

from __future__ import annotations

from typing import Any

from django.utils.text import slugify
from wagtail.models import Site

from plant_cms.blog.models import Author, BlogCategory, BlogIndexPage, BlogPostPage, Series


def blog_index() -> BlogIndexPage:
    existing = BlogIndexPage.objects.first()
    if existing:
        return existing
    home = Site.objects.get(is_default_site=True).root_page
    page = BlogIndexPage(title="Blog", slug="blog")
    home.add_child(instance=page)
    page.save_revision().publish()
    return page


def make_author(name: str = "Mara Lindqvist", **fields: Any) -> Author:
    return Author.objects.get_or_create(slug=slugify(name), defaults={"name": name, **fields})[0]


def make_category(name: str = "Houseplant care") -> BlogCategory:
    return BlogCategory.objects.get_or_create(slug=slugify(name), defaults={"name": name})[0]


def make_series(title: str = "Houseplants for beginners") -> Series:
    return Series.objects.get_or_create(slug=slugify(title), defaults={"title": title})[0]


def make_post(
    title: str = "Watering houseplants",
    *,
    body: list[Any] | None = None,
    authors: list[Author] | None = None,
    categories: list[BlogCategory] | None = None,
    tags: list[str] | None = None,
    related_species: list[Any] | None = None,
    publish: bool = True,
    **fields: Any,
) -> BlogPostPage:
    post = BlogPostPage(
        title=title,
        slug=fields.pop("slug", slugify(title)),
        intro=fields.pop("intro", "How and when to water."),
        body=body if body is not None else [("heading", {"text": "Check the compost", "level": "h2"}), ("paragraph", "<p>Push a finger <b>in</b>.</p>")],
        **fields,
    )
    post.authors = authors or []
    post.categories = categories or []
    post.related_species = related_species or []
    if tags:
        post.tags.add(*tags)
    post.live = publish  # a draft is never live, not even before its first publication
    blog_index().add_child(instance=post)
    revision = post.save_revision()
    if publish:
        revision.publish()
        post.refresh_from_db()
    return post
