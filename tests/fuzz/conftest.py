"""Fuzzing fixtures and settings: one seeded SQLite application per module, example budgets.

The fuzz modules are marked ``fuzz`` (``-m "not fuzz"`` skips them); the regression tests in
``test_regressions.py`` are ordinary tests. Budgets are fixed and generation is
derandomized (hypothesis) or seeded (the mutation generator), so a CI run is reproducible.

* ``BPM_FUZZ_EXAMPLES=N``: N examples per test instead of the default (per operation and
  pass for schemathesis, mutants per database for the mutation tests);
* ``BPM_FUZZ_SEED=S``: another fixed seed for the mutation generator;
* ``BPM_FUZZ_SHRINK=1``: let hypothesis shrink a failing example (slow on a loaded machine).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, Phase, settings

from engine.app import BpmEngine
from engine.config import load_settings
from tests.conftest import UNLIMITED


def examples(default: int) -> int:
    """The per-test example budget: ``BPM_FUZZ_EXAMPLES`` when set, else ``default``."""
    raw = os.environ.get("BPM_FUZZ_EXAMPLES", "").strip()
    return int(raw) if raw else default


def seed() -> int:
    raw = os.environ.get("BPM_FUZZ_SEED", "").strip()
    return int(raw) if raw else 20261123


def fuzz_settings(default_examples: int, **kw) -> settings:
    """Hypothesis settings for fuzz tests: no deadline, derandomized, no example database.

    Shrinking is off unless ``BPM_FUZZ_SHRINK=1``: on a loaded 2-core machine it can take
    minutes, and the unshrunk failing example is reported either way.
    """
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if os.environ.get("BPM_FUZZ_SHRINK") == "1" else [])
    return settings(
        phases=phases,
        max_examples=examples(default_examples),
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                               HealthCheck.function_scoped_fixture],
        **kw,
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "fuzz: property-based and schema fuzzing (tests/fuzz)")


@dataclass
class FuzzApp:
    """A Flask app over a private SQLite copy of the seeded template database."""

    engine: BpmEngine
    app: object
    tokens: dict[str, str]
    url: str
    objects: dict[str, list[str]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def sqlite_app(sqlite_template, tmp_path_factory):
    """Module-scoped: schema fuzzing keeps one database for all its operations (fast)."""
    from engine.clock import clock
    from web import create_app

    template, tokens = sqlite_template
    folder = tmp_path_factory.mktemp("fuzz")
    target = folder / "bpm.sqlite3"
    shutil.copy(template, target)
    url = f"sqlite:///{target}"
    engine = BpmEngine(load_settings(database_url=url, var_dir=folder / "var", max_upload_bytes=1024 * 1024,
                                     rate_limits=UNLIMITED))
    app = create_app(engine)
    app.testing = True
    yield FuzzApp(engine, app, dict(tokens), url)
    clock.reset()
    engine.close()
