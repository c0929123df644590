"""The ``bpm`` command: one group, its commands registered from their modules."""

from __future__ import annotations

import logging

import click

from bpm_cli import admin, audit, core, data, facts, instances, jobs, seal, stack


@click.group()
def main() -> None:
    """BPM engine: BPMN processes, forms, tasks, SLAs and audit."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # SpiffWorkflow logs every task state change at INFO ("spiff.task"): several lines per step,
    # formatted and written by every web and worker process. The audit chain records what
    # happened; its warnings and errors still show.
    logging.getLogger("spiff").setLevel(logging.WARNING)


for _module in (core, admin, seal, audit, data, stack):
    _module.register(main)
main.add_command(jobs.jobs)
main.add_command(facts.facts)
main.add_command(instances.instances)


if __name__ == "__main__":
    main()
