"""The task property ``notBeforeStart`` (engine/forms/chronology.py): a reply cannot predate the case."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.extensions import DeployContext, Element
from engine.forms.chronology import EXTENSION, too_early

REGISTERED = datetime(2026, 3, 6, 1, 0, 40, tzinfo=UTC)  # 09:00:40 in Beijing


def _check(value):
    return EXTENSION.check(Element("close", "userTask", {"notBeforeStart": value}), DeployContext("p", lambda _: True))


def test_times_before_the_registration_are_refused_to_the_minute():
    assert too_early({"answered_at": "2026-03-06T09:00"}, ["answered_at"], REGISTERED) == {}  # the same minute
    assert too_early({"answered_at": "2026-03-06T10:00"}, ["answered_at"], REGISTERED) == {}
    errors = too_early({"answered_at": "2026-03-06T08:59", "replied_at": "2026-03-05T23:00"},
                       ["answered_at", "replied_at"], REGISTERED)
    assert set(errors) == {"answered_at", "replied_at"}
    assert errors["answered_at"][0].startswith("答复时间不能早于登记时间（2026-03-06 09:00）")
    # an offset is compared as it says; naive stored times are UTC
    assert too_early({"answered_at": "2026-03-06T01:00:00Z"}, ["answered_at"], REGISTERED) == {}
    assert set(too_early({"answered_at": "2026-03-06T00:59:00+00:00"}, ["answered_at"], REGISTERED)) == {"answered_at"}
    assert too_early({"answered_at": "2026-03-06T08:59"}, ["answered_at"], REGISTERED.replace(tzinfo=None)) != {}
    # empty or unreadable values are the form's business (required, its own format check)
    assert too_early({"answered_at": None, "replied_at": "yesterday"}, ["answered_at", "replied_at"], REGISTERED) == {}


def test_the_property_must_name_field_keys():
    assert _check("answered_at") == [] and _check("answered_at, replied_at") == []
    assert _check("") and _check(" , ")
    assert _check("answered at") == ["notBeforeStart: 'answered at' is not a form field key"]
