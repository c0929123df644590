"""What the stack itself allows on this machine: the ceilings under the engine's throughput goals.

    python bench/ceiling_bench.py [--lifecycles 500] [--transactions 3000] [--requests 2000]
                                  [--postgres ADMIN_URL]

Measures, with no engine code in the way, the parts every durable lifecycle of the
4-user-task model (``bench/models/four_step.bpmn``: start + 4 completions, 5 transactions; over
HTTP 9 requests: start, then 4 x list + complete) cannot avoid, and prints JSON:

* ``spiffworkflow``: raw SpiffWorkflow in memory (no persistence), and the same with the
  workflow's state serialized after each step (SpiffWorkflow's own serializer, what any durable
  engine on it stores): lifecycles/s;
* ``statements_per_lifecycle``: the SQL statements the engine runs for one lifecycle (counted on
  the real engine, SQLite);
* ``transaction``: one write transaction of that many statements per step (inserts of 500-byte
  rows and primary-key reads on a scratch table, WAL, ``synchronous=NORMAL``, ``BEGIN IMMEDIATE``)
  through the bare ``sqlite3`` driver, through a SQLAlchemy Core connection and through a
  SQLAlchemy ORM session, with prebuilt statements (the engine's way): ms per transaction; with
  ``--postgres`` also through a session on PostgreSQL (a database of its own, dropped after), with
  the CPU the whole machine spent per transaction (Python and the database server);
* ``http_request``: a minimal Flask app (a JSON GET and a JSON POST, nothing else) under
  gunicorn as ``bpm serve`` runs it (1 worker, gthread, 4 threads), called by ``requests`` as
  ``bench/engine_bench.py`` calls the engine, and by ``http.client``: ms per request, and the
  CPU ms the client and the server spent on each;
* ``ceilings``: the lifecycles/s those parts alone allow (their times added, no engine work)
  beside the goals of ``bench/engine_bench.py``; for several clients on PostgreSQL, the CPU
  bound: the machine's cores divided by the CPU those parts take per lifecycle.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "bench" / "models"
TRANSACTIONS_PER_LIFECYCLE = 5  # start + 4 completions
REQUESTS_PER_LIFECYCLE = 9  # start, then 4 x (list + complete)
GOALS = {"in_process_lifecycles_per_s": 375, "http_1_client_sqlite_lifecycles_per_s": 60,
         "http_8_clients_postgresql_2_workers_lifecycles_per_s": 120}


def floor_app():
    """The least a Flask JSON API can do: gunicorn loads it as ``bench.ceiling_bench:floor_app()``."""
    from flask import Flask, jsonify, request

    app = Flask("floor")

    @app.get("/tasks")
    def tasks():
        return jsonify(items=[], total=0)

    @app.post("/complete")
    def complete():
        return jsonify(ok=True, data=request.get_json())

    return app


def spiffworkflow(n: int) -> dict:
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.parser import BpmnParser
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.util.task import TaskState

    parser = BpmnParser()
    parser.add_bpmn_file(str(MODELS / "four_step.bpmn"))
    spec = parser.get_spec("four_step")
    serializer = BpmnWorkflowSerializer()

    def rate(serialize: bool) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            wf = BpmnWorkflow(spec)
            wf.do_engine_steps()
            if serialize:
                serializer.serialize_json(wf)
            for _ in range(4):
                task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
                task.data.update({"note": "ok", "amount": 1})
                task.run()
                wf.do_engine_steps()
                if serialize:
                    serializer.serialize_json(wf)
            assert wf.is_completed()
        return n / (time.perf_counter() - t0)

    rate(False), rate(True)  # warm-up
    raw = statistics.median(rate(False) for _ in range(3))
    durable = statistics.median(rate(True) for _ in range(3))
    return {"in_memory_lifecycles_per_s": round(raw, 1), "state_serialized_each_step_lifecycles_per_s": round(durable, 1)}


def statements_per_lifecycle() -> int:
    """The SQL statements (BEGIN and COMMIT not counted) of one lifecycle on the real engine."""
    from sqlalchemy import event

    sys.path.insert(0, str(ROOT / "bench"))
    import engine_bench

    from engine.identity.actor import Actor
    from engine.runtime import instances, tasks

    with tempfile.TemporaryDirectory() as tmp:
        engine = engine_bench.make_engine(None, Path(tmp))
        engine_bench.add_bench_users(engine)
        actors = {r: Actor(r, frozenset({r})) for r in engine_bench.ROLES}
        counted: list[str] = []

        def lifecycle():
            with engine.uow(actors["counter_staff"]) as uow:
                instances.start(engine, uow, "four_step", {"count": 1})
                task_id = uow.created_tasks[0]
            for role in engine_bench.ROLES:
                with engine.uow(actors[role]) as uow:
                    tasks.complete(engine, uow, task_id, {"note": "ok", "amount": 1})
                    task_id = (uow.created_tasks or [None])[0]

        lifecycle()  # caches warm, as in a running server

        @event.listens_for(engine.db.engine, "before_cursor_execute")
        def _count(conn, cursor, statement, params, context, executemany):
            if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT")):
                counted.append(statement)

        lifecycle()
        engine.close()
        return len(counted)


ROW = "x" * 500  # a scratch row's text


def _measure(fn, n: int, server_pid: int | None = None) -> dict:
    """``fn`` run 200 times to warm up, then 3 rounds of ``n``: per call, the medians of the wall
    ms, this process's CPU ms, the server's CPU ms and the whole machine's CPU ms."""
    from bench.harness.cpu import CpuWatch

    for _ in range(200):
        fn()
    rounds = []
    for _ in range(3):
        with CpuWatch(server_pid) as watch:
            for _ in range(n):
                fn()
        machine = watch.machine_busy * watch.wall * (os.cpu_count() or 1)
        rounds.append((watch.wall, watch.client, watch.server, machine))
    return {key: statistics.median(r[k] for r in rounds) / n * 1000
            for k, key in enumerate(("wall", "client_cpu", "server_cpu", "machine_cpu"))}


def _session_transaction(sa, statements: int):
    """One write transaction of ``statements`` statements through a SQLAlchemy ORM session on
    ``sa`` (the engine's way: prebuilt statements), on a scratch table made here; with the table's
    prebuilt insert and read, for other ways of running the same statements."""
    from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, insert, select
    from sqlalchemy.orm import Session

    meta = MetaData()
    table = Table("t", meta, Column("id", String, primary_key=True), Column("a", String), Column("b", Integer))
    meta.create_all(sa)
    insert_row = insert(table)
    read_row = select(table.c.a).where(table.c.id == bindparam("k"))
    inserts, reads = _split(statements)

    def orm():
        with Session(sa) as session:
            for j in range(inserts):
                session.execute(insert_row, {"id": uuid.uuid4().hex, "a": ROW, "b": j})
            for _ in range(reads):
                session.execute(read_row, {"k": "absent"}).all()
            session.commit()

    return orm, insert_row, read_row


def _split(statements: int) -> tuple[int, int]:
    """(inserts, primary-key reads) of a transaction of ``statements``: about half each."""
    return statements // 2, statements - statements // 2


def transaction(statements: int, n: int) -> dict:
    """ms per write transaction of ``statements`` statements on SQLite, three ways."""
    from sqlalchemy import create_engine, event

    inserts, reads = _split(statements)
    out = {"statements": statements}
    with tempfile.TemporaryDirectory() as tmp:
        con = sqlite3.connect(os.path.join(tmp, "driver.db"), isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("CREATE TABLE t (id TEXT PRIMARY KEY, a TEXT, b INTEGER)")

        def driver():
            con.execute("BEGIN IMMEDIATE")
            for j in range(inserts):
                con.execute("INSERT INTO t VALUES (?, ?, ?)", (uuid.uuid4().hex, ROW, j))
            for _ in range(reads):
                con.execute("SELECT a FROM t WHERE id = ?", ("absent",)).fetchall()
            con.execute("COMMIT")

        sa = create_engine("sqlite:///" + os.path.join(tmp, "sqlalchemy.db"))

        @event.listens_for(sa, "connect")
        def _connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")

        @event.listens_for(sa, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        orm, insert_row, read_row = _session_transaction(sa, statements)

        def core():
            with sa.begin() as conn:
                for j in range(inserts):
                    conn.execute(insert_row, {"id": uuid.uuid4().hex, "a": ROW, "b": j})
                for _ in range(reads):
                    conn.execute(read_row, {"k": "absent"}).all()

        for name, fn in (("sqlite3_driver_ms", driver), ("sqlalchemy_core_ms", core), ("sqlalchemy_orm_session_ms", orm)):
            out[name] = round(_measure(fn, n)["wall"], 3)
        con.close()
        sa.dispose()
    return out


def pg_transaction(url: str, statements: int, n: int) -> dict:
    """ms per transaction through a SQLAlchemy session on PostgreSQL, and the machine's CPU ms per
    transaction (this process and the database server)."""
    from sqlalchemy import create_engine

    sa = create_engine(url)
    orm, _, _ = _session_transaction(sa, statements)
    measured = _measure(orm, n)
    sa.dispose()
    return {"statements": statements, "sqlalchemy_orm_session_ms": round(measured["wall"], 3),
            "machine_cpu_ms": round(measured["machine_cpu"], 3)}


def http_request(n: int) -> dict:
    import requests

    from bench.harness.servers import free_port, wait_ready

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--chdir", str(ROOT), "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--worker-class", "gthread", "--threads", "4", "--keep-alive", "75", "bench.ceiling_bench:floor_app()"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(server, base + "/tasks", 60, "gunicorn with the floor app")
        headers = {"Authorization": "Bearer " + "t" * 43}
        s = requests.Session()
        conn = http.client.HTTPConnection("127.0.0.1", port)

        def with_requests():
            s.get(base + "/tasks", headers=headers)
            s.post(base + "/complete", json={"data": {"note": "ok"}}, headers=headers)

        def with_http_client():
            conn.request("GET", "/tasks", headers=headers)
            conn.getresponse().read()
            conn.request("POST", "/complete", body=b'{"data": {"note": "ok"}}',
                         headers={**headers, "Content-Type": "application/json"})
            conn.getresponse().read()

        out = {"server": "gunicorn 1 worker, gthread, 4 threads (as bpm serve)", "app": "Flask, two JSON routes, no work"}
        for name, fn in (("requests", with_requests), ("http_client", with_http_client)):
            per_call = _measure(fn, n // 2, server.pid)  # a call is two requests
            out[f"{name}_ms"] = round(per_call["wall"] / 2, 3)
            out[f"{name}_client_cpu_ms"] = round(per_call["client_cpu"] / 2, 3)
            out[f"{name}_server_cpu_ms"] = round(per_call["server_cpu"] / 2, 3)
        return out
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifecycles", type=int, default=500)
    parser.add_argument("--transactions", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--postgres", default=None, metavar="ADMIN_URL",
                        help="also measure transactions on a PostgreSQL database of its own (dropped after)")
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    sys.path.insert(0, str(ROOT))
    spiff = spiffworkflow(args.lifecycles)
    statements = statements_per_lifecycle()
    per_step = round(statements / TRANSACTIONS_PER_LIFECYCLE)
    txn = transaction(per_step, args.transactions)
    web = http_request(args.requests)
    pg = None
    if args.postgres:
        from bench.harness.databases import temporary_pg_database

        with temporary_pg_database(args.postgres, "bench_ceiling") as url:
            pg = pg_transaction(url, per_step, args.transactions // 3)

    state_ms = 1000 / spiff["state_serialized_each_step_lifecycles_per_s"]
    in_process = {name: round(1000 / (state_ms + TRANSACTIONS_PER_LIFECYCLE * txn[key]), 1)
                  for name, key in (("sqlite3_driver", "sqlite3_driver_ms"), ("sqlalchemy_core", "sqlalchemy_core_ms"),
                                    ("sqlalchemy_orm_session", "sqlalchemy_orm_session_ms"))}
    session_ms = state_ms + TRANSACTIONS_PER_LIFECYCLE * txn["sqlalchemy_orm_session_ms"]
    result = {
        "machine_cpus": os.cpu_count(),
        "spiffworkflow": spiff,
        "statements_per_lifecycle": statements,
        "transaction": txn,
        "http_request": web,
        "ceilings": {
            "what": "lifecycles/s these parts alone allow: serialized SpiffWorkflow steps + 5 transactions "
                    "(+ 9 requests over HTTP), no engine work (forms, audit chain, task rows, permissions)",
            "in_process": in_process,
            "in_process_goal": GOALS["in_process_lifecycles_per_s"],
            "half_of_raw_in_memory": round(spiff["in_memory_lifecycles_per_s"] / 2, 1),
            "http_1_client_sqlalchemy_session_requests": round(
                1000 / (session_ms + REQUESTS_PER_LIFECYCLE * web["requests_ms"]), 1),
            "http_1_client_sqlalchemy_session_http_client": round(
                1000 / (session_ms + REQUESTS_PER_LIFECYCLE * web["http_client_ms"]), 1),
            "http_goal": GOALS["http_1_client_sqlite_lifecycles_per_s"],
        },
    }
    if pg is not None:
        result["transaction_postgresql"] = pg
        per_lifecycle_cpu = (state_ms + TRANSACTIONS_PER_LIFECYCLE * pg["machine_cpu_ms"]
                             + REQUESTS_PER_LIFECYCLE * (web["requests_client_cpu_ms"] + web["requests_server_cpu_ms"]))
        result["ceilings"]["http_postgresql_cpu_ms_per_lifecycle"] = round(per_lifecycle_cpu, 2)
        result["ceilings"]["http_postgresql_cpu_bound"] = round((os.cpu_count() or 1) * 1000 / per_lifecycle_cpu, 1)
        result["ceilings"]["http_postgresql_goal"] = GOALS["http_8_clients_postgresql_2_workers_lifecycles_per_s"]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
