"""Blog models: derived fields, snippets, and what editors may not put in plain-text fields."""

import pytest
from django.core.exceptions import ValidationError

from plant_cms.blog.factories import make_category, make_post
from plant_cms.blog.models import WORDS_PER_MINUTE, BlogCategory

pytestmark = pytest.mark.django_db


def test_reading_time_is_computed_from_the_body_on_save():
    words = " ".join(["leaf"] * (WORDS_PER_MINUTE * 3))
    post = make_post(body=[("paragraph", f"<p>{words}</p>")])

    assert post.reading_time_minutes == 4  # three minutes of body plus title and standfirst, rounded up


def test_short_posts_take_at_least_a_minute():
    assert make_post(body=[]).reading_time_minutes == 1


def test_search_text_holds_the_readable_body_without_markup():
    post = make_post(intro="Standfirst.", body=[
        ("heading", {"text": "Roots", "level": "h2"}),
        ("paragraph", "<p>Check the <b>roots</b>&amp;soil</p>"),
        ("quote", {"text": "Water less.", "attribution": ""}),
    ])

    assert post.search_text == "Standfirst. Roots Check the roots &soil Water less."


def test_snippet_slug_is_derived_from_the_name():
    assert make_category("Pests & problems").slug == "pests-problems"


def test_category_names_are_unique():
    make_category("Garden")
    with pytest.raises(ValidationError):
        BlogCategory(name="Garden", slug="garden-2").full_clean()


@pytest.mark.parametrize("intro", ["<script>alert(1)</script>", "Nice <b>bold</b>", "<img src=x onerror=alert(1)>"])
def test_markup_in_the_standfirst_is_refused(intro):
    with pytest.raises(ValidationError) as refused:
        make_post(intro=intro)

    assert "intro" in refused.value.message_dict


def test_plain_angle_brackets_in_prose_are_fine():
    assert make_post(intro="Keep it at 5 < t < 25 °C & dry").intro == "Keep it at 5 < t < 25 °C & dry"
