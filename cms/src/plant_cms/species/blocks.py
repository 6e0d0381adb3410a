"""Care-guide blocks: one block per care topic, each with a one-line summary, optional details
(rich text) and the structured values the members' care calendar schedules tasks from."""

from __future__ import annotations

from typing import Any

from wagtail import blocks

MONTHS = [
    ("1", "January"), ("2", "February"), ("3", "March"), ("4", "April"), ("5", "May"), ("6", "June"),
    ("7", "July"), ("8", "August"), ("9", "September"), ("10", "October"), ("11", "November"), ("12", "December"),
]

LIGHT_LEVELS = [
    ("full_sun", "Full sun"),
    ("bright_indirect", "Bright, indirect light"),
    ("partial_shade", "Partial shade"),
    ("shade", "Shade"),
    ("low_light", "Tolerates low light"),
]

HUMIDITY_LEVELS = [("low", "Low (below 40 %)"), ("medium", "Medium (40–60 %)"), ("high", "High (above 60 %)")]

PROPAGATION_METHODS = [
    ("stem_cuttings", "Stem cuttings"),
    ("leaf_cuttings", "Leaf cuttings"),
    ("division", "Division"),
    ("offsets", "Offsets"),
    ("seed", "Seed"),
    ("air_layering", "Air layering"),
    ("layering", "Layering"),
    ("grafting", "Grafting"),
]

RICH_FEATURES = ["bold", "italic", "link", "ol", "ul"]


class CareTopicBlock(blocks.StructBlock):
    """The fields every care topic shares."""

    summary = blocks.CharBlock(max_length=240, help_text="One sentence: what a busy owner needs to know.")
    details = blocks.RichTextBlock(required=False, features=RICH_FEATURES)


class LightBlock(CareTopicBlock):
    level = blocks.ChoiceBlock(choices=LIGHT_LEVELS)

    class Meta:
        icon = "view"
        label = "Light"


class WateringBlock(CareTopicBlock):
    interval_days_growing = blocks.IntegerBlock(min_value=1, max_value=90, help_text="Days between waterings, spring to autumn.")
    interval_days_dormant = blocks.IntegerBlock(min_value=1, max_value=180, help_text="Days between waterings in winter.")

    class Meta:
        icon = "pick"
        label = "Watering"


class SoilBlock(CareTopicBlock):
    mix = blocks.CharBlock(max_length=200, help_text="e.g. chunky aroid mix: bark, perlite, coir")
    ph_min = blocks.DecimalBlock(required=False, min_value=3, max_value=10, decimal_places=1)
    ph_max = blocks.DecimalBlock(required=False, min_value=3, max_value=10, decimal_places=1)
    repot_every_years = blocks.IntegerBlock(required=False, min_value=1, max_value=10)

    class Meta:
        icon = "folder-inverse"
        label = "Soil and repotting"


class HumidityBlock(CareTopicBlock):
    level = blocks.ChoiceBlock(choices=HUMIDITY_LEVELS)

    class Meta:
        icon = "cog"
        label = "Humidity"


class TemperatureBlock(CareTopicBlock):
    min_celsius = blocks.IntegerBlock(min_value=-40, max_value=40, help_text="Lowest it tolerates.")
    ideal_min_celsius = blocks.IntegerBlock(required=False, min_value=-20, max_value=45)
    ideal_max_celsius = blocks.IntegerBlock(required=False, min_value=-20, max_value=50)

    class Meta:
        icon = "warning"
        label = "Temperature"


class FeedingBlock(CareTopicBlock):
    interval_weeks = blocks.IntegerBlock(min_value=1, max_value=52, help_text="Weeks between feeds in the feeding months.")
    months = blocks.MultipleChoiceBlock(choices=MONTHS, required=False)
    fertiliser = blocks.CharBlock(required=False, max_length=200)

    class Meta:
        icon = "plus-inverse"
        label = "Feeding"


class PruningBlock(CareTopicBlock):
    months = blocks.MultipleChoiceBlock(choices=MONTHS, required=False)

    class Meta:
        icon = "cut"
        label = "Pruning"


class PropagationBlock(CareTopicBlock):
    methods = blocks.MultipleChoiceBlock(choices=PROPAGATION_METHODS)
    months = blocks.MultipleChoiceBlock(choices=MONTHS, required=False)

    class Meta:
        icon = "repeat"
        label = "Propagation"


class ProblemBlock(blocks.StructBlock):
    name = blocks.CharBlock(max_length=120)
    kind = blocks.ChoiceBlock(choices=[("pest", "Pest"), ("disease", "Disease"), ("disorder", "Care problem")])
    symptoms = blocks.CharBlock(max_length=300)
    treatment = blocks.CharBlock(max_length=400)


class PestsDiseasesBlock(CareTopicBlock):
    problems = blocks.ListBlock(ProblemBlock(), min_num=0, max_num=20)

    class Meta:
        icon = "warning"
        label = "Pests and diseases"


class SeasonalTaskBlock(blocks.StructBlock):
    month = blocks.ChoiceBlock(choices=MONTHS)
    task = blocks.CharBlock(max_length=200)


class SeasonalTasksBlock(blocks.StructBlock):
    tasks = blocks.ListBlock(SeasonalTaskBlock(), min_num=1, max_num=36)

    class Meta:
        icon = "date"
        label = "Seasonal tasks by month"


class CareGuideBlock(blocks.StreamBlock):
    """A species' care guide: each topic at most once, in any order."""

    light = LightBlock()
    watering = WateringBlock()
    soil = SoilBlock()
    humidity = HumidityBlock()
    temperature = TemperatureBlock()
    feeding = FeedingBlock()
    pruning = PruningBlock()
    propagation = PropagationBlock()
    pests_and_diseases = PestsDiseasesBlock()
    seasonal_tasks = SeasonalTasksBlock()

    class Meta:
        block_counts = {name: {"max_num": 1} for name in (
            "light", "watering", "soil", "humidity", "temperature", "feeding", "pruning",
            "propagation", "pests_and_diseases", "seasonal_tasks",
        )}


def care_summary(care_guide: Any) -> dict[str, Any]:
    """The care guide as plain structured data (no HTML): the one-line summaries and the values a
    calendar schedules from (`watering.interval_days_growing`, `feeding.months`, ...)."""
    summary: dict[str, Any] = {}
    for block in care_guide:
        value = block.value
        if block.block_type == "seasonal_tasks":
            summary["seasonal_tasks"] = [{"month": int(task["month"]), "task": task["task"]} for task in value["tasks"]]
            continue
        item: dict[str, Any] = {}
        for name, child in value.items():
            if name == "details":
                continue
            if name == "problems":
                child = [{"name": p["name"], "kind": p["kind"]} for p in child]
            elif name == "months":
                child = sorted(int(month) for month in child)
            elif hasattr(child, "is_finite"):  # Decimal
                child = float(child)
            item[name] = child
        summary[block.block_type] = item
    return summary
