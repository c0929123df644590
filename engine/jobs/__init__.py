"""Scheduled scoring and reporting jobs (issue 7).

``engine.jobs.registry.JOBS`` lists the jobs; each compute function aggregates in SQL and
writes ``bpm_job_result`` rows for one :class:`~engine.jobs.periods.Period` through
:func:`~engine.jobs.results.replace_results`. ``bpm_cli.flows`` runs them as Prefect
flows (imported lazily: ``import prefect`` costs about 2 s) and records ``bpm_job_run``.
"""
