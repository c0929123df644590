"""Demo history (``bpm init --demo``): twelve weeks of finished work in the central hall, so that
every report on /dashboards has rows for its newest period on a fresh demo.

Two days a week (Tuesday and Thursday) of each of the twelve complete ISO weeks before this one,
driven through the engine with the clock set back (so timestamps, SLA due dates and audit events
are what they would have been):

* a complaint (``complaint_handling``) registered by ``counter_staff``: at the counter (3 min),
  technical (24 h, ``duty_manager``) or written (3 working days, ``duty_manager``); most are
  handled on time, some late; each is closed with the customer's satisfaction;
* two counter transactions (``one_counter``) with a queue ticket, some handled over the 3 minutes;
* a service check (``counter_inspection``) of ``counter_staff`` by ``hall_manager``, a few items
  missed now and then;

plus the 6S, activity and innovation scores of both halls for each month (facts). Then every job
that reads them is run once per period: ``sla_daily_report`` and ``counter_service_score`` and
``team_ranking`` for each complete month, ``process_cycle_times`` for each week. Every instance
ends: nothing is added to anyone's task list.

Idempotent: nothing is seeded when ``process_cycle_times`` has run already.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from engine.clock import LOCAL_TZ, clock, utcnow
from engine.identity.actor import SYSTEM
from engine.store.models import JobRun, OrgUnit, Task

HALL = "hall-1"
WEEKS = 12
COMPLAINT_TYPES = ("billing_support", "network", "service_marketing", "data_service", "monternet", "hotline")
CATEGORIES = ("payment", "unlock", "business_change", "value_added", "reports", "certificates", "other")
CAUSES = ("billing_error", "network", "system", "other")
SATISFACTION = ("satisfied", "satisfied", "satisfied", "neutral", "satisfied", "satisfied", "dissatisfied")
# the halls' monthly 6S, activity and innovation scores (team ranking), before a small monthly change
UNIT_SCORES = {"hall-1": (88, 82, 75), "hall-2": (79, 85, 70)}


def _days(today: date) -> list[date]:
    """Tuesday and Thursday of each of the ``WEEKS`` complete ISO weeks before ``today``'s, oldest first."""
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=w) + timedelta(days=d) for w in range(WEEKS, 0, -1) for d in (1, 3)]


def _months(days: list[date], today: date) -> list[str]:
    """The complete months (before ``today``'s) the days fall in."""
    current = today.strftime("%Y-%m")
    return sorted({d.strftime("%Y-%m") for d in days} - {current})


class _Driver:
    """Starts instances and completes their tasks as demo users, at given local times."""

    def __init__(self, engine):
        from engine.identity.auth import actor_by_name

        self.engine = engine
        with engine.read() as session:
            self.actors = {n: actor_by_name(session, n) for n in ("counter_staff", "duty_manager", "hall_manager")}

    def ready(self) -> bool:
        return all(a is not None and a.org_unit == HALL for a in self.actors.values())

    def start(self, user: str, at: datetime, key: str, data: dict) -> str:
        from engine.runtime import instances

        clock.set(at)
        with self.engine.uow(self.actors[user]) as uow:
            return instances.start(self.engine, uow, key, data).id

    def work(self, user: str, instance_id: str, claimed: datetime, done: datetime, data: dict) -> None:
        """Claim the instance's open task at ``claimed`` and complete it at ``done``."""
        from engine.runtime import tasks

        with self.engine.read() as session:
            row = session.execute(select(Task.id, Task.assignee).where(Task.instance_id == instance_id,
                                                                      Task.status == "open")).first()
        if row is None:
            return
        task_id, actor = row.id, self.actors[user]
        if row.assignee is None:
            clock.set(claimed)
            with self.engine.uow(actor) as uow:
                tasks.claim(uow, task_id)
        clock.set(done)
        tasks.complete_task(self.engine, actor, task_id, data)


def _local(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), LOCAL_TZ)


def _complaint(driver: _Driver, day: date, n: int) -> None:
    kind = ("standard", "standard", "technical", "written")[n % 4]
    at = _local(day, 10, 5 + (n * 7) % 50)
    data = {"category": kind, "complaint_type": COMPLAINT_TYPES[n % len(COMPLAINT_TYPES)], "customer_name": "王先生",
            "contact_phone": "13900139000", "description": "客户对上月话费有疑问，要求核实"}
    iid = driver.start("counter_staff", at, "complaint_handling", data)
    late = n % 5 == 0
    if kind == "standard":  # 3 minutes at the counter
        done = at + timedelta(minutes=4, seconds=30) if late else at + timedelta(minutes=1, seconds=40 + (n % 4) * 15)
        driver.work("counter_staff", iid, at + timedelta(seconds=40), done, {"counter_action": "当场核实话费并解释"})
    elif kind == "technical":  # 24 hours
        done = at + timedelta(hours=27) if late else at + timedelta(hours=3 + n % 5)
        driver.work("duty_manager", iid, at + timedelta(minutes=25), done,
                    {"tech_cause": CAUSES[n % len(CAUSES)], "tech_action": "已提交网管核查并修正计费"})
    else:  # 3 working days
        done = at + timedelta(days=6) if late else at + timedelta(days=1, hours=2)
        driver.work("duty_manager", iid, at + timedelta(hours=1), done, {"written_reply": "已书面答复客户处理结果"})
    closed = done + timedelta(minutes=35)
    driver.work("counter_staff", iid, closed - timedelta(minutes=5), closed,
                {"resolution": "问题已解决，客户认可", "answered_at": done.strftime("%Y-%m-%dT%H:%M"),
                 "satisfaction": SATISFACTION[n % len(SATISFACTION)]})


def _counter(driver: _Driver, day: date, n: int) -> None:
    taken = _local(day, 9 + n % 2 * 6, 52 + n % 7)
    waited = timedelta(minutes=2 + (n * 3) % 7)
    data = {"category": CATEGORIES[n % len(CATEGORIES)], "customer_phone": "13800138000", "description": "客户到厅办理业务",
            "ticket_source": "machine", "ticket_number": f"A{100 + n % 90}", "ticket_time": taken.strftime("%Y-%m-%dT%H:%M")}
    if data["category"] == "payment":
        data["amount"] = 100
    accepted = taken + waited
    iid = driver.start("counter_staff", accepted, "one_counter", data)
    handled = timedelta(minutes=4) if n % 6 == 0 else timedelta(minutes=1, seconds=30 + (n % 5) * 20)
    driver.work("counter_staff", iid, accepted, accepted + handled, {"outcome": "cleared", "handle_note": "已办结"})


def _inspection(driver: _Driver, day: date, n: int, items: list[tuple[str, int]]) -> None:
    at = _local(day, 15, 30 + n % 20)
    iid = driver.start("hall_manager", at, "counter_inspection", {})
    points = {key: full for key, full in items}
    for missed in (items[n % len(items)][0], items[(n * 5) % len(items)][0])[: n % 3]:
        points[missed] = points[missed] // 2 if n % 2 else 0
    driver.work("hall_manager", iid, at, at + timedelta(minutes=6), {"staff_username": "counter_staff", **points})


def _facts(engine, months: list[str]) -> None:
    from engine.jobs.facts import import_facts
    from engine.jobs.scoring import load_rules

    metrics = load_rules()["team_ranking"]["facts"]  # component -> fact metric
    order = ("six_s", "activities", "innovation")
    lines = ["period,subject,metric,value"]
    for i, month in enumerate(months):
        for unit, scores in UNIT_SCORES.items():
            for component, score in zip(order, scores, strict=True):
                lines.append(f"{month},{unit},{metrics[component]},{score + (i * 3 if unit == 'hall-2' else i)}")
    with engine.uow(SYSTEM) as uow:
        import_facts(uow, "demo_team_scores.csv", ("\n".join(lines) + "\n").encode("utf-8"))


def seed_history_demo(engine, echo=print) -> None:
    from engine.jobs.runner import execute_job
    from engine.jobs.scoring import load_rules

    with engine.read() as session:
        if session.execute(select(JobRun.id).where(JobRun.job == "process_cycle_times")).first() is not None:
            return
        if session.get(OrgUnit, HALL) is None:
            echo("demo history: no hall-1, nothing seeded")
            return
    driver = _Driver(engine)
    if not driver.ready():
        echo("demo history: the hall's demo users are missing, nothing seeded")
        return
    today = utcnow().astimezone(LOCAL_TZ).date()
    days = _days(today)
    items = [(item["key"], int(item["points"])) for item in load_rules()["counter_service"]["items"]]
    try:
        for n, day in enumerate(days):
            _complaint(driver, day, n)
            _counter(driver, day, 2 * n)
            _counter(driver, day, 2 * n + 1)
            _inspection(driver, day, n, items)
    finally:
        clock.reset()
    months = _months(days, today)
    _facts(engine, months)
    for month in months:
        for job in ("sla_daily_report", "counter_service_score", "team_ranking"):
            execute_job(engine, job, month, "demo")
    weeks = sorted({f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}" for d in days})
    for week in weeks:
        execute_job(engine, "process_cycle_times", week, "demo")
    echo(f"demo history: {len(days)} days of complaints, counter transactions and service checks in {HALL} "
         f"({days[0].isoformat()}..{days[-1].isoformat()}); sla_daily_report, counter_service_score and team_ranking "
         f"run for {', '.join(months)}, process_cycle_times for {weeks[0]}..{weeks[-1]}")
