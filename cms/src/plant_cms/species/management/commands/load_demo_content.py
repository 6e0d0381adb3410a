"""Load the demo catalogue and blog the local stack uses: 30 species pages with care guides and 10
posts, with illustrations generated here (Pillow), never downloaded.

Idempotent: records and pages that already exist (by scientific name, by slug) are left as they
are, so it is safe to run on every start of the stack.
"""

from __future__ import annotations

import colorsys
import datetime
import hashlib
import io
import uuid
from typing import Any

from django.core.files.images import ImageFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.text import slugify
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont
from wagtail.images import get_image_model
from wagtail.models import Collection, Page, Site

from plant_cms.blog import demo_data as blog_data
from plant_cms.blog.models import Author, BlogCategory, BlogCategoryPage, BlogIndexPage, BlogPostPage, Series
from plant_cms.images import RENDITIONS
from plant_cms.species import demo_data as species_data
from plant_cms.species.models import CommonName, PlantCatalogueIndexPage, PlantCategoryPage, PlantSpecies, SpeciesPage, Synonym

CREDIT = "Illustration generated for Plant Community"
SIMILAR = [
    ("Epipremnum aureum", "Philodendron hederaceum"),
    ("Crassula ovata", "Echeveria elegans"),
    ("Spathiphyllum wallisii", "Zamioculcas zamiifolia"),
    ("Lavandula angustifolia", "Salvia rosmarinus"),
    ("Monstera deliciosa", "Philodendron hederaceum"),
]


def illustration(title: str, subtitle: str, size: tuple[int, int] = (1200, 800)) -> bytes:
    """A JPEG: a two-colour gradient picked from the title's hash, leaf shapes, and the title."""
    digest = hashlib.sha256(title.encode()).digest()
    hue = digest[0] / 255
    top = tuple(int(c * 255) for c in colorsys.hsv_to_rgb((0.22 + hue * 0.2) % 1, 0.45, 0.85))
    bottom = tuple(int(c * 255) for c in colorsys.hsv_to_rgb((0.30 + hue * 0.15) % 1, 0.75, 0.35))
    width, height = size
    image = PILImage.new("RGB", size, top)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / height
        draw.line([(0, y), (width, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom)))
    for i in range(7):  # leaves: rotated ellipses with a midrib
        cx = 100 + digest[i + 1] * (width - 200) // 255
        cy = 80 + digest[i + 9] * (height - 260) // 255
        length, breadth = 120 + digest[i + 17] % 140, 50 + digest[i + 24] % 50
        leaf = PILImage.new("RGBA", (length * 2, length * 2), (0, 0, 0, 0))
        leaf_draw = ImageDraw.Draw(leaf)
        shade = tuple(min(255, c + 30) for c in bottom) + (150,)
        leaf_draw.ellipse([length - breadth, 0, length + breadth, length * 2], fill=shade)
        leaf_draw.line([(length, 10), (length, length * 2 - 10)], fill=top + (180,), width=4)
        leaf = leaf.rotate(digest[i + 3] % 180, expand=False)
        image.paste(leaf, (cx - length, cy - length), leaf)
    draw.rectangle([0, height - 190, width, height], fill=(20, 35, 25))
    draw.text((48, height - 170), title, font=ImageFont.load_default(size=64), fill=(245, 245, 235))
    draw.text((48, height - 88), subtitle, font=ImageFont.load_default(size=34), fill=(200, 215, 190))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


class Command(BaseCommand):
    help = "Load the demo species catalogue and blog (idempotent; generated illustrations)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-renditions", action="store_true", help="Do not pre-generate image renditions.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.made = {"species": 0, "species pages": 0, "posts": 0, "images": 0}
        self.renditions = not options["no_renditions"]
        with transaction.atomic():
            self.collection = self._collection()
            home = Site.objects.get(is_default_site=True).root_page.specific
            catalogue = self._catalogue(home)
            self._species(catalogue)
            self._blog(home)
        self.stdout.write(self.style.SUCCESS("Demo content: " + ", ".join(f"{n} {k} created" for k, n in self.made.items())))

    # --- helpers ------------------------------------------------------------------------------

    def _collection(self) -> Collection:
        existing = Collection.objects.filter(name="Demo content").first()
        return existing or Collection.get_first_root_node().add_child(name="Demo content")

    def _image(self, title: str, subtitle: str, alt: str) -> Any:
        Image = get_image_model()
        image = Image.objects.filter(title=title, collection=self.collection).first()
        if image is None:
            data = illustration(title, subtitle)
            image = Image(title=title, collection=self.collection, description=alt)
            image.file = ImageFile(io.BytesIO(data), name=f"{slugify(title)[:60]}.jpg")
            image.save()
            self.made["images"] += 1
        if self.renditions:
            image.get_renditions(*RENDITIONS.values())
        return image

    @staticmethod
    def _child(parent: Page, model: type, slug: str) -> Any:
        page = parent.get_children().filter(slug=slug).first()
        return page.specific if page else None

    def _publish(self, parent: Page, page: Page) -> Page:
        parent.add_child(instance=page)
        page.save_revision().publish()
        return page

    # --- catalogue ----------------------------------------------------------------------------

    def _catalogue(self, home: Page) -> PlantCatalogueIndexPage:
        catalogue = self._child(home, PlantCatalogueIndexPage, "plants")
        if catalogue is None:
            catalogue = self._publish(home, PlantCatalogueIndexPage(
                title="Plants", slug="plants",
                intro="<p>Care guides for houseplants and garden plants, with toxicity for people and pets.</p>",
            ))
        self.categories = {}
        for slug, title, intro in species_data.CATEGORIES:
            page = self._child(catalogue, PlantCategoryPage, slug)
            if page is None:
                page = self._publish(catalogue, PlantCategoryPage(title=title, slug=slug, intro=f"<p>{intro}</p>"))
            self.categories[slug] = page
        return catalogue

    def _species(self, catalogue: PlantCatalogueIndexPage) -> None:
        for item in species_data.SPECIES:
            species = PlantSpecies.objects.filter(scientific_name=item["scientific_name"]).first()
            if species is None:
                people, pets, notes = item["toxicity"]
                species = PlantSpecies(
                    scientific_name=item["scientific_name"], authorship=item["authorship"], family=item["family"],
                    genus=item["scientific_name"].split()[0], gbif_key=item.get("gbif_key"), powo_id=item.get("powo_id", ""),
                    toxicity_people=people, toxicity_pets=pets, toxicity_notes=notes,
                )
                species.common_names = [CommonName(language=lang, name=name) for lang, names in item["common_names"].items() for name in names]
                species.synonyms = [Synonym(name=name, authorship=author) for name, author in item["synonyms"]]
                species.save()
                self.made["species"] += 1
            if SpeciesPage.objects.filter(species=species).exists():
                continue
            english = item["common_names"]["en"][0]
            image = self._image(item["scientific_name"], english, f"Illustration: {english} ({item['scientific_name']})")
            page = SpeciesPage(
                title=item["scientific_name"], slug=slugify(item["scientific_name"]), species=species,
                overview=f"<p>{item['overview']}</p>", hero_image=image, hero_credit=CREDIT,
                difficulty=item["difficulty"], care_guide=species_data.care_guide(item),
                search_description=f"{english}: care guide, toxicity and common problems.",
            )
            self._publish(self.categories[item["category"]], page)
            self.made["species pages"] += 1
        for a, b in SIMILAR:
            page = SpeciesPage.objects.filter(species__scientific_name=a).first()
            other = PlantSpecies.objects.filter(scientific_name=b).first()
            if page and other and not page.similar_species.filter(pk=other.pk).exists():
                page.similar_species.add(other)
                page.save_revision().publish()

    # --- blog ---------------------------------------------------------------------------------

    def _blog(self, home: Page) -> None:
        index = self._child(home, BlogIndexPage, "blog")
        if index is None:
            index = self._publish(home, BlogIndexPage(title="Blog", slug="blog", intro="<p>Care, safety and the science of names, from the Plant Community editors.</p>"))
        authors = {}
        for slug, name, role, bio in blog_data.AUTHORS:
            author = Author.objects.filter(slug=slug).first()
            if author is None:
                initials = "".join(part[0] for part in name.split()[:2])
                author = Author.objects.create(slug=slug, name=name, role=role, bio=bio, portrait=self._image(f"Portrait: {name}", initials, f"Portrait placeholder for {name}"))
            authors[slug] = author
        categories = {}
        for slug, name, description in blog_data.CATEGORIES:
            category = BlogCategory.objects.filter(slug=slug).first() or BlogCategory.objects.create(slug=slug, name=name, description=description)
            categories[slug] = category
            if self._child(index, BlogCategoryPage, slug) is None and not BlogCategoryPage.objects.filter(category=category).exists():
                self._publish(index, BlogCategoryPage(title=name, slug=slug, category=category, intro=f"<p>{description}</p>"))
        series = {}
        for slug, title, description in blog_data.SERIES:
            series[slug] = Series.objects.filter(slug=slug).first() or Series.objects.create(slug=slug, title=title, description=description)
        for item in blog_data.POSTS:
            if self._child(index, BlogPostPage, item["slug"]) is not None:
                continue
            hero = self._image(item["title"], "Plant Community blog", f"Illustration for ‘{item['title']}’")
            body = [self._block(block, item) for block in item["body"]]
            in_series = item["series"]
            post = BlogPostPage(
                title=item["title"], slug=item["slug"], date=datetime.date.fromisoformat(item["date"]), intro=item["intro"],
                hero_image=hero, hero_credit=CREDIT, body=body,
                series=series[in_series[0]] if in_series else None, series_position=in_series[1] if in_series else None,
                search_description=item["intro"],
            )
            post.authors = [authors[slug] for slug in item["authors"]]
            post.categories = [categories[slug] for slug in item["categories"]]
            post.related_species = list(SpeciesPage.objects.filter(species__scientific_name__in=item["species"]))
            post.tags.add(*item["tags"])
            index.add_child(instance=post)
            revision = post.save_revision()
            revision.publish()
            # Back-date the first publication to the post's date, as if it had been published then.
            published = datetime.datetime.combine(post.date, datetime.time(9, 0), tzinfo=datetime.UTC)
            BlogPostPage.objects.filter(pk=post.pk).update(first_published_at=published, last_published_at=published)
            self.made["posts"] += 1

    def _block(self, block: tuple[Any, ...], post: dict[str, Any]) -> tuple[str, Any]:
        kind = block[0]
        if kind == "h":
            return ("heading", {"text": block[1], "level": "h2"})
        if kind == "p":
            return ("paragraph", block[1])
        if kind == "quote":
            return ("quote", {"text": block[1], "attribution": block[2]})
        if kind in ("tip", "warning", "info"):
            return ("callout", {"tone": kind, "title": block[1], "text": block[2]})
        if kind == "img":
            image = self._image(f"{post['title']} ({uuid.uuid5(uuid.NAMESPACE_URL, block[1]).hex[:6]})", block[1][:60], block[1])
            return ("image", {"image": image, "caption": block[1], "credit": CREDIT, "alt": ""})
        raise ValueError(f"unknown demo block {kind!r}")
