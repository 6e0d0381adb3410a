"""The plant catalogue: species records (snippets) and the editorial pages bound to them.

Tree: HomePage → PlantCatalogueIndexPage → PlantCategoryPage → SpeciesPage (a SpeciesPage may
also sit directly under the catalogue index).
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.db import models
from modelcluster.fields import ParentalKey, ParentalManyToManyField
from modelcluster.models import ClusterableModel
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel
from wagtail.api import APIField
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Orderable, Page
from wagtail.search import index
from rest_framework import serializers

from plant_cms.images import ImageRenditionsField
from plant_cms.plain_text import reject_markup
from plant_cms.preview import HeadlessPreviewMixin
from plant_cms.species.blocks import CareGuideBlock, care_summary

# Languages editors may give common names in (ISO 639-1).
LANGUAGES = [
    ("en", "English"), ("de", "German"), ("fr", "French"), ("es", "Spanish"), ("it", "Italian"),
    ("nl", "Dutch"), ("pt", "Portuguese"), ("pl", "Polish"), ("sv", "Swedish"), ("ja", "Japanese"),
]


class Toxicity(models.TextChoices):
    """How harmful eating or touching the plant is (ASPCA-style levels)."""

    UNKNOWN = "unknown", "Unknown"
    NON_TOXIC = "non_toxic", "Non-toxic"
    MILD = "mild", "Mildly toxic (irritation, mild stomach upset)"
    MODERATE = "moderate", "Moderately toxic (vomiting, swelling; call a vet or doctor)"
    SEVERE = "severe", "Severely toxic (can be fatal; emergency care)"


class PlantSpecies(index.Indexed, ClusterableModel):
    """A species record: the taxonomic facts about one accepted name.

    Relations: `common_names` and `synonyms` are child rows (edited inline); at most one
    `SpeciesPage` (`page`) carries the editorial overview and care guide; blog posts link to those
    pages. Members' garden plants (plant_cms.garden) point here by id.
    """

    scientific_name = models.CharField(max_length=200, unique=True, help_text="Accepted name without authorship, e.g. Monstera deliciosa.")
    authorship = models.CharField(max_length=200, blank=True, help_text="e.g. Liebm.")
    family = models.CharField(max_length=100, db_index=True)
    genus = models.CharField(max_length=100, db_index=True)
    gbif_key = models.PositiveBigIntegerField(null=True, blank=True, unique=True, verbose_name="GBIF key", help_text="GBIF backbone taxon key.")
    powo_id = models.CharField(max_length=64, blank=True, verbose_name="POWO id", help_text="Plants of the World Online id, e.g. 560148-1.")
    toxicity_people = models.CharField(max_length=16, choices=Toxicity.choices, default=Toxicity.UNKNOWN)
    toxicity_pets = models.CharField(max_length=16, choices=Toxicity.choices, default=Toxicity.UNKNOWN, help_text="Cats and dogs.")
    toxicity_notes = models.TextField(blank=True, max_length=2000)
    updated_at = models.DateTimeField(auto_now=True)

    panels = [
        MultiFieldPanel([FieldPanel("scientific_name"), FieldPanel("authorship"), FieldRowPanel([FieldPanel("family"), FieldPanel("genus")])], heading="Name"),
        InlinePanel("common_names", heading="Common names", label="Common name"),
        InlinePanel("synonyms", heading="Synonyms", label="Synonym"),
        FieldRowPanel([FieldPanel("gbif_key"), FieldPanel("powo_id")], heading="Identifiers"),
        MultiFieldPanel([FieldRowPanel([FieldPanel("toxicity_people"), FieldPanel("toxicity_pets")]), FieldPanel("toxicity_notes")], heading="Toxicity"),
    ]

    search_fields = [
        index.SearchField("scientific_name"),
        index.AutocompleteField("scientific_name"),
        index.FilterField("family"),
        index.FilterField("genus"),
        index.RelatedFields("common_names", [index.SearchField("name")]),
    ]

    class Meta:
        ordering = ["scientific_name"]
        verbose_name = "plant species"
        verbose_name_plural = "plant species"
        indexes = [
            # pg_trgm (migration 0001 enables it): typo-tolerant search and ILIKE '%…%' on names.
            GinIndex(OpClass("scientific_name", name="gin_trgm_ops"), name="species_sciname_trgm"),
        ]

    def __str__(self) -> str:
        return self.scientific_name

    def clean(self) -> None:
        super().clean()
        reject_markup(self, ("scientific_name", "authorship", "family", "genus", "powo_id", "toxicity_notes"))
        self.scientific_name = " ".join(self.scientific_name.split())
        if self.scientific_name and not self.genus:
            self.genus = self.scientific_name.split()[0]
        if self.genus and self.scientific_name and not self.scientific_name.startswith(self.genus):
            raise ValidationError({"genus": "The genus must be the first word of the scientific name."})

    @property
    def full_name(self) -> str:
        return f"{self.scientific_name} {self.authorship}".strip()

    def common_names_by_language(self) -> dict[str, list[str]]:
        """`{"en": ["Swiss cheese plant", ...], "de": [...]}` in editor order (uses prefetched rows)."""
        names: dict[str, list[str]] = {}
        for row in self.common_names.all():
            names.setdefault(row.language, []).append(row.name)
        return names


class CommonName(Orderable):
    """A vernacular name of a species in one language; several per language are allowed."""

    species = ParentalKey(PlantSpecies, on_delete=models.CASCADE, related_name="common_names")
    language = models.CharField(max_length=8, choices=LANGUAGES, default="en")
    name = models.CharField(max_length=150)

    panels = [FieldRowPanel([FieldPanel("language"), FieldPanel("name")])]

    class Meta(Orderable.Meta):
        constraints = [models.UniqueConstraint(fields=["species", "language", "name"], name="species_commonname_unique")]
        indexes = [GinIndex(OpClass("name", name="gin_trgm_ops"), name="species_commonname_trgm")]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"

    def clean(self) -> None:
        super().clean()
        reject_markup(self, ("name",))


class Synonym(Orderable):
    """A name no longer accepted for the species (e.g. Sansevieria trifasciata for Dracaena trifasciata)."""

    species = ParentalKey(PlantSpecies, on_delete=models.CASCADE, related_name="synonyms")
    name = models.CharField(max_length=200)
    authorship = models.CharField(max_length=200, blank=True)

    panels = [FieldRowPanel([FieldPanel("name"), FieldPanel("authorship")])]

    class Meta(Orderable.Meta):
        constraints = [models.UniqueConstraint(fields=["species", "name"], name="species_synonym_unique")]
        indexes = [GinIndex(OpClass("name", name="gin_trgm_ops"), name="species_synonym_trgm")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        reject_markup(self, ("name", "authorship"))


class PlantSpeciesSerializer(serializers.Field):
    """The bound species as the pages API shows it (common names and synonyms from prefetched rows)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, species: PlantSpecies) -> dict[str, Any]:
        return species_data(species)


def species_data(species: PlantSpecies) -> dict[str, Any]:
    return {
        "id": species.pk,
        "scientific_name": species.scientific_name,
        "authorship": species.authorship,
        "family": species.family,
        "genus": species.genus,
        "common_names": species.common_names_by_language(),
        "synonyms": [s.name for s in species.synonyms.all()],
        "gbif_key": species.gbif_key,
        "powo_id": species.powo_id or None,
        "toxicity": {"people": species.toxicity_people, "pets": species.toxicity_pets, "notes": species.toxicity_notes},
    }


class SimilarSpeciesSerializer(serializers.Field):
    """Species commonly confused with this one: names and, when published, their page's id and URL."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> Any:
        return instance.similar_species.all()

    def to_representation(self, value: Any) -> list[dict[str, Any]]:
        return [{"id": s.pk, "scientific_name": s.scientific_name} for s in value]


class PlantCatalogueIndexPage(HeadlessPreviewMixin, Page):
    """The plant catalogue's landing page (one per site).

    Children: PlantCategoryPage sections (houseplants, garden plants, ...) and SpeciesPage.
    """

    intro = RichTextField(blank=True, features=["bold", "italic", "link"])

    content_panels = Page.content_panels + [FieldPanel("intro")]

    search_fields = Page.search_fields + [index.SearchField("intro")]

    api_fields = [APIField("intro")]

    parent_page_types = ["core.HomePage"]
    subpage_types = ["species.PlantCategoryPage", "species.SpeciesPage"]
    max_count = 1


class PlantCategoryPage(HeadlessPreviewMixin, Page):
    """A section of the catalogue (e.g. Houseplants); its children are the species in it."""

    intro = RichTextField(blank=True, features=["bold", "italic", "link"])

    content_panels = Page.content_panels + [FieldPanel("intro")]

    search_fields = Page.search_fields + [index.SearchField("intro")]

    api_fields = [APIField("intro")]

    parent_page_types = ["species.PlantCatalogueIndexPage"]
    subpage_types = ["species.SpeciesPage"]


class SpeciesPage(HeadlessPreviewMixin, Page):
    """The editorial page of one species.

    Relations: bound one-to-one to a `PlantSpecies` (the facts: names, identifiers, toxicity);
    `similar_species` are records commonly confused with it; blog posts list this page among their
    `related_species`. The care guide's structured values feed the members' care calendar.
    """

    species = models.OneToOneField(PlantSpecies, on_delete=models.PROTECT, related_name="page")
    overview = RichTextField(features=["h3", "bold", "italic", "link", "ol", "ul"], help_text="What it is, where it comes from, why grow it.")
    hero_image = models.ForeignKey("wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    hero_credit = models.CharField(max_length=250, blank=True, help_text="Photographer and licence, or how the image was made.")
    care_guide = StreamField(CareGuideBlock(), blank=True, use_json_field=True)
    difficulty = models.CharField(max_length=12, choices=[("easy", "Easy"), ("moderate", "Moderate"), ("expert", "Expert")], default="easy")
    similar_species = ParentalManyToManyField(PlantSpecies, blank=True, related_name="+")

    content_panels = Page.content_panels + [
        FieldPanel("species"),
        MultiFieldPanel([FieldPanel("hero_image"), FieldPanel("hero_credit")], heading="Hero image"),
        FieldPanel("overview"),
        FieldPanel("difficulty"),
        FieldPanel("care_guide"),
        FieldPanel("similar_species"),
    ]

    search_fields = Page.search_fields + [
        index.SearchField("overview"),
        index.RelatedFields("species", [index.SearchField("scientific_name"), index.SearchField("family")]),
    ]

    api_fields = [
        APIField("species", serializer=PlantSpeciesSerializer()),
        APIField("overview"),
        APIField("hero_image", serializer=ImageRenditionsField()),
        APIField("hero_credit"),
        APIField("difficulty"),
        APIField("care_guide"),
        APIField("care_summary", serializer=serializers.DictField(source="get_care_summary", read_only=True)),
        APIField("similar_species", serializer=SimilarSpeciesSerializer()),
    ]

    parent_page_types = ["species.PlantCatalogueIndexPage", "species.PlantCategoryPage"]
    subpage_types: list[str] = []

    # Read by the pages API: what one listing loads in a constant number of queries.
    api_select_related = ["species", "hero_image"]
    api_prefetch_related = ["species__common_names", "species__synonyms", "similar_species", "hero_image__renditions"]
    api_stream_fields = ["care_guide"]

    def clean(self) -> None:
        super().clean()
        reject_markup(self, ("hero_credit",))

    def get_care_summary(self) -> dict[str, Any]:
        return care_summary(self.care_guide)
