"""The scoring rules file and the pure scoring functions against hand-computed examples.

No database: these are the numbers the customer_manager_kpi, counter_service_score and
team_ranking jobs apply to their SQL aggregates.
"""

from __future__ import annotations

import copy
import json

import pytest

from engine.forms.model import check_form, field_summary
from engine.jobs import scoring
from engine.jobs.scoring import (
    RulesError,
    checklist_score,
    churn_rate,
    churn_score,
    competition_ranks,
    delta_score,
    load_rules,
    parse_rules,
    score_customer_manager,
    team_score,
    tier_score,
)
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def rules():
    return load_rules()


def raw_rules() -> dict:
    return json.loads(scoring.DEFAULT_RULES.read_text(encoding="utf-8"))


def shipped_tiers():
    """The tier table of the shipped decision processes/kpi_tier.dmn (what the job deploys and reads)."""
    from engine.bpmn import dmn

    return scoring.decision_table(dmn.parse((ROOT / "processes" / "kpi_tier.dmn").read_bytes())[0])


TIERS = shipped_tiers()


# --------------------------------------------------------------------------- tiers


# 001 重要室经理考核制度: 「完成指标得满分,若只完成基本目标得全分值的90%,若完成挑战目标得全分」
@pytest.mark.parametrize(("actual", "score", "tier"), [
    (150_000, 30.0, "challenge"),   # challenge target: 得全分, full points (100 %), never more
    (170_000, 30.0, "challenge"),   # above the challenge target: still 100 %
    (120_000, 30.0, "full"),        # exactly at the full target: 100 %
    (149_999, 30.0, "full"),        # between full and challenge: the lower tier
    (100_000, 27.0, "basic"),       # exactly at the basic target only: 90 %
    (119_999, 27.0, "basic"),       # between basic and full: still 90 %, no interpolation
    (50_000, 13.5, "below_basic"),  # half the basic target: 90 % x 0.5 = 45 % of 30
    (0, 0.0, "below_basic"),
])
def test_a_revenue_dimension_is_scored_by_tier(actual, score, tier):
    result = tier_score(30, actual, basic=100_000, full=120_000, challenge=150_000, table=TIERS)
    assert (result.score, result.tier) == (score, tier)
    # the shares written in the rules file instead of a decision give the same (the sources' values)
    plain = tier_score(30, actual, basic=100_000, full=120_000, challenge=150_000)
    assert (plain.score, plain.tier) == (score, tier)


def test_below_basic_can_score_zero_and_no_challenge_target_means_full_is_the_best():
    assert tier_score(30, 99_999, 100_000, 120_000, 150_000, below_basic="zero", table=TIERS).score == 0
    # no challenge target given: the full tier is the best there is
    assert tier_score(25, 1e9, 20_000, 25_000, None, table=TIERS).score == 25


def test_a_table_edited_to_pay_a_challenge_bonus_is_followed():
    from engine.bpmn import dmn

    xml = (ROOT / "processes" / "kpi_tier.dmn").read_text(encoding="utf-8").replace(
        '<outputEntry id="r_challenge_pct"><text>100</text>', '<outputEntry id="r_challenge_pct"><text>110</text>')
    table = scoring.decision_table(dmn.parse(xml.encode())[0])
    assert tier_score(30, 150_000, 100_000, 120_000, 150_000, table=table).score == 33


# --------------------------------------------------------------------------- churn line


@pytest.mark.parametrize(("churned", "total", "rate", "score"), [
    (2, 100, 2.0, 15.0),      # exactly on the 2 % line: full points
    (21, 1000, 2.1, 14.0),    # 0.1 point above: -1
    (19, 1000, 1.9, 15.5),    # 0.1 point below: +0.5
    (23, 1000, 2.3, 12.0),    # 0.3 above (0.3 / 0.1 is 2.999... in binary: still 3 steps)
    (205, 10000, 2.05, 15.0), # half a step above: not a whole step, full points
    (3, 140, 2.142857, 14.0), # 2.14 %: one whole step
    (0, 500, 0.0, 18.0),      # 2 points below = 20 steps, bonus capped at +3
    (500, 1000, 50.0, 0.0),   # far above: never below 0
])
def test_churn_is_scored_against_the_2_percent_line(churned, total, rate, score):
    assert churn_rate(churned, total) == pytest.approx(rate, abs=1e-6)
    assert churn_score(15, churn_rate(churned, total), line_pct=2.0, step_pct=0.1, penalty_per_step=1,
                       bonus_per_step=0.5, max_bonus=3, max_penalty=15) == score


def test_no_customers_gives_no_churn_rate():
    assert churn_rate(0, 0) is None


@pytest.mark.parametrize(("actual", "score"), [(50, 15), (64, 16), (80, 18), (200, 18), (41, 15), (40, 14), (0, 10)])
def test_member_growth_adds_and_subtracts_per_whole_unit(actual, score):
    # target 50, 1 point per 10 members, at most +3
    assert delta_score(15, actual, 50, unit=10, points_per_unit=1, max_bonus=3, max_penalty=15) == score


# --------------------------------------------------------------------------- a whole month


FACTS = {
    "group_revenue": 128_000, "group_revenue_target_basic": 100_000, "group_revenue_target_full": 120_000,
    "group_revenue_target_challenge": 150_000,
    "info_revenue": 21_000, "info_revenue_target_basic": 20_000, "info_revenue_target_full": 25_000,
    "info_revenue_target_challenge": 30_000,
    "member_growth": 64, "member_growth_target": 50,
    "product_promotions": 3, "product_promotion_target": 4,
    "churned_customers": 3, "group_customers_total": 140,
    "perception_score": 100.0,  # the month's perception survey (engine metric): every call answered yes
}


def test_a_customer_managers_month_matches_the_hand_computation(rules):
    """001 客户经理考核制度 a)–e) and 000 篇3/4 感知度 「抽查并打分」: the five items and the perception item."""
    kpi = rules["customer_manager_kpi"]
    # revenue full (25) + informatisation basic only (18) + members 14 over (16)
    # + promotions 3 + 1 signed agreement = 4 = target (15) + churn 2.14 % (14) + perception 100 (10) = 98
    m = score_customer_manager(kpi, {**FACTS, "agreements_signed": 1, "complaints_dissatisfied": 0}, TIERS)
    assert (m["revenue"], m["informatisation"], m["members"], m["promotion"], m["retention"], m["perception"]) == (
        25.0, 18.0, 16.0, 15.0, 14.0, 10.0)
    assert m["revenue_tier"] == "full" and m["informatisation_tier"] == "basic"
    assert m["group_revenue"] == 128_000 and m["agreements_signed"] == 1  # the inputs are kept next to the scores
    assert m["churn_rate_pct"] == pytest.approx(2.1429, abs=1e-4)
    assert m["total"] == 98 and m["missing"] == ""
    # two dissatisfied complaints: -1 each
    m2 = score_customer_manager(kpi, {**FACTS, "agreements_signed": 1, "complaints_dissatisfied": 2}, TIERS)
    assert m2["complaints"] == -2 and m2["total"] == 96
    # eight of them: capped at -5
    assert score_customer_manager(kpi, {**FACTS, "agreements_signed": 1, "complaints_dissatisfied": 8},
                                  TIERS)["total"] == 93
    # the perception item: 10 points x the average call score / 100
    half = score_customer_manager(kpi, {**FACTS, "perception_score": 62.5, "agreements_signed": 1,
                                        "complaints_dissatisfied": 0}, TIERS)
    assert (half["perception"], half["total"]) == (6.25, 94.25)


def test_a_to_c_score_against_both_standards_when_the_room_is_given(rules):
    """001 客户经理考核制度 a)「对客户经理所负责的集团单位月收入及重要室当月集团收入为标准」, b), c) likewise;
    d)「根据当月行业产品的指标」 and e) churn against 2 %: the manager's own figures only.

    The room (two managers) made 218,000 of revenue against 200,000 / 240,000 / 300,000 (basic
    tier: 90 % of the room's 30 % share, 6.75), the manager 128,000 against 100,000 / 120,000 /
    150,000 (full: 70 % of 25 = 17.5); members: the room 94 against 100, per manager 47 against 50
    (less than one whole 10 below: no deduction), the manager 64 against 50 (+1 x 70 %)."""
    kpi = rules["customer_manager_kpi"]
    room = {"group_revenue": 218_000, "group_revenue_target_basic": 200_000, "group_revenue_target_full": 240_000,
            "group_revenue_target_challenge": 300_000, "info_revenue": 52_000, "info_revenue_target_basic": 40_000,
            "info_revenue_target_full": 50_000, "info_revenue_target_challenge": 60_000,
            "member_growth": 94, "member_growth_target": 100}
    m = score_customer_manager(kpi, {**FACTS, "agreements_signed": 1, "complaints_dissatisfied": 0}, TIERS,
                               room_values=room, room_size=2)
    assert (m["revenue_own"], m["revenue_room"], m["revenue"]) == (17.5, 6.75, 24.25)
    assert (m["revenue_tier"], m["revenue_room_tier"]) == ("full", "basic")
    assert (m["informatisation_own"], m["informatisation_room"], m["informatisation"]) == (12.6, 6.0, 18.6)
    assert (m["members_own"], m["members_room"], m["members"]) == (11.2, 4.5, 15.7)
    assert (m["promotion"], m["retention"]) == (15.0, 14.0) and "promotion_room" not in m and "retention_own" not in m
    assert m["total"] == 24.25 + 18.6 + 15.7 + 15 + 14 + 10
    # a room of one is the manager's own month: the same points as without the room
    alone = score_customer_manager(kpi, {**FACTS, "agreements_signed": 1, "complaints_dissatisfied": 0}, TIERS,
                                   room_values=FACTS, room_size=1)
    plain = score_customer_manager(kpi, {**FACTS, "agreements_signed": 1, "complaints_dissatisfied": 0}, TIERS)
    assert [alone[k] for k in ("revenue", "informatisation", "members", "total")] == [
        plain[k] for k in ("revenue", "informatisation", "members", "total")]


# every challenge target met (得全分), 20 members over the target (+2), one promotion over (+1) and
# a churn of 1.0 % (10 steps below the line: +5, capped at +3), perception 100: 25 + 20 + 17 + 16 + 18 + 10 = 106
OVER = {**FACTS, "group_revenue": 150_000, "info_revenue": 30_000, "member_growth": 70, "product_promotions": 5,
        "churned_customers": 1, "group_customers_total": 100}


def test_the_total_never_exceeds_the_full_mark_and_the_items_show_what_they_earned(rules):
    """001 重要室经理考核制度 「若完成挑战目标得全分」 and 满分100分: the bonuses stay in their items (an
    auditor sees them), the total stops at 100."""
    kpi = rules["customer_manager_kpi"]
    assert kpi["max_total"] == 100
    m = score_customer_manager(kpi, {**OVER, "agreements_signed": 0, "complaints_dissatisfied": 0}, TIERS)
    assert (m["revenue"], m["informatisation"], m["members"], m["promotion"], m["retention"]) == (
        25.0, 20.0, 17.0, 16.0, 18.0)
    assert m["revenue_tier"] == m["informatisation_tier"] == "challenge"
    assert (m["raw_total"], m["total"], m["full_marks"]) == (106.0, 100.0, 100.0)
    # deductions come off the raw sum: 106 - 5 = 101 is still over the full mark
    worse = score_customer_manager(kpi, {**OVER, "agreements_signed": 0, "complaints_dissatisfied": 5}, TIERS)
    assert (worse["complaints"], worse["raw_total"], worse["total"]) == (-5.0, 101.0, 100.0)
    # 106 - 5 (at most) with two promotions fewer: 104 - 5 = 99, under the cap: the plain sum
    under = score_customer_manager(kpi, {**OVER, "product_promotions": 3, "agreements_signed": 0,
                                         "complaints_dissatisfied": 9}, TIERS)
    assert (under["promotion"], under["raw_total"], under["total"]) == (14.0, 99.0, 99.0)
    # a month within the sheet: the total is the sum, as before
    plain = score_customer_manager(kpi, {**FACTS, "agreements_signed": 1, "complaints_dissatisfied": 0}, TIERS)
    assert plain["raw_total"] == plain["total"] == 98


def test_the_full_mark_is_data(rules):
    """``max_total`` in the rules: 100 when the file does not say; the points must add up to it."""
    raw = copy.deepcopy(raw_rules())
    del raw["customer_manager_kpi"]["max_total"]
    assert parse_rules(raw)["customer_manager_kpi"]["max_total"] == 100
    # a sheet of 200 points (every item doubled) caps at 200
    raw["customer_manager_kpi"]["max_total"] = 200
    for dim in raw["customer_manager_kpi"]["dimensions"]:
        dim["points"] *= 2
    kpi = parse_rules(raw)["customer_manager_kpi"]
    m = score_customer_manager(kpi, {**OVER, "agreements_signed": 0, "complaints_dissatisfied": 0}, TIERS)
    assert (m["revenue"], m["raw_total"], m["total"], m["full_marks"]) == (50.0, 206.0, 200.0, 200.0)


def test_missing_facts_score_zero_and_are_listed(rules):
    kpi = rules["customer_manager_kpi"]
    values = {**FACTS, "churned_customers": None, "info_revenue_target_full": None}
    m = score_customer_manager(kpi, {**values, "agreements_signed": 0, "complaints_dissatisfied": 0}, TIERS)
    assert m["missing"] == "informatisation,retention"
    assert m["informatisation"] == 0 and m["retention"] == 0
    # nothing imported at all: every dimension missing (promotion has the engine's 0 agreements but no target)
    empty = score_customer_manager(kpi, {"agreements_signed": 0, "complaints_dissatisfied": 0}, TIERS)
    assert empty["total"] == 0
    assert empty["missing"] == "revenue,informatisation,members,promotion,retention,perception"


# --------------------------------------------------------------------------- checklist and ranking


def test_checklist_points_are_clamped_to_each_item(rules):
    items = rules["counter_service"]["items"]
    answers = {item["key"]: item["points"] for item in items}
    answers["smile_service"] = 7
    answers["standing_service"] = 99  # more than the item's points
    answers["wait_two"] = -3
    points, total = checklist_score(items, answers)
    assert points["smile_service"] == 7 and points["standing_service"] == 10 and points["wait_two"] == 0
    assert total == 120 - 3 - 10


def test_team_score_reweights_missing_components():
    weights = {"kpi": 30, "activities": 15, "six_s": 20, "inspections": 20, "innovation": 15}
    full = {"kpi": 80, "activities": 90, "six_s": 70, "inspections": 60, "innovation": 100}
    # (30*80 + 15*90 + 20*70 + 20*60 + 15*100) / 100 = 78.5
    assert team_score(weights, full) == 78.5
    # no KPI: (15*90 + 20*70 + 20*60 + 15*100) / 70 = 5450 / 70 = 77.857
    assert team_score(weights, {**full, "kpi": None}) == 77.86
    assert team_score(weights, {**full, "kpi": None}, missing="zero") == 54.5
    assert team_score(weights, dict.fromkeys(full)) is None


def test_ranks_share_ties():
    assert competition_ranks([("a", 70), ("b", 90), ("c", 70), ("d", 50)]) == {"b": 1, "a": 2, "c": 2, "d": 4}


# --------------------------------------------------------------------------- the rules file


def test_the_packaged_rules_follow_the_sources(rules):
    kpi = rules["customer_manager_kpi"]
    assert [d["label_zh"] for d in kpi["dimensions"]] == ["集团收入", "集团信息化收入", "集团客户到达数", "集团产品推广",
                                                          "集团客户保有", "客户经理感知度"]
    # 001 a)-c) 「…及重要室当月…为标准」: both standards; d) e) the manager's own
    assert [d["key"] for d in kpi["dimensions"] if d.get("room_share_pct")] == ["revenue", "informatisation", "members"]
    # 000 篇3/4: 满意度、集团资费认知度、当时开展活动内容认知度、客户经理认知度
    assert [i["label_zh"] for i in rules["perception_survey"]["items"]] == [
        "满意度", "集团资费认知度", "当时开展活动内容认知度", "客户经理认知度"]
    assert sum(d["points"] for d in kpi["dimensions"]) == 100 == kpi["max_total"]  # 满分100分
    [complaints] = kpi["adjustments"]  # -1 per dissatisfied complaint about the manager, at most -5
    assert (complaints["metric"], complaints["points_per_unit"], complaints["min"]) == ("complaints_dissatisfied", -1, -5)
    assert kpi["tiers"]["decision"] == "kpi_tier"  # the shares: processes/kpi_tier.dmn (tests above)
    retention = next(d for d in kpi["dimensions"] if d["key"] == "retention")
    assert (retention["method"], retention["line_pct"]) == ("churn", 2.0)
    labels = [item["label_zh"] for item in rules["counter_service"]["items"]]
    # 000_*.txt 附表四: "把微笑服务、站立服务、接一、待二、招呼三等等十余项指标设计一个工作表" -- the five items
    # named, in that order and as separate items, and more than ten in all
    assert labels[:5] == ["微笑服务", "站立服务", "接一", "待二", "招呼三"] and 10 < len(labels) < 20
    assert all(item["label_en"] for item in rules["counter_service"]["items"])
    assert set(rules["team_ranking"]["weights"]) == {"kpi", "activities", "six_s", "inspections", "innovation"}


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r["customer_manager_kpi"]["dimensions"][2].update(points="x"),
     "customer_manager_kpi.dimensions[2].points: Not a valid number."),
    (lambda r: r["customer_manager_kpi"]["dimensions"][0].update(points=30),
     "customer_manager_kpi.dimensions: points must sum to 100 (they sum to 105)"),
    (lambda r: r["customer_manager_kpi"].update(max_total=90),
     "customer_manager_kpi.dimensions: points must sum to 90 (they sum to 100): max_total, the sheet's full mark"),
    (lambda r: r["customer_manager_kpi"].update(max_total=0),
     "customer_manager_kpi.max_total: Must be greater than 0."),
    (lambda r: r["customer_manager_kpi"]["dimensions"][2].update(max_bonus=90),
     "customer_manager_kpi.dimensions[2].max_bonus: points + max_bonus (105) exceed the full mark max_total (100)"),
    (lambda r: r["customer_manager_kpi"]["dimensions"][4].pop("line_pct"),
     "customer_manager_kpi.dimensions[4].line_pct: is required by method 'churn'"),
    (lambda r: r["customer_manager_kpi"]["dimensions"][0]["targets"].update(full="group_revnue_target_full"),
     "customer_manager_kpi.dimensions[0].targets.full: unknown metric 'group_revnue_target_full'"),
    (lambda r: r["customer_manager_kpi"]["tiers"].update(basic_pct=120, full_pct=100, challenge_pct=100),
     "customer_manager_kpi.tiers.basic_pct: must satisfy basic_pct <= full_pct <= challenge_pct"),
    (lambda r: r["customer_manager_kpi"]["tiers"].pop("decision"),
     "customer_manager_kpi.tiers.basic_pct: name the tier decision, or give basic_pct, full_pct and challenge_pct"),
    (lambda r: r["customer_manager_kpi"]["dimensions"][1].update(method="linear"),
     "customer_manager_kpi.dimensions[1].method: Must be one of: tiers, delta, churn, percent."),
    (lambda r: r["customer_manager_kpi"]["dimensions"][4].update(room_share_pct=30),
     "customer_manager_kpi.dimensions[4].room_share_pct: only methods tiers, delta score against the room"),
    (lambda r: r["customer_manager_kpi"]["dimensions"][0].update(room_share_pct=130),
     "customer_manager_kpi.dimensions[0].room_share_pct: Must be greater than or equal to 0 and less than or equal to 100."),
    (lambda r: r["perception_survey"]["answers"].pop("partly"),
     "perception_survey.answers: must give a share for each of yes, partly, no"),
    (lambda r: r["team_ranking"]["weights"].update(kpi=-5),
     "team_ranking.weights.kpi: Must be greater than or equal to 0."),
    (lambda r: r["team_ranking"]["weights"].update(kpi=40),
     "team_ranking.weights: must sum to 100 (they sum to 110)"),
    (lambda r: r["metrics"]["six_s_score"].update(subject="user"),
     "team_ranking.facts.six_s: unknown metric 'six_s_score'"),
    (lambda r: r["counter_service"]["items"].append(dict(r["counter_service"]["items"][0])),
     "counter_service.items[12].key: duplicate key 'smile_service'"),
    (lambda r: r.pop("team_ranking"), "team_ranking: Missing data for required field."),
    (lambda r: r["customer_manager_kpi"]["dimensions"][0].update(key="group_revenue"),
     "customer_manager_kpi.dimensions[0].key: 'group_revenue' is a metric name or reserved"),
])
def test_a_bad_rules_file_is_refused_naming_the_key(change, message):
    raw = copy.deepcopy(raw_rules())
    change(raw)
    with pytest.raises(RulesError) as exc:
        parse_rules(raw, "rules.json")
    assert message in str(exc.value), str(exc.value)
    assert str(exc.value).startswith("rules.json: ")


def test_the_rules_file_can_be_replaced_through_the_environment(tmp_path, monkeypatch):
    from engine import features
    from engine.config import load_settings

    raw = raw_rules()
    raw["customer_manager_kpi"]["tiers"]["below_basic"] = "zero"
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    monkeypatch.setenv("BPM_SCORING_RULES", str(path))
    try:
        features.configure(load_settings())  # what every BpmEngine does with its settings
        assert load_rules()["customer_manager_kpi"]["tiers"]["below_basic"] == "zero"
        path.write_text("{not json", encoding="utf-8")
        with pytest.raises(RulesError, match="cannot read the scoring rules"):
            load_rules()
    finally:
        monkeypatch.delenv("BPM_SCORING_RULES")
        features.configure(load_settings())
    assert load_rules()["customer_manager_kpi"]["tiers"]["below_basic"] == "proportional"


def test_the_inspection_form_has_one_field_per_checklist_item(rules):
    form = json.loads((ROOT / "forms" / "counter_inspection.form").read_text(encoding="utf-8"))
    assert check_form(form) == []
    fields = {f["key"]: f for f in field_summary(form)}
    by_key = {c.get("key"): c for c in form["components"]}
    for item in rules["counter_service"]["items"]:
        assert item["key"] in fields, item["key"]
        comp = by_key[item["key"]]
        assert comp["type"] == "number" and comp["validate"]["max"] == item["points"] and comp["validate"]["min"] == 0
        assert item["label_zh"] in comp["label"]
    assert fields["staff_username"]["required"]
    # 附表四 (000_*.txt): 微笑服务、站立服务、接一、待二、招呼三 are five separate fields of the sheet, in that order
    numbers = [c["label"] for c in form["components"] if c["type"] == "number"]
    assert [label.split("（")[0] for label in numbers[:5]] == ["微笑服务", "站立服务", "接一", "待二", "招呼三"]
    assert len(numbers) == len(rules["counter_service"]["items"])
    # the inspected person is picked from the hall's counter staff, filled in by the task (engine/forms/options.py)
    assert by_key["staff_username"]["type"] == "select" and by_key["staff_username"]["valuesKey"] == "hall_staff"
    bpmn = (ROOT / "processes" / "counter_inspection.bpmn").read_text(encoding="utf-8")
    assert '<camunda:property name="options.hall_staff" value="users:counter_staff" />' in bpmn


def test_the_rules_file_is_packaged():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"jobs/data/*.json"' in pyproject


def test_a_complaint_can_name_the_manager_it_is_about():
    """000: the manager's "4W" service is monitored through complaints about them: the
    registration names the person concerned (涉及人员), optional (most complaints are about the
    network or billing); the KPI counts dissatisfied complaints by that name (engine/jobs/kpi.py)."""
    form = json.loads((ROOT / "forms" / "complaint_intake.form").read_text(encoding="utf-8"))
    assert check_form(form) == []
    fields = {f["key"]: f for f in field_summary(form)}
    assert fields["manager_concerned"]["required"] is False
    comp = next(c for c in form["components"] if c.get("key") == "manager_concerned")
    assert comp["label"].startswith("涉及人员")
    from engine.jobs.kpi import MANAGER_CONCERNED

    assert MANAGER_CONCERNED == "manager_concerned"


def test_the_call_form_asks_every_perception_item_with_the_rules_answers(rules):
    """000 篇3/4 「感知度分满意度、集团资费认知度、当时开展活动内容认知度、客户经理认知度进行抽查并打分」: the
    call form (forms/perception_call.form) has one question per item of the rules, each answered
    yes / partly / no, shown only once the call is reached."""
    form = json.loads((ROOT / "forms" / "perception_call.form").read_text(encoding="utf-8"))
    assert check_form(form) == []
    by_key = {c.get("key"): c for c in form["components"] if c.get("key")}
    for item in rules["perception_survey"]["items"]:
        question = by_key[item["key"]]
        assert [v["value"] for v in question["values"]] == list(scoring.PERCEPTION_ANSWERS), item["key"]
        assert question["conditional"]["hide"] == '=reached != "yes"'
    assert [v["value"] for v in by_key["reached"]["values"]] == ["yes", "no"]
