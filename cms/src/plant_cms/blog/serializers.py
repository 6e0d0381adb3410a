"""Shapes of `/api/v1/blog/`: query validation and the JSON of posts, authors, categories, series."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from plant_cms.blog.models import BlogPostPage, author_data, category_data, series_data
from plant_cms.images import image_representation

SLUG = {"max_length": 80, "allow_blank": False}


class StrictQuerySerializer(serializers.Serializer):
    """Query-string validation that refuses parameters it does not declare."""

    def to_internal_value(self, data: Any) -> Any:
        unknown = set(data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: ["Unknown query parameter."] for name in sorted(unknown)})
        return super().to_internal_value(data)


class PostFilterSerializer(StrictQuerySerializer):
    category = serializers.SlugField(required=False, **SLUG)
    tag = serializers.SlugField(required=False, **SLUG)
    author = serializers.SlugField(required=False, **SLUG)
    series = serializers.SlugField(required=False, **SLUG)
    page = serializers.IntegerField(required=False, min_value=1, max_value=10_000)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=50)


class PageQuerySerializer(StrictQuerySerializer):
    page = serializers.IntegerField(required=False, min_value=1, max_value=10_000)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100)


class RenditionSerializer(serializers.Serializer):
    url = serializers.URLField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()


class ImageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    alt = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    renditions = serializers.DictField(child=RenditionSerializer(), help_text="By name: thumbnail, small, medium, large, social.")


class AuthorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.SlugField()
    role = serializers.CharField()
    bio = serializers.CharField()
    portrait = ImageSerializer(allow_null=True)
    post_count = serializers.IntegerField(required=False)


class CategorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.SlugField()
    description = serializers.CharField(required=False)
    post_count = serializers.IntegerField(required=False)


class SeriesSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    slug = serializers.SlugField()
    description = serializers.CharField(required=False)
    post_count = serializers.IntegerField(required=False)


class TagSerializer(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.SlugField()
    post_count = serializers.IntegerField()


class RelatedSpeciesSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    slug = serializers.SlugField()
    scientific_name = serializers.CharField()


class PostSerializer(serializers.Serializer):
    """A post in a listing (no body)."""

    id = serializers.IntegerField()
    slug = serializers.SlugField()
    title = serializers.CharField()
    url = serializers.SerializerMethodField()
    date = serializers.DateField()
    first_published_at = serializers.DateTimeField()
    intro = serializers.CharField()
    reading_time_minutes = serializers.IntegerField()
    hero_image = serializers.SerializerMethodField()
    hero_credit = serializers.CharField()
    authors = serializers.SerializerMethodField()
    categories = serializers.SerializerMethodField()
    series = serializers.SerializerMethodField()
    series_position = serializers.IntegerField(allow_null=True)
    tags = serializers.SerializerMethodField()

    def get_url(self, post: BlogPostPage) -> str | None:
        """The post's path on the site (e.g. /blog/repotting-101/)."""
        return post.get_url(request=self.context.get("request"))

    @extend_schema_field(ImageSerializer(allow_null=True))
    def get_hero_image(self, post: BlogPostPage) -> dict[str, Any] | None:
        return image_representation(post.hero_image)

    @extend_schema_field(AuthorSerializer(many=True))
    def get_authors(self, post: BlogPostPage) -> list[dict[str, Any]]:
        return [author_data(a) for a in post.authors.all()]

    @extend_schema_field(CategorySerializer(many=True))
    def get_categories(self, post: BlogPostPage) -> list[dict[str, Any]]:
        return [category_data(c) for c in post.categories.all()]

    @extend_schema_field(SeriesSerializer(allow_null=True))
    def get_series(self, post: BlogPostPage) -> dict[str, Any] | None:
        return series_data(post.series) if post.series else None

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tags(self, post: BlogPostPage) -> list[str]:
        return sorted(item.tag.name for item in post.tagged_items.all())


class PostDetailSerializer(PostSerializer):
    """A post with its body (blocks with ready-to-render HTML and image renditions)."""

    body = serializers.SerializerMethodField()
    related_species = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.DictField(), help_text='Blocks: {"type", "value", "id"}.'))
    def get_body(self, post: BlogPostPage) -> Any:
        return post.body.stream_block.get_api_representation(post.body, context=self.context)

    @extend_schema_field(RelatedSpeciesSerializer(many=True))
    def get_related_species(self, post: BlogPostPage) -> list[dict[str, Any]]:
        return [
            {"id": p.pk, "title": p.title, "slug": p.slug, "scientific_name": p.species.scientific_name}
            for p in post.related_species.all()
            if p.live
        ]
