import pytest
from wagtail.models import Page, Site

from plant_cms.core.models import HomePage

pytestmark = pytest.mark.django_db


def test_migrations_make_the_home_page_the_default_sites_root():
    site = Site.objects.get(is_default_site=True)

    assert isinstance(site.root_page.specific, HomePage)
    assert site.root_page.get_parent().is_root()


def test_home_page_replaced_wagtails_placeholder_page():
    # the tree holds the root and the home page only, and treebeard agrees with itself
    assert Page.objects.count() == 2
    assert Page.get_first_root_node().numchild == 1
    assert all(not problems for problems in Page.find_problems())
