"""Where things live and which ports a profile uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[4]
TRAEFIK_DIR = REPO_ROOT / "deploy" / "traefik"

# Each profile shifts every port, so stacks run side by side: `make test` beside a running
# `make dev`, benchmarks (`bench`), browser tests (`e2e`) and the reliability suite's own stack
# (`reliability`, whose processes it kills) beside them; `scratch1`…`scratch5` are for people
# working in parallel. Every port stays below Linux's ephemeral range (32768+), where outgoing
# connections would take them at random.
_PORT_OFFSETS = {"dev": 0, "test": 10000, "bench": 20000, "e2e": 3000, "reliability": 6000,
                 "scratch1": 1000, "scratch2": 2000, "scratch3": 4000, "scratch4": 5000, "scratch5": 7000}
# Gateway processes behind the edge (one by default); the reliability suite kills one of two.
_GATEWAY_REPLICAS = {"reliability": 2}


@dataclass(frozen=True)
class Profile:
    name: str

    @property
    def offset(self) -> int:
        return _PORT_OFFSETS[self.name]

    @property
    def data_dir(self) -> Path:
        return REPO_ROOT / ".data" / self.name

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def port(self, base: int) -> int:
        return base + self.offset

    @property
    def edge_port(self) -> int:
        return self.port(8000)

    @property
    def edge_internal_port(self) -> int:
        return self.port(8080)

    @property
    def postgres_port(self) -> int:
        return self.port(5433)

    @property
    def redis_port(self) -> int:
        return self.port(6380)

    @property
    def gateway_replicas(self) -> int:
        return _GATEWAY_REPLICAS.get(self.name, 1)

    @property
    def bench_baseline_port(self) -> int | None:
        """Where bench/gateway_cache_hit.py runs its baseline app, routed by the edge (bench profile only)."""
        return self.port(8190) if self.name == "bench" else None

    @property
    def edge_url(self) -> str:
        return f"http://localhost:{self.edge_port}"


def profile(name: str) -> Profile:
    if name not in _PORT_OFFSETS:
        raise SystemExit(f"unknown profile {name!r}; choose one of {sorted(_PORT_OFFSETS)}")
    return Profile(name)
