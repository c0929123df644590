"""Scheduled-jobs benchmark: prints one JSON object {job: seconds, ...}.

    python bench/jobs_bench.py [--tasks 1000000] [--database-url URL] [--no-prefect] [--seed 7]

Generates ``--tasks`` human tasks (default 1,000,000) in about 540,000 process instances
spread over 2026-07-01 .. 2026-10-31 (Asia/Shanghai), bulk-inserted without the engine
(no audit events): counter transactions (one_counter), complaints (complaint_handling, with
categories, SLA due dates and closing-call satisfaction), group agreements (``sign`` tasks
of customer managers) and supply approvals; plus 40 halls, 1,000 customer managers, 1,600
counter staff, a month of imported facts per manager and hall, and about 0.8 counter-service
inspections per staff member and day. Then it times each job's compute for one period
(``engine.jobs.runner.execute_job``: the compute in one transaction, the job run row and the
audit event; no Prefect) and, unless ``--no-prefect``, one run of the fastest job through
Prefect's local ephemeral mode (first run, which starts the temporary server, and a second
run: the steady per-run overhead).

The default database is a temporary SQLite file; with ``--database-url`` (e.g. a PostgreSQL
database you created) the schema is migrated there first: use an empty database.
Goal: each job <= 10 s at 1M tasks.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

START = datetime(2026, 6, 30, 16, 0, tzinfo=UTC)  # 2026-07-01 00:00 Shanghai
END = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 2026-11-01 00:00 Shanghai
SPAN = (END - START).total_seconds()
HALLS = [f"hall-{i:02d}" for i in range(1, 41)]
MANAGERS_PER_HALL, STAFF_PER_HALL = 25, 40
MONTHS = ["2026-07", "2026-08", "2026-09", "2026-10"]
COUNTER_CATEGORIES = ["unlock", "sim_replacement", "business_change", "transfer_ownership", "value_added",
                      "payment", "reports", "certificates", "other"]
# process key -> (weight, [(element_id, name, sla seconds or None, mean wait s, mean work s)])
PROCESSES = {
    "one_counter": (0.45, [("handle", "柜台办理 Handle at counter", 180, 40, 120)]),
    "complaint_handling": (0.30, [("resolve", None, None, 600, 900),
                                  ("close", "结案回访 Close and follow up", None, 3600, 300)]),
    "group_agreement": (0.10, [("approve", "审批 Approve", None, 7200, 600), ("sign", "签约 Sign", None, 14400, 1800)]),
    "supply_approval": (0.15, [("review", "审核 Review", None, 3600, 300), ("seal", "盖章 Seal", None, 1800, 120),
                               ("maintain", "系统维护 Maintain", None, 7200, 300), ("execute", "供货 Supply", None, 86400, 600)]),
}
COMPLAINT_STEPS = {"standard": ("resolve_counter", "柜台处理 Counter handling", 180, 60, 150),
                   "technical": ("resolve_technical", "技术处理 Technical handling", 86400, 3600, 20000),
                   "written": ("answer_written", "书面答复 Written answer", 259200, 20000, 60000)}
FACT_METRICS = {
    "group_revenue": (60000, 200000), "group_revenue_target_basic": (90000, 100000),
    "group_revenue_target_full": (110000, 120000), "group_revenue_target_challenge": (140000, 150000),
    "info_revenue": (10000, 60000), "info_revenue_target_basic": (25000, 30000),
    "info_revenue_target_full": (35000, 40000), "info_revenue_target_challenge": (45000, 50000),
    "member_growth": (0, 60), "member_growth_target": (30, 40), "product_promotions": (0, 8),
    "product_promotion_target": (3, 5), "churned_customers": (0, 6), "group_customers_total": (100, 200),
}
UNIT_FACTS = ("six_s_score", "activity_score", "innovation_score")
BENCH_PERIODS = [("sla_daily_report", "2026-10-15"), ("process_cycle_times", "2026-W42"),
                 ("counter_service_score", "2026-10"), ("customer_manager_kpi", "2026-10"), ("team_ranking", "2026-10")]


def uid(prefix: int, n: int) -> str:
    return f"{prefix:08x}-0000-4000-8000-{n:012x}"


class Writer:
    """Bulk inserts through the DBAPI: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, sa_engine):
        self.dialect = sa_engine.dialect.name
        self.raw = sa_engine.raw_connection()
        if self.dialect == "sqlite":  # loading only: the timed jobs use the engine's own connections
            self.raw.cursor().execute("PRAGMA synchronous=OFF")

    def _value(self, v):
        if self.dialect == "sqlite":
            if isinstance(v, datetime):
                return v.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
            if isinstance(v, (dict, list)):
                return json.dumps(v, ensure_ascii=False)
            return v
        if isinstance(v, (dict, list)):
            from psycopg.types.json import Json

            return Json(v)
        return v

    def insert(self, table: str, columns: list[str], rows) -> int:
        cur = self.raw.cursor()
        n = 0
        if self.dialect == "sqlite":
            marks = ", ".join("?" for _ in columns)
            batch = []
            for row in rows:
                batch.append(tuple(self._value(v) for v in row))
                if len(batch) >= 50000:
                    cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", batch)
                    n += len(batch)
                    batch = []
            if batch:
                cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", batch)
                n += len(batch)
        else:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(tuple(self._value(v) for v in row))
                    n += 1
        self.raw.commit()
        return n

    def analyze(self):
        cur = self.raw.cursor()
        cur.execute("ANALYZE")
        self.raw.commit()

    def close(self):
        self.raw.close()


def generate(writer: Writer, n_tasks: int, seed: int) -> dict:
    rnd = random.Random(seed)
    now = datetime.now(UTC)
    counts = {}
    counts["bpm_org_unit"] = writer.insert("bpm_org_unit", ["key", "name", "kind", "parent_key"],
                                           ((h, f"营业厅 {h}", "hall", None) for h in HALLS))
    managers = {h: [f"cm_{h}_{i:02d}" for i in range(MANAGERS_PER_HALL)] for h in HALLS}
    staff = {h: [f"cs_{h}_{i:02d}" for i in range(STAFF_PER_HALL)] for h in HALLS}
    users, roles, uid_n = [], [], 0
    for hall in HALLS:
        for role, names in (("customer_manager", managers[hall]), ("counter_staff", staff[hall])):
            for name in names:
                uid_n += 1
                users.append((100000 + uid_n, name, name, "x", hall, True, now, None))
                roles.append((100000 + uid_n, role))
    counts["bpm_user"] = writer.insert(
        "bpm_user", ["id", "username", "display_name", "password_hash", "org_unit", "is_active", "created_at", "email"],
        users)
    writer.insert("bpm_user_role", ["user_id", "role"], roles)
    definitions, def_id = {}, 1000
    defs = []
    for key in PROCESSES:
        for version in (1, 2):
            def_id += 1
            definitions[(key, version)] = def_id
            defs.append((def_id, key, version, f"{key} (bench)", "0" * 64, "", {}, now, "bench"))
    writer.insert("bpm_process_definition",
                  ["id", "key", "version", "name", "sha256", "xml", "meta", "deployed_at", "deployed_by"], defs)

    keys = list(PROCESSES)
    weights = [PROCESSES[k][0] for k in keys]
    tasks_out: list = []
    state = {"tasks": 0, "instances": 0}

    def instances():
        while state["tasks"] < n_tasks:
            state["instances"] += 1
            n = state["instances"]
            key = rnd.choices(keys, weights)[0]
            hall = rnd.choice(HALLS)
            started = START + timedelta(seconds=rnd.random() * SPAN)
            version = 1 if started < START + timedelta(seconds=SPAN / 2) else 2
            data, steps = {}, list(PROCESSES[key][1])
            starter = rnd.choice(staff[hall])
            if key == "complaint_handling":
                category = rnd.choices(["standard", "technical", "written"], [0.7, 0.2, 0.1])[0]
                data["category"] = category
                steps[0] = COMPLAINT_STEPS[category]
                if rnd.random() < 0.5:
                    starter = rnd.choice(managers[hall])
            elif key == "one_counter":
                data["category"] = rnd.choice(COUNTER_CATEGORIES)
            elif key == "group_agreement":
                starter = rnd.choice(managers[hall])
            inst_id = uid(1, n)
            at, done = started, True
            for element, name, sla, wait, work in steps:
                state["tasks"] += 1
                created = at
                claimed = created + timedelta(seconds=rnd.expovariate(1 / wait))
                completed = claimed + timedelta(seconds=rnd.expovariate(1 / work))
                status, who = "completed", starter
                if element == "sign":
                    who = starter
                elif element not in ("close", "handle", "resolve_counter"):
                    who = rnd.choice(staff[hall])
                submitted = None
                if element == "close":
                    submitted = {"satisfaction": rnd.choices(["satisfied", "neutral", "dissatisfied"], [0.85, 0.1, 0.05])[0]}
                if completed >= END or rnd.random() < 0.01:
                    status = "open" if completed >= END else "cancelled"
                    if status == "open" and claimed >= END:
                        claimed, who = None, None
                    completed = None if status == "open" else completed
                due = created + timedelta(seconds=sla) if sla else None
                tasks_out.append((
                    uid(2, state["tasks"]), inst_id, key, element, name or element, None, None, [], {}, status, who,
                    created, claimed, due, completed, who if status == "completed" else None, submitted, hall, None,
                    None,
                ))
                if status != "completed":
                    done = False
                    break
                at = completed
            yield (inst_id, definitions[(key, version)], key, None, "completed" if done else "running", data, "", [],
                   None, 1, starter, started, at if done else None, hall)

    inst_cols = ["id", "definition_id", "process_key", "business_key", "status", "data", "state", "visited", "incident",
                 "lock_version", "started_by", "started_at", "ended_at", "org_unit"]
    task_cols = ["id", "instance_id", "process_key", "element_id", "name", "form_key", "form_version",
                 "candidate_groups", "properties", "status", "assignee", "created_at", "claimed_at", "due_at",
                 "completed_at", "completed_by", "submitted", "org_unit", "sla", "sla_state"]
    gen = instances()
    counts["bpm_process_instance"] = counts["bpm_task"] = 0
    while True:
        chunk = [row for _, row in zip(range(50000), gen, strict=False)]
        if not chunk:
            break
        counts["bpm_process_instance"] += writer.insert("bpm_process_instance", inst_cols, chunk)
        counts["bpm_task"] += writer.insert("bpm_task", task_cols, tasks_out)
        tasks_out.clear()

    facts = []
    for month in MONTHS:
        for hall in HALLS:
            for name in managers[hall]:
                for metric, (lo, hi) in FACT_METRICS.items():
                    facts.append((month, name, metric, float(rnd.randint(lo, hi)), "bench.csv", now, "bench"))
            for metric in UNIT_FACTS:
                facts.append((month, hall, metric, float(rnd.randint(60, 100)), "bench.csv", now, "bench"))
    counts["bpm_fact"] = writer.insert(
        "bpm_fact", ["period", "subject_key", "metric", "value", "source", "imported_at", "imported_by"], facts)

    from engine.jobs.scoring import load_rules

    items = [(item["key"], item["points"]) for item in load_rules()["counter_service"]["items"]]

    def inspections():
        n, day = 0, START
        while day < END:
            local = (day + timedelta(hours=8)).date().isoformat()
            for hall in HALLS:
                for person in staff[hall]:
                    if rnd.random() < 0.8:
                        n += 1
                        points = {k: (p if rnd.random() < 0.9 else rnd.randint(0, p)) for k, p in items}
                        at = day + timedelta(hours=1 + rnd.random() * 10)
                        yield (uid(3, n), person, f"cm_{hall}_00", hall, at, local, points, float(sum(points.values())))
            day += timedelta(days=1)

    counts["bpm_inspection"] = writer.insert(
        "bpm_inspection", ["instance_id", "inspected_user", "inspector", "unit_key", "inspected_at", "day", "items", "score"],
        inspections())
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--no-prefect", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (SQLite file, var/)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="jobs-bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"
    from engine.app import BpmEngine
    from engine.config import load_settings
    from engine.jobs.runner import execute_job
    from engine.store.migrate import upgrade

    upgrade(url)
    engine = BpmEngine(load_settings(database_url=url, var_dir=tmp / "var"))
    out: dict = {}
    from sqlalchemy import create_engine

    sa_engine = create_engine(url)
    writer = Writer(sa_engine)
    out["database"] = writer.dialect
    t = time.perf_counter()
    out["rows"] = generate(writer, args.tasks, args.seed)
    writer.analyze()
    writer.close()
    sa_engine.dispose()
    out["generate_s"] = round(time.perf_counter() - t, 1)

    jobs: dict = {}
    out["load_average_before"] = [round(x, 1) for x in os.getloadavg()]
    for job, period in BENCH_PERIODS:
        t = time.perf_counter()
        try:
            run = execute_job(engine, job, period, "bench")
        except ModuleNotFoundError as exc:  # a scoring module not written yet
            jobs[job] = None
            out.setdefault("missing", []).append(f"{job}: {exc}")
            continue
        jobs[job] = round(time.perf_counter() - t, 3)
        out.setdefault("result_rows", {})[job] = run["rows"]
        out.setdefault("periods", {})[job] = period
    out["jobs_s"] = jobs
    out["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    if not args.no_prefect:
        fastest = min((s, j) for j, s in jobs.items() if s is not None)[1]
        from bpm_cli.flows import configure_prefect_home

        configure_prefect_home(tmp / "var")
        import logging

        logging.getLogger("httpx").setLevel(logging.WARNING)
        from bpm_cli.flows import run_job

        period = dict(BENCH_PERIODS)[fastest]
        t = time.perf_counter()
        run_job(fastest, period, "bench", engine=engine)
        first = time.perf_counter() - t
        t = time.perf_counter()
        run = run_job(fastest, period, "bench", engine=engine)
        second = time.perf_counter() - t
        out["prefect"] = {"job": fastest, "first_run_s": round(first, 2), "second_run_s": round(second, 2),
                          "overhead_s": round(second - jobs[fastest], 2), "flow_run_id": run["flow_run_id"]}
    engine.close()
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
