"""The edge's configuration files, read as files (no stack needed).

Traefik takes its static configuration from one source, so production TLS (traefik.tls.yml) is a
full copy of traefik.yml: the copy must differ only in its TLS parts, or the two would drift.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import yaml

from tests.edge.support import DEFAULTS, DEV_CORS_ORIGINS, MIDDLEWARES, TRAEFIK_DIR


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((TRAEFIK_DIR / name).read_text())


def test_the_tls_static_config_is_the_plain_one_plus_tls() -> None:
    plain, tls = load("traefik.yml"), load("traefik.tls.yml")
    stripped = copy.deepcopy(tls)

    # The TLS parts, and only these:
    resolver = stripped.pop("certificatesResolvers")
    websecure = stripped["entryPoints"].pop("websecure")
    web = stripped["entryPoints"]["web"]
    redirect = web["http"].pop("redirections")
    assert web.pop("asDefault") is False and websecure["asDefault"] is True
    web["asDefault"] = True
    web["http"]["middlewares"] = plain["entryPoints"]["web"]["http"]["middlewares"]  # web only redirects there

    assert stripped == plain
    # "web" redirects everything to HTTPS; "websecure" is "web" plus TLS and HSTS.
    assert redirect == {"entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}}
    plain_web = plain["entryPoints"]["web"]
    assert websecure["transport"] == plain_web["transport"]
    assert websecure["http"]["aliasHeadersStrategy"] == plain_web["http"]["aliasHeadersStrategy"]
    middlewares = list(plain_web["http"]["middlewares"])
    middlewares.insert(middlewares.index("security-headers@file") + 1, "hsts@file")
    assert websecure["http"]["middlewares"] == middlewares
    assert websecure["http"]["tls"] == {"certResolver": "letsencrypt"}
    assert websecure["address"] == ":8443"
    acme = resolver["letsencrypt"]["acme"]
    assert acme["storage"].startswith("/acme/") and acme["httpChallenge"] == {"entryPoint": "web"}


def test_hsts_is_referenced_only_by_the_tls_entry_point() -> None:
    assert "hsts@file" not in (TRAEFIK_DIR / "traefik.yml").read_text()
    for path in (TRAEFIK_DIR / "dynamic").glob("*.yml"):
        assert not re.search(r"\[[^\]]*\bhsts\b", path.read_text()), f"{path.name} attaches hsts to a router"


def test_every_routed_request_gets_its_request_id_first() -> None:
    for name in ("traefik.yml", "traefik.tls.yml"):
        for entry_point, spec in load(name)["entryPoints"].items():
            middlewares = ((spec or {}).get("http") or {}).get("middlewares")
            if middlewares:
                assert middlewares[0] == "request-id@file", (name, entry_point)


def test_only_the_public_entry_points_take_routers_and_none_is_http3() -> None:
    for name in ("traefik.yml", "traefik.tls.yml"):
        entry_points = load(name)["entryPoints"]
        defaults = {ep for ep, spec in entry_points.items() if spec.get("asDefault")}
        assert defaults == ({"websecure"} if "websecure" in entry_points else {"web"}), name
        assert not any("http3" in spec for spec in entry_points.values()), name


def test_metrics_carry_entry_point_labels_and_fine_buckets() -> None:
    prometheus = load("traefik.yml")["metrics"]["prometheus"]

    assert prometheus["addEntryPointsLabels"] and prometheus["addRoutersLabels"] and prometheus["addServicesLabels"]
    buckets = prometheus["buckets"]
    assert buckets == sorted(buckets) and buckets[0] <= 0.001  # sub-millisecond overhead is visible
    for alert_threshold in (0.5, 5, 10):  # HighLatencyP95 (0.5 s); identification (8 s) lies in (5, 10]
        assert alert_threshold in buckets


def test_the_tests_know_the_templates_defaults() -> None:
    text = MIDDLEWARES.read_text()
    for name, default in DEFAULTS.items():
        assert f'env "{name}" | default "{default}"' in text, name
    assert f'"{DEV_CORS_ORIGINS}"' in text


def test_routers_never_name_an_entry_point() -> None:
    # They attach to the default entry points, so the same routes serve "web" and "websecure".
    routers = yaml.safe_load(re.sub(r"\{\{.*?\}\}", "x", (TRAEFIK_DIR / "dynamic" / "routes.yml").read_text()))["http"]["routers"]
    assert routers and not [name for name, router in routers.items() if "entryPoints" in router]
