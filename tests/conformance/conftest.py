"""Conformance models run through the API: the fixture forms deployed, and small step chunks where a test needs many transactions."""

import pytest

from tests.conftest import deploy_fixture_forms


@pytest.fixture
def api(api):
    """The API client with the fixture forms deployed (the models' user tasks show ``simple_note``)."""
    deploy_fixture_forms(api)
    return api


@pytest.fixture
def small_chunks(engine):
    from engine.runtime import spiff

    spiff.configure_steps(chunk=300, runaway=3000)
    yield engine
    spiff.configure_steps(chunk=engine.settings.step_chunk, runaway=engine.settings.runaway_steps)
