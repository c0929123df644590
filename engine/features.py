"""The engine's features, registered as extensions of the runtime (engine/extensions.py).

The composition root (``BpmEngine``) calls :func:`install` once per process; the runtime then
loops over what is registered and never names a feature. A new feature adds its module's
``EXTENSION`` here. The order is the order its hooks run in (the seal before the score review).
"""

from __future__ import annotations

from engine.extensions import REGISTRY, Registry


def extensions() -> list:
    from engine import registers, seals
    from engine.forms import chronology, options, queue_ticket
    from engine.identity import starter_unit
    from engine.jobs import review, study
    from engine.jobs import room_review as room_kpi
    from engine.jobs import tobacco as tobacco_side
    from engine.runtime import calls, events, external, linked, messages, references, tasks
    from engine.scheduling import schedules
    from engine.sla import extension as sla

    return [tasks.EXTENSION, starter_unit.EXTENSION, linked.EXTENSION, messages.EXTENSION, events.EXTENSION,
            calls.EXTENSION, external.EXTENSION, sla.EXTENSION, options.EXTENSION, chronology.EXTENSION,
            seals.EXTENSION, review.EXTENSION, room_kpi.EXTENSION, study.EXTENSION, schedules.EXTENSION, queue_ticket.EXTENSION,
            registers.EXTENSION, tobacco_side.EXTENSION, references.EXTENSION]


def install(registry: Registry = REGISTRY) -> None:
    for extension in extensions():
        registry.register(extension)


def configure(settings) -> None:
    """Hand the features the settings they keep per process (the seal's font and provider);
    refuse working hours that cannot be read (``BPM_WORKING_HOURS``), naming the bad part."""
    from engine import seals
    from engine.jobs import scoring
    from engine.sla.policy import working_hours

    seals.configure(settings.seals)
    scoring.configure(settings.scoring_rules)
    working_hours(settings.working_hours)
