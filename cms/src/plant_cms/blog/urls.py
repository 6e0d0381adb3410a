"""`/api/v1/blog/` (mounted by plant_cms.urls)."""

from django.urls import path

from plant_cms.blog import views

app_name = "blog"

urlpatterns = [
    path("posts/", views.PostListView.as_view(), name="post-list"),
    path("posts/<slug:slug>/", views.PostDetailView.as_view(), name="post-detail"),
    path("authors/", views.AuthorListView.as_view(), name="author-list"),
    path("categories/", views.CategoryListView.as_view(), name="category-list"),
    path("series/", views.SeriesListView.as_view(), name="series-list"),
    path("tags/", views.TagListView.as_view(), name="tag-list"),
]
