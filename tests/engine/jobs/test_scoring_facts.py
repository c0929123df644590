"""``bpm facts import``: row-level validation, all-or-nothing, audit, re-import replaces.

Runs on SQLite and PostgreSQL (the ``engine`` fixture); subjects are the seeded users
(``customer_manager`` ...) and org units (``hall-1``, ``hall-2``).
"""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine.identity.actor import SYSTEM
from engine.jobs.facts import FactsImportError, import_facts
from engine.store.models import AuditEvent, Fact

GOOD = (
    "period,subject,metric,value\n"
    "2026-10,customer_manager,group_revenue,128000\n"
    "2026-10,customer_manager,group_revenue_target_full,120000\n"
    "2026-10,hall-1,six_s_score,92.5\n"
)


def run_import(engine, text: str | bytes, name: str = "facts.csv", dry_run: bool = False, actor=SYSTEM):
    data = text.encode("utf-8") if isinstance(text, str) else text
    with engine.uow(actor) as uow:
        return import_facts(uow, name, data, dry_run=dry_run)


def errors_of(engine, text, **kw) -> list[str]:
    with pytest.raises(FactsImportError) as exc:
        run_import(engine, text, **kw)
    assert exc.value.status == 422
    return exc.value.errors


def facts(engine) -> dict:
    with engine.read() as session:
        rows = session.execute(select(Fact.period, Fact.subject_key, Fact.metric, Fact.value, Fact.source)).all()
    return {(p, s, m): (v, src) for p, s, m, v, src in rows}


def audits(engine, action: str) -> list[dict]:
    with engine.read() as session:
        return [e.details for e in session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).scalars()]


def test_a_good_file_is_imported_and_audited(engine):
    summary = run_import(engine, GOOD, name="2026-10 集团收入.csv")
    assert summary["rows"] == 3 and summary["replaced"] == 0 and summary["periods"] == ["2026-10"]
    assert facts(engine) == {
        ("2026-10", "customer_manager", "group_revenue"): (128000.0, "2026-10 集团收入.csv"),
        ("2026-10", "customer_manager", "group_revenue_target_full"): (120000.0, "2026-10 集团收入.csv"),
        ("2026-10", "hall-1", "six_s_score"): (92.5, "2026-10 集团收入.csv"),
    }
    [event] = audits(engine, "facts_imported")
    assert event["file"] == "2026-10 集团收入.csv" and event["rows"] == 3
    assert event["sha256"] == hashlib.sha256(GOOD.encode("utf-8")).hexdigest()


def test_reimport_replaces_the_same_period_subject_and_metric(engine):
    run_import(engine, GOOD, name="first.csv")
    second = "period,subject,metric,value\n2026-10,customer_manager,group_revenue,130000\n2026-11,customer_manager,group_revenue,1\n"
    summary = run_import(engine, second, name="second.csv")
    assert summary["replaced"] == 1
    got = facts(engine)
    assert got[("2026-10", "customer_manager", "group_revenue")] == (130000.0, "second.csv")
    assert got[("2026-10", "customer_manager", "group_revenue_target_full")] == (120000.0, "first.csv")  # untouched
    assert got[("2026-11", "customer_manager", "group_revenue")] == (1.0, "second.csv")
    assert len(got) == 4
    assert [e["replaced"] for e in audits(engine, "facts_imported")] == [0, 1]


@pytest.mark.parametrize(("row", "error"), [
    ("2026-13,customer_manager,group_revenue,1", "line 3: period: invalid period '2026-13'"),
    ("Oct 2026,customer_manager,group_revenue,1", "line 3: period: invalid period 'Oct 2026'"),
    ("2026-10-05,customer_manager,group_revenue,1", "line 3: period: '2026-10-05' is a day"),
    ("2026-10,customer_manager,group_revnue,1", "line 3: metric: unknown metric 'group_revnue'"),
    ("2026-10,customer_manager,agreements_signed,1", "line 3: metric: 'agreements_signed' is computed by the engine"),
    ("2026-10,ghost,group_revenue,1", "line 3: subject: unknown user 'ghost'"),
    ("2026-10,hall-1,group_revenue,1", "line 3: subject: unknown user 'hall-1'"),
    ("2026-10,hall-9,six_s_score,1", "line 3: subject: unknown org unit 'hall-9'"),
    ("2026-10,customer_manager,group_revenue,12万", "line 3: value: Not a valid number."),
    ("2026-10,customer_manager,group_revenue,", "line 3: value: Missing data for required field."),
    ("2026-10,customer_manager,group_revenue,nan", "line 3: value:"),
    ("2026-10,customer_manager,group_revenue,-5", "line 3: value: must be at least 0 for group_revenue"),
    ("2026-10,hall-1,six_s_score,101", "line 3: value: must be at most 100 for six_s_score"),
    ("2026-10,customer_manager,group_revenue,1,x,y", "line 3: row: 6 cells but the header has 4 columns"),
    ("2026-10,customer_manager,group_revenue,5", "line 3: metric: duplicate of line 2"),
])
def test_each_bad_row_is_reported_and_nothing_is_imported(engine, row, error):
    text = "period,subject,metric,value\n2026-10,customer_manager,group_revenue,1\n" + row + "\n"
    errors = errors_of(engine, text)
    assert len(errors) == 1 and errors[0].startswith(error), errors
    assert facts(engine) == {}
    assert audits(engine, "facts_imported") == []


def test_every_error_of_a_file_is_reported_at_once(engine):
    text = ("period,subject,metric,value\n"
            "2026-10,customer_manager,group_revenue,1\n"
            "\n"
            "2026-10,ghost,nope,abc\n"
            "2026-99,hall-1,six_s_score,50\n")
    errors = errors_of(engine, text)
    assert len(errors) == 4, errors
    assert {e.split(":")[0] for e in errors} == {"line 4", "line 5"}
    assert any(e.startswith("line 4: subject: unknown subject 'ghost'") for e in errors)
    assert any(e.startswith("line 4: metric: unknown metric 'nope'") for e in errors)
    assert any(e.startswith("line 4: value: Not a valid number.") for e in errors)
    assert any(e.startswith("line 5: period: invalid period '2026-99'") for e in errors)
    assert facts(engine) == {}


@pytest.mark.parametrize(("text", "error"), [
    ("", "line 1: file: the file is empty"),
    ("period,subject,metric\n2026-10,customer_manager,group_revenue\n", "line 1: header: missing column 'value'"),
    ("period,subject,metric,value,amount\n", "line 1: header: unknown column 'amount'"),
    ("period,subject,metric,value\n", "line 2: file: no data rows"),
])
def test_a_bad_header_or_an_empty_file_is_refused(engine, text, error):
    assert errors_of(engine, text)[0].startswith(error)


def test_bom_chinese_headers_notes_and_gb18030_are_read(engine):
    text = "\ufeff期间,对象,指标,数值,备注\n2026-10,customer_manager,churned_customers,3,三户离网\n"
    assert run_import(engine, text.encode("utf-8"))["encoding"] == "utf-8"
    excel = "期间,对象,指标,数值\n2026-10,hall-2,innovation_score,80\n".encode("gb18030")
    assert run_import(engine, excel)["encoding"] == "gb18030"
    assert set(facts(engine)) == {("2026-10", "customer_manager", "churned_customers"),
                                  ("2026-10", "hall-2", "innovation_score")}


def test_a_yearly_fact_is_accepted(engine):
    run_import(engine, "period,subject,metric,value\n2026,hall-1,innovation_score,75\n")
    assert ("2026", "hall-1", "innovation_score") in facts(engine)


def test_dry_run_validates_without_importing(engine):
    assert run_import(engine, GOOD, dry_run=True)["rows"] == 3
    assert facts(engine) == {} and audits(engine, "facts_imported") == []


def test_the_cli_imports_and_exits_2_on_errors(engine, db, tmp_path, monkeypatch):
    from bpm_cli.main import main

    url, _ = db
    monkeypatch.setenv("BPM_DATABASE_URL", url)
    monkeypatch.setenv("BPM_VAR_DIR", str(tmp_path / "var"))
    bad = tmp_path / "bad.csv"
    bad.write_text("period,subject,metric,value\n2026-10,ghost,group_revenue,x\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["facts", "import", str(bad)])
    assert result.exit_code == 2, result.output
    assert "line 2: subject: unknown user 'ghost'" in result.output
    assert "line 2: value: Not a valid number." in result.output
    good = tmp_path / "good.csv"
    good.write_text(GOOD, encoding="utf-8")
    result = CliRunner().invoke(main, ["facts", "import", str(good), "--dry-run"])
    assert result.exit_code == 0 and "3 facts valid (dry run" in result.output, result.output
    assert facts(engine) == {}
    result = CliRunner().invoke(main, ["facts", "import", str(good), "--as", "admin"])
    assert result.exit_code == 0 and "3 facts imported from good.csv" in result.output, result.output
    assert len(facts(engine)) == 3
    with engine.read() as session:
        assert set(session.execute(select(Fact.imported_by)).scalars()) == {"admin"}


def test_the_demo_file_is_valid(engine):
    from engine.jobs.scoring import DEFAULT_RULES

    demo = DEFAULT_RULES.parent / "demo_facts.csv"
    assert run_import(engine, demo.read_bytes(), name=demo.name, dry_run=True)["rows"] == 20
