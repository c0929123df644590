"""Issue 17, items 6 and 11: validation messages never show a regex, and the cross-field order
of dates (``properties.after`` / ``notBefore``, engine/forms/order.py) is checked on the server.

The unit tests need no database; the API tests run the shipped processes on SQLite and
PostgreSQL (the ``api`` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.clock import clock
from engine.forms.model import check_form, validate_submission
from tests.support.business import (
    deploy,
    errors_of,
    form_json,
    instance,
    open_task,
    start,
    try_complete,
    try_start,
    upload,
    work,
)

PHONE = r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$"


def _errors(form: dict, data: dict) -> dict:
    try:
        validate_submission(form, data)
    except Exception as exc:  # marshmallow.ValidationError
        return exc.messages
    return {}


def _form(*components) -> dict:
    return {"id": "t", "type": "default", "components": list(components)}


def test_a_pattern_message_comes_from_the_form_never_the_regex():
    """001 「提供多种方式,方便客户的联系,随时向客户提供周到、细心及准确的服务。」: the staff
    registering a customer's number read what is wrong in words, not a regular expression."""
    field = {"type": "textfield", "key": "phone", "label": "联系电话", "validate": {"pattern": PHONE}}
    # nothing but the pattern: a sentence naming the field
    assert _errors(_form(field), {"phone": "12"}) == {"phone": ["Field 联系电话 is not in the expected format."]}
    # the field's description is the hint
    described = {**field, "description": "手机号或带区号的固定电话"}
    assert _errors(_form(described), {"phone": "12"}) == {
        "phone": ["Field 联系电话 is not in the expected format: 手机号或带区号的固定电话."]}
    # the form's own words win: form-js's patternErrorMessage, or patternMessage
    for key in ("patternErrorMessage", "patternMessage"):
        own = {**described, "validate": {"pattern": PHONE, key: "请输入11位手机号"}}
        assert _errors(_form(own), {"phone": "12"}) == {"phone": ["请输入11位手机号"]}
    assert _errors(_form(field), {"phone": "13800138000"}) == {}


def test_no_shipped_form_shows_a_pattern_to_the_user():
    """001 「客户咨询相关业务时客户经理必须做到耐心、细致、准确的解答」: every patterned field of the
    shipped forms says in Chinese what it expects."""
    from tests.support.business import form_ids

    def walk(components):
        for c in components or []:
            yield c
            yield from walk(c.get("components"))

    patterned = [(fid, c) for fid in form_ids() for c in walk(form_json(fid)["components"])
                 if (c.get("validate") or {}).get("pattern")]
    assert patterned
    for fid, c in patterned:
        message = c["validate"].get("patternErrorMessage", "")
        assert message and "^" not in message and "\\" not in message, (fid, c["key"])


def test_an_end_must_come_after_its_start():
    """001 「集团客户部每月做好集团协议的收、发、存盘点工作。」: an agreement whose term ends before
    it starts cannot be counted; the form refuses it with the message on the end date."""
    start_comp = {"type": "datetime", "subtype": "date", "key": "term_start", "label": "协议开始日期"}
    end_comp = {"type": "datetime", "subtype": "date", "key": "term_end", "label": "协议结束日期",
                "properties": {"after": "term_start"}}
    form = _form(start_comp, end_comp)
    assert check_form(form) == []
    assert _errors(form, {"term_start": "2026-06-30", "term_end": "2026-01-01"}) == {
        "term_end": ["Must be later than 协议开始日期."]}
    assert _errors(form, {"term_start": "2026-06-30", "term_end": "2026-06-30"}) == {
        "term_end": ["Must be later than 协议开始日期."]}
    assert _errors(form, {"term_start": "2026-01-01", "term_end": "2026-06-30"}) == {}
    assert _errors(form, {"term_end": "2026-01-01"}) == {}  # an empty start is the required rule's business
    # notBefore allows the same moment; date-times compare to the minute, an offset as it says
    inclusive = _form({"type": "datetime", "subtype": "datetime", "key": "a", "label": "登记时间"},
                      {"type": "datetime", "subtype": "datetime", "key": "b", "label": "答复时间",
                       "properties": {"notBefore": "a"}})
    assert _errors(inclusive, {"a": "2026-03-06T09:00", "b": "2026-03-06T09:00"}) == {}
    assert _errors(inclusive, {"a": "2026-03-06T09:00", "b": "2026-03-06T08:59"}) == {
        "b": ["Must not be earlier than 登记时间."]}
    assert _errors(inclusive, {"a": "2026-03-06T09:00", "b": "2026-03-06T01:00:00Z"}) == {}
    # inside a dynamic list the rule holds per row
    rows = _form({"type": "dynamiclist", "path": "periods", "components": [start_comp, end_comp]})
    assert _errors(rows, {"periods": [{"term_start": "2026-01-01", "term_end": "2026-02-01"},
                                      {"term_start": "2026-03-01", "term_end": "2026-02-01"}]}) == {
        "periods": {1: {"term_end": ["Must be later than 协议开始日期."]}}}


def test_an_order_rule_must_name_a_date_field_of_the_same_level():
    """001 「集团客户部应落实专人负责集团协议管理工作。」: a form that declares an order against a field it
    does not have never deploys, so the rule cannot silently do nothing."""
    end = {"type": "datetime", "subtype": "date", "key": "term_end", "properties": {"after": "term_begin"}}
    start_comp = {"type": "datetime", "subtype": "date", "key": "term_start"}
    assert [e["component"] for e in check_form(_form(start_comp, end))] == ["term_end"]
    text = {"type": "textfield", "key": "note", "properties": {"after": "term_start"}}
    assert [e["component"] for e in check_form(_form(start_comp, text))] == ["note"]


def test_an_agreement_ending_before_it_starts_is_refused(api):
    """001 「客户经理应将签定的协议交给信息管理员存档。」: the registered term must be a real one; the
    agreement form refuses an end before the start, on the end date, and accepts a real term."""
    clock.set(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    deploy(api, "group_agreement")
    data = {"group_name": "城关第一中学", "agreement_no": "JT-2026-0042", "tariff_plan": "集团V网 58元套餐",
            "term_start": "2026-06-30", "term_end": "2026-01-01",
            "customer_id_copy": [upload(api, "customer_manager", "营业执照.pdf")]}
    errors = errors_of(try_start(api, "customer_manager", "group_agreement", data))
    assert errors == {"term_end": ["Must be later than 协议开始日期."]}
    inst = start(api, "customer_manager", "group_agreement", {**data, "term_start": "2026-01-01",
                                                                "term_end": "2026-06-30"})
    assert instance(api, inst["id"], "customer_manager")["data"]["term_end"] == "2026-06-30"


def test_the_complaint_reply_shows_and_respects_the_registration_time(api):
    """003 「客户提交(投诉)问题 … 跟踪处理过程 答复。」: the closing step shows when the complaint was
    registered; an answer before it is refused on the answer's field; the shown time is not stored."""
    clock.set(datetime(2026, 11, 23, 6, 0, tzinfo=UTC))  # registered 14:00 in Beijing
    deploy(api, "complaint_handling")
    iid = start(api, "counter_staff", "complaint_handling",
                {"category": "standard", "complaint_type": "billing_support", "customer_name": "张三",
                 "contact_phone": "13800138000", "description": "话费扣费有误"})["id"]
    work(api, "counter_staff", iid, "resolve_counter", {"counter_action": "已退还多扣话费"})
    close = open_task(api, iid, "close")
    assert close["data"]["case_registered_at"] == "2026-11-23T14:00"
    answer = {"resolution": "已解决", "satisfaction": "satisfied", "case_registered_at": "2026-11-23T14:00"}
    errors = errors_of(try_complete(api, "counter_staff", close["id"], {**answer, "answered_at": "2026-11-23T13:40"}))
    assert errors == {"answered_at": ["Must not be earlier than 登记时间."]}
    # without the shown time the task property still refuses it (the server never trusts the page)
    errors = errors_of(try_complete(api, "counter_staff", close["id"],
                                    {"resolution": "已解决", "satisfaction": "satisfied", "answered_at": "2026-11-23T13:40"}))
    assert "不能早于登记时间（2026-11-23 14:00）" in errors["answered_at"][0]
    work(api, "counter_staff", iid, "close", {**answer, "answered_at": "2026-11-23T20:40"})
    data = instance(api, iid, "counter_staff")["data"]
    assert data["answered_at"] == "2026-11-23T20:40" and "case_registered_at" not in data


def test_a_wrong_phone_number_is_refused_in_words(api):
    """001 「提供多种方式,方便客户的联系,随时向客户提供周到、细心及准确的服务。」: the complaint's start
    form refuses a wrong contact number with the form's Chinese sentence, not the pattern."""
    deploy(api, "complaint_handling")
    errors = errors_of(try_start(api, "counter_staff", "complaint_handling",
                                 {"category": "standard", "complaint_type": "billing_support", "customer_name": "张三",
                                  "contact_phone": "12345", "description": "话费扣费有误"}))
    assert errors == {"contact_phone": ["请输入11位手机号，或带区号的固定电话（如 0871-1234567）"]}
