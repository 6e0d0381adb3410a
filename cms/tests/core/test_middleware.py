import pytest

from plant_cms.core.middleware import route_label


@pytest.mark.parametrize(
    ("route", "label"),
    [
        ("api/v2/pages/<int:pk>/", "/api/v2/pages/<int:pk>/"),
        ("cms/login/", "/cms/login/"),
        (r"documents/^(\d+)/(.*)$", "/documents/{}/{}"),
        (r"images/^([^/]*)/(\d*)/([^/]*)/[^/]*$", "/images/{}/{}/{}/{}"),
        (r"^((?:[\w\-]+/)*)$", "/{}"),
        (r"feeds/^(?P<slug>[-\w]+)/\.xml$", "/feeds/{slug}/.xml"),
    ],
)
def test_route_label_reads_like_a_path_template(route, label):
    assert route_label(route) == label
