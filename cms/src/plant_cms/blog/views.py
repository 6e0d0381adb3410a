"""`/api/v1/blog/`: published posts with filters, and the authors, categories, series and tags
a frontend builds its filters from. Read-only and public."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from taggit.models import Tag

from plant_cms.blog import serializers as s
from plant_cms.blog.models import Author, BlogCategory, BlogPostPage, BlogPostTag, Series, author_data
from plant_cms.images import image_pool, stream_image_ids


class Pagination(PageNumberPagination):
    page_size = 10
    page_size_query_param = "page_size"
    max_page_size = 50


def published_posts() -> QuerySet[BlogPostPage]:
    """Live, public posts, newest first, with everything a listing shows loaded in bulk."""
    return (
        BlogPostPage.objects.live()
        .public()
        .select_related(*BlogPostPage.api_select_related)
        .prefetch_related(*BlogPostPage.api_prefetch_related)
        .order_by("-date", "-first_published_at", "-pk")
    )


def _live_post_filter(prefix: str) -> Q:
    return Q(**{f"{prefix}__live": True})


def _paginated(name: str, item: Any) -> Any:
    return inline_serializer(
        name=name,
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item,
        },
    )


class PostListView(APIView):
    """Published blog posts, newest first; filter by category, tag, author or series (slugs)."""

    authentication_classes: list[type] = []  # public: a token is neither needed nor checked
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[s.PostFilterSerializer],
        responses=_paginated("PaginatedBlogPostList", s.PostSerializer(many=True)),
        operation_id="blog_posts_list",
    )
    def get(self, request: Request) -> Response:
        query = s.PostFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        posts = published_posts()
        if "category" in filters:
            posts = posts.filter(categories__slug=filters["category"])
        if "author" in filters:
            posts = posts.filter(authors__slug=filters["author"])
        if "series" in filters:
            posts = posts.filter(series__slug=filters["series"]).order_by("series_position", "date", "pk")
        if "tag" in filters:
            posts = posts.filter(tagged_items__tag__slug=filters["tag"])
        paginator = Pagination()
        page = paginator.paginate_queryset(posts.distinct(), request, view=self)
        with image_pool(()):  # builds each image's renditions once per response
            data = s.PostSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)


class PostDetailView(APIView):
    """One published post by slug, with its body and related species."""

    authentication_classes: list[type] = []  # public: a token is neither needed nor checked
    permission_classes = [AllowAny]

    @extend_schema(responses=s.PostDetailSerializer, operation_id="blog_posts_retrieve")
    def get(self, request: Request, slug: str) -> Response:
        if request.query_params:
            s.StrictQuerySerializer(data=request.query_params).is_valid(raise_exception=True)
        post = published_posts().filter(slug=slug).first()
        if post is None:
            raise Http404("No published post has this slug.")
        with image_pool(stream_image_ids([post], BlogPostPage.api_stream_fields)):
            data = s.PostDetailSerializer(post, context={"request": request}).data
        return Response(data)


class _CountedListView(APIView):
    authentication_classes: list[type] = []  # public: a token is neither needed nor checked
    permission_classes = [AllowAny]

    def get_queryset(self) -> QuerySet[Any]:
        raise NotImplementedError

    def serialize(self, item: Any) -> dict[str, Any]:
        raise NotImplementedError

    def get(self, request: Request) -> Response:
        s.PageQuerySerializer(data=request.query_params).is_valid(raise_exception=True)
        paginator = Pagination()
        paginator.max_page_size = 100
        page = paginator.paginate_queryset(self.get_queryset(), request, view=self)
        return paginator.get_paginated_response([self.serialize(item) for item in page])


class AuthorListView(_CountedListView):
    """Authors with their number of published posts."""

    def get_queryset(self) -> QuerySet[Author]:
        return Author.objects.select_related("portrait").prefetch_related("portrait__renditions").annotate(
            post_count=Count("posts", filter=_live_post_filter("posts"), distinct=True)
        ).order_by("name")

    def serialize(self, author: Author) -> dict[str, Any]:
        return {**author_data(author), "post_count": author.post_count}

    @extend_schema(parameters=[s.PageQuerySerializer], responses=_paginated("PaginatedBlogAuthorList", s.AuthorSerializer(many=True)))
    def get(self, request: Request) -> Response:
        return super().get(request)


class CategoryListView(_CountedListView):
    """Categories with their number of published posts."""

    def get_queryset(self) -> QuerySet[BlogCategory]:
        return BlogCategory.objects.annotate(post_count=Count("posts", filter=_live_post_filter("posts"), distinct=True)).order_by("name")

    def serialize(self, category: BlogCategory) -> dict[str, Any]:
        return {"id": category.pk, "name": category.name, "slug": category.slug, "description": category.description, "post_count": category.post_count}

    @extend_schema(parameters=[s.PageQuerySerializer], responses=_paginated("PaginatedBlogCategoryList", s.CategorySerializer(many=True)))
    def get(self, request: Request) -> Response:
        return super().get(request)


class SeriesListView(_CountedListView):
    """Series with their number of published posts."""

    def get_queryset(self) -> QuerySet[Series]:
        return Series.objects.annotate(post_count=Count("posts", filter=_live_post_filter("posts"), distinct=True)).order_by("title")

    def serialize(self, series: Series) -> dict[str, Any]:
        return {"id": series.pk, "title": series.title, "slug": series.slug, "description": series.description, "post_count": series.post_count}

    @extend_schema(parameters=[s.PageQuerySerializer], responses=_paginated("PaginatedBlogSeriesList", s.SeriesSerializer(many=True)))
    def get(self, request: Request) -> Response:
        return super().get(request)


class TagListView(_CountedListView):
    """Tags used by published posts, most used first."""

    def get_queryset(self) -> QuerySet[Tag]:
        live = BlogPostTag.objects.filter(content_object__live=True)
        return (
            Tag.objects.filter(pk__in=live.values("tag_id"))
            .annotate(post_count=Count("blog_blogposttag_items", filter=Q(blog_blogposttag_items__content_object__live=True)))
            .order_by("-post_count", "name")
        )

    def serialize(self, tag: Tag) -> dict[str, Any]:
        return {"name": tag.name, "slug": tag.slug, "post_count": tag.post_count}

    @extend_schema(
        parameters=[s.PageQuerySerializer],
        responses=_paginated("PaginatedBlogTagList", s.TagSerializer(many=True)),
    )
    def get(self, request: Request) -> Response:
        return super().get(request)
