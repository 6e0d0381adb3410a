"""The blog: posts, the pages that list them, and the snippets that classify them.

Tree: HomePage → BlogIndexPage → BlogPostPage, with BlogCategoryPage children of the index as
archive pages (one per category; they list posts, they do not contain them).
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.text import slugify
from modelcluster.contrib.taggit import ClusterTaggableManager
from modelcluster.fields import ParentalKey, ParentalManyToManyField
from rest_framework import serializers
from taggit.models import TaggedItemBase
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.api import APIField
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page
from wagtail.search import index
from wagtail.snippets.models import register_snippet

from plant_cms.blog.blocks import PostBodyBlock, body_text
from plant_cms.images import ImageRenditionsField, image_representation
from plant_cms.plain_text import reject_markup
from plant_cms.preview import HeadlessPreviewMixin
from plant_cms.species.models import SpeciesPage

WORDS_PER_MINUTE = 220  # adult silent reading of non-fiction (Brysbaert 2019: 238; a little slower for plant names)


class SlugSnippet(models.Model):
    """Snippets the API filters by: a unique slug, derived from the name when left blank."""

    slug = models.SlugField(max_length=80, unique=True, blank=True)

    plain_text_fields: tuple[str, ...] = ()

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        reject_markup(self, self.plain_text_fields)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.slug:
            self.slug = slugify(str(self))[:80]
        super().save(*args, **kwargs)


class Author(SlugSnippet):
    """A person who writes for the blog; posts list their authors (many-to-many)."""

    name = models.CharField(max_length=120)
    role = models.CharField(max_length=120, blank=True, help_text="e.g. Houseplant editor")
    bio = models.TextField(blank=True, max_length=1000)
    portrait = models.ForeignKey("wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    panels = [FieldPanel("name"), FieldPanel("slug"), FieldPanel("role"), FieldPanel("bio"), FieldPanel("portrait")]
    plain_text_fields = ("name", "role", "bio")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BlogCategory(SlugSnippet):
    """A subject area (Care guides, Pests, Garden design, ...); a post has one or more."""

    name = models.CharField(max_length=80, unique=True)
    description = models.TextField(blank=True, max_length=500)

    panels = [FieldPanel("name"), FieldPanel("slug"), FieldPanel("description")]
    plain_text_fields = ("name", "description")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "blog categories"

    def __str__(self) -> str:
        return self.name


class Series(SlugSnippet):
    """An ordered run of posts (e.g. "Houseplants for beginners"); a post belongs to at most one."""

    title = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True, max_length=500)

    panels = [FieldPanel("title"), FieldPanel("slug"), FieldPanel("description")]
    plain_text_fields = ("title", "description")

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "series"

    def __str__(self) -> str:
        return self.title


register_snippet(Author)
register_snippet(BlogCategory)
register_snippet(Series)


class BlogPostTag(TaggedItemBase):
    """The through model of a post's free tags (django-taggit, kept in the page's revision)."""

    content_object = ParentalKey("blog.BlogPostPage", on_delete=models.CASCADE, related_name="tagged_items")


# --- API serializers (each reads prefetched rows only: see BlogPostPage.api_prefetch_related) ------


class _ReadOnly(serializers.Field):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)


def author_data(author: Author) -> dict[str, Any]:
    return {"id": author.pk, "name": author.name, "slug": author.slug, "role": author.role, "bio": author.bio, "portrait": image_representation(author.portrait)}


def category_data(category: BlogCategory) -> dict[str, Any]:
    return {"id": category.pk, "name": category.name, "slug": category.slug}


def series_data(series: Series) -> dict[str, Any]:
    return {"id": series.pk, "title": series.title, "slug": series.slug}


class AuthorsField(_ReadOnly):
    def get_attribute(self, instance: Any) -> Any:
        return instance.authors.all()

    def to_representation(self, value: Any) -> list[dict[str, Any]]:
        return [author_data(a) for a in value]


class CategoriesField(_ReadOnly):
    def get_attribute(self, instance: Any) -> Any:
        return instance.categories.all()

    def to_representation(self, value: Any) -> list[dict[str, Any]]:
        return [category_data(c) for c in value]


class SeriesField(_ReadOnly):
    def to_representation(self, value: Series) -> dict[str, Any]:
        return series_data(value)


class CategoryField(_ReadOnly):
    def to_representation(self, value: BlogCategory) -> dict[str, Any]:
        return category_data(value)


class TagsField(_ReadOnly):
    """Tag names, sorted (Wagtail's own TagsField queries once per page)."""

    def get_attribute(self, instance: Any) -> Any:
        return instance.tagged_items.all()

    def to_representation(self, value: Any) -> list[str]:
        return sorted(item.tag.name for item in value)


class RelatedSpeciesField(_ReadOnly):
    def get_attribute(self, instance: Any) -> Any:
        return instance.related_species.all()

    def to_representation(self, value: Any) -> list[dict[str, Any]]:
        return [
            {"id": page.pk, "title": page.title, "slug": page.slug, "scientific_name": page.species.scientific_name}
            for page in value
            if page.live
        ]


# --- Pages ------------------------------------------------------------------------------------------


class BlogIndexPage(HeadlessPreviewMixin, Page):
    """The blog's landing page (one per site). Children: posts and category archive pages."""

    intro = RichTextField(blank=True, features=["bold", "italic", "link"])

    content_panels = Page.content_panels + [FieldPanel("intro")]

    search_fields = Page.search_fields + [index.SearchField("intro")]

    api_fields = [APIField("intro")]

    parent_page_types = ["core.HomePage"]
    subpage_types = ["blog.BlogPostPage", "blog.BlogCategoryPage"]
    max_count = 1


class BlogCategoryPage(HeadlessPreviewMixin, Page):
    """The archive of one `BlogCategory`: a frontend lists `/api/v1/blog/posts/?category=<slug>`."""

    category = models.OneToOneField(BlogCategory, on_delete=models.PROTECT, related_name="page")
    intro = RichTextField(blank=True, features=["bold", "italic", "link"])

    content_panels = Page.content_panels + [FieldPanel("category"), FieldPanel("intro")]

    search_fields = Page.search_fields + [index.SearchField("intro")]

    api_fields = [APIField("category", serializer=CategoryField()), APIField("intro")]

    parent_page_types = ["blog.BlogIndexPage"]
    subpage_types: list[str] = []

    api_select_related = ["category"]


class BlogPostPage(HeadlessPreviewMixin, Page):
    """A blog post.

    Relations: `authors` and `categories` (snippets, many-to-many), an optional `series` (snippet)
    with a position in it, free `tags`, and `related_species` (SpeciesPage, many-to-many) that a
    frontend shows as "plants in this post". `reading_time_minutes` and `search_text` are derived
    from the body on every save.
    """

    date = models.DateField("publish date", default=timezone.localdate, db_index=True)
    intro = models.TextField(max_length=400, help_text="The standfirst: one or two sentences shown in listings.")
    hero_image = models.ForeignKey("wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    hero_credit = models.CharField(max_length=250, blank=True)
    body = StreamField(PostBodyBlock(), use_json_field=True)
    authors = ParentalManyToManyField(Author, blank=True, related_name="posts")
    categories = ParentalManyToManyField(BlogCategory, blank=True, related_name="posts")
    series = models.ForeignKey(Series, null=True, blank=True, on_delete=models.SET_NULL, related_name="posts")
    series_position = models.PositiveSmallIntegerField(null=True, blank=True)
    tags = ClusterTaggableManager(through=BlogPostTag, blank=True)
    related_species = ParentalManyToManyField("species.SpeciesPage", blank=True, related_name="blog_posts")
    reading_time_minutes = models.PositiveSmallIntegerField(default=1, editable=False)
    search_text = models.TextField(blank=True, editable=False)
    search_vector = SearchVectorField(null=True, editable=False)  # to_tsvector('english', search_text), kept on save

    content_panels = Page.content_panels + [
        FieldPanel("intro"),
        MultiFieldPanel([FieldPanel("hero_image"), FieldPanel("hero_credit")], heading="Hero image"),
        FieldPanel("body"),
        MultiFieldPanel(
            [
                FieldPanel("date"),
                FieldPanel("authors"),
                FieldPanel("categories"),
                FieldRowPanel([FieldPanel("series"), FieldPanel("series_position")]),
                FieldPanel("tags"),
                FieldPanel("related_species"),
            ],
            heading="Classification",
        ),
    ]

    search_fields = Page.search_fields + [
        index.SearchField("intro"),
        index.SearchField("search_text"),
        index.FilterField("date"),
        index.RelatedFields("tags", [index.SearchField("name")]),
    ]

    api_fields = [
        APIField("date"),
        APIField("intro"),
        APIField("hero_image", serializer=ImageRenditionsField()),
        APIField("hero_credit"),
        APIField("body"),
        APIField("authors", serializer=AuthorsField()),
        APIField("categories", serializer=CategoriesField()),
        APIField("series", serializer=SeriesField()),
        APIField("series_position"),
        APIField("tags", serializer=TagsField()),
        APIField("related_species", serializer=RelatedSpeciesField()),
        APIField("reading_time_minutes"),
    ]

    parent_page_types = ["blog.BlogIndexPage"]
    subpage_types: list[str] = []

    # Read by the pages API and /api/v1/blog/: what one listing loads in a constant number of queries.
    api_select_related = ["hero_image", "series"]
    api_prefetch_related = [
        "hero_image__renditions",
        "authors__portrait__renditions",
        "categories",
        "tagged_items__tag",
        # Only what the field shows: a whole species page (care guide, overview) is costly to load.
        Prefetch(
            "related_species",
            queryset=SpeciesPage.objects.select_related("species").only("id", "title", "slug", "live", "species__scientific_name"),
        ),
    ]
    api_stream_fields = ["body"]

    class Meta:
        indexes = [
            models.Index(fields=["-date"], name="blog_post_date_desc"),
            GinIndex(fields=["search_vector"], name="blog_post_search_vector"),  # site search (plant_cms.search)
        ]

    def clean(self) -> None:
        super().clean()
        reject_markup(self, ("intro", "hero_credit"))

    def save(self, *args: Any, **kwargs: Any) -> None:
        text = body_text(self.body)
        self.search_text = f"{self.intro} {text}".strip()
        words = len(f"{self.title} {self.search_text}".split())
        self.reading_time_minutes = max(1, math.ceil(words / WORDS_PER_MINUTE))
        super().save(*args, **kwargs)
        # Parsed once here rather than on every search; derived from the row just written.
        BlogPostPage.objects.filter(pk=self.pk).update(search_vector=SearchVector("search_text", config="english"))
