"""From a species to a member's plant: the care tasks its care guide implies, and whether it is a
danger to the household.

The only place that reads the editorial side (`plant_cms.species`): the published `SpeciesPage`'s
care guide through `care_summary` (structured values, no HTML), and the `PlantSpecies` toxicity.
Whatever the guide leaves out falls back to defaults that suit most houseplants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plant_cms.garden.recurrence import GROWING_MONTHS_NORTH, format_rule, shift_months

# Defaults when the guide has no value (or the species has no published page).
DEFAULT_WATERING_DAYS = 7
DEFAULT_WATERING_DORMANT_DAYS = 14
DEFAULT_FEEDING_WEEKS = 4
DEFAULT_FEEDING_MONTHS = (4, 5, 6, 7, 8, 9)
DEFAULT_REPOT_YEARS = 2
REPOT_MONTH = 3  # early spring (north), when roots start growing again
MISTING_DAYS = 2  # only for species that want high humidity

TOXIC_LEVELS = ("mild", "moderate", "severe")


@dataclass(frozen=True)
class TaskSpec:
    """A care task to create: exactly one of `interval_days` and `rrule`."""

    kind: str
    title: str
    interval_days: int | None = None
    dormant_interval_days: int | None = None
    rrule: str = ""


def published_care_summary(species: Any) -> dict[str, Any]:
    """The care summary of the species' live page, or `{}` (no page, or not published)."""
    from plant_cms.species.blocks import care_summary

    try:
        page = species.page
    except Exception:  # noqa: BLE001 - RelatedObjectDoesNotExist: no page yet
        return {}
    if not page.live:
        return {}
    return care_summary(page.care_guide)


def _months(value: Any, default: tuple[int, ...]) -> list[int]:
    months = [int(m) for m in value or () if 1 <= int(m) <= 12]
    return months or list(default)


def _run_starts(months: list[int]) -> list[int]:
    """The first month of each run of consecutive months (December runs into January)."""
    chosen = set(months)
    return sorted(m for m in chosen if (m - 2) % 12 + 1 not in chosen) or sorted(chosen)[:1]


def tasks_for(summary: dict[str, Any], *, hemisphere: str) -> list[TaskSpec]:
    """The care tasks a care summary implies (watering, feeding, repotting, and pruning and misting
    when the guide calls for them), with month lists shifted for `hemisphere`."""
    watering = summary.get("watering") or {}
    feeding = summary.get("feeding") or {}
    soil = summary.get("soil") or {}
    pruning = summary.get("pruning") or {}
    humidity = summary.get("humidity") or {}

    growing = int(watering.get("interval_days_growing") or DEFAULT_WATERING_DAYS)
    dormant = int(watering.get("interval_days_dormant") or (DEFAULT_WATERING_DORMANT_DAYS if not watering else growing))
    specs = [
        TaskSpec("watering", "Water", interval_days=growing, dormant_interval_days=dormant if dormant != growing else None),
        TaskSpec(
            "feeding",
            "Feed",
            rrule=format_rule({
                "FREQ": "WEEKLY",
                "INTERVAL": int(feeding.get("interval_weeks") or DEFAULT_FEEDING_WEEKS),
                # Month lists in guides are written for the northern hemisphere.
                "BYMONTH": shift_months(_months(feeding.get("months"), DEFAULT_FEEDING_MONTHS), hemisphere),
            }),
        ),
        TaskSpec(
            "repotting",
            "Repot",
            rrule=format_rule({
                "FREQ": "YEARLY",
                "INTERVAL": int(soil.get("repot_every_years") or DEFAULT_REPOT_YEARS),
                "BYMONTH": shift_months([REPOT_MONTH], hemisphere),
                "BYMONTHDAY": [1],
            }),
        ),
    ]
    if pruning.get("months"):
        starts = _run_starts(_months(pruning["months"], GROWING_MONTHS_NORTH))
        specs.append(TaskSpec("pruning", "Prune", rrule=format_rule({"FREQ": "YEARLY", "BYMONTH": shift_months(starts, hemisphere), "BYMONTHDAY": [1]})))
    if humidity.get("level") == "high":
        specs.append(TaskSpec("misting", "Mist", interval_days=MISTING_DAYS))
    return specs


def household_warnings(species: Any, *, has_pets: bool, has_children: bool) -> list[dict[str, str]]:
    """Warnings for a household with pets or children adding a species known to be toxic to them.

    Returns:
        `[{"code": "toxic_to_pets" | "toxic_to_children", "severity": "mild|moderate|severe",
        "detail": <sentence>}]`, empty when nothing applies (unknown toxicity warns nobody).
    """
    if species is None:
        return []
    warnings: list[dict[str, str]] = []
    name = species.scientific_name
    notes = f" {species.toxicity_notes.strip()}" if getattr(species, "toxicity_notes", "").strip() else ""
    if has_pets and species.toxicity_pets in TOXIC_LEVELS:
        warnings.append({
            "code": "toxic_to_pets",
            "severity": species.toxicity_pets,
            "detail": f"{name} is {species.get_toxicity_pets_display().lower()} to cats and dogs, and your profile says you have pets. Keep it out of their reach.{notes}",
        })
    if has_children and species.toxicity_people in TOXIC_LEVELS:
        warnings.append({
            "code": "toxic_to_children",
            "severity": species.toxicity_people,
            "detail": f"{name} is {species.get_toxicity_people_display().lower()} to people, and your profile says you have children. Keep it out of their reach.{notes}",
        })
    return warnings
