"""The case summary's presenter (engine/forms/summary.py): form labels, option labels, 是/否,
dynamic lists as tables, dates in China time, documents by name, nothing internal."""

from __future__ import annotations

from engine.forms.summary import DocRef, document_ids, people_values, present

FORM = {
    "id": "supply_request", "type": "default",
    "components": [
        {"type": "text", "text": "请填写供货审批表"},
        {"type": "textfield", "key": "licence_no", "label": "零售户许可证号"},
        {"type": "dynamiclist", "path": "lines", "label": "供货明细", "components": [
            {"type": "select", "key": "brand", "label": "品牌",
             "values": [{"label": "芙蓉王", "value": "furongwang"}, {"label": "黄鹤楼", "value": "huanghelou"}]},
            {"type": "textfield", "key": "specification", "label": "规格"},
            {"type": "number", "key": "quantity", "label": "数量（条）",
             "properties": {"label.en": "Quantity (cartons)"}},
        ]},
        {"type": "radio", "key": "satisfaction", "label": "客户评价",
         "values": [{"label": "满意", "value": "satisfied"}, {"label": "不满意", "value": "unsatisfied"}]},
        {"type": "checklist", "key": "services", "label": "服务内容",
         "values": [{"label": "解锁", "value": "unlock"}, {"label": "补卡", "value": "sim"}]},
        {"type": "checkbox", "key": "id_copy_complete", "label": "身份证复印件齐全"},
        {"type": "checkbox", "key": "called_back", "label": "已回访"},
        {"type": "datetime", "key": "visited_at", "subtype": "datetime", "label": "回访时间"},
        {"type": "datetime", "key": "term_start", "subtype": "date", "label": "协议开始日期"},
        {"type": "filepicker", "key": "attachments", "label": "附件", "multiple": True},
        {"type": "textfield", "key": "seal_pin", "label": "印章 PIN", "properties": {"secret": "true"}},
        {"type": "textfield", "key": "_internal", "label": "内部"},
        {"type": "group", "path": "customer", "components": [
            {"type": "textfield", "key": "phone", "label": "联系电话"}]},
        {"type": "select", "key": "handler", "label": "处理人", "valuesKey": "hall_staff"},
        {"type": "textarea", "key": "note", "label": "备注"},
        {"type": "select", "key": "channel", "label": "受理渠道|Channel",
         "values": [{"label": "柜台|Counter", "value": "counter"}, {"label": "电话|Phone", "value": "phone"}]},
    ],
}
DOC = "3f2b8c1e-0000-4000-8000-000000000001"
DATA = {
    "licence_no": "420100123456",
    "lines": [{"brand": "furongwang", "specification": "硬1916", "quantity": 5},
              {"brand": "huanghelou", "specification": "软蓝", "quantity": 2.0}],
    "satisfaction": "satisfied",
    "services": ["unlock", "sim"],
    "id_copy_complete": True,
    "called_back": False,
    "visited_at": "2026-11-23T06:30:00Z",
    "term_start": "2026-12-01",
    "attachments": [DOC],
    "seal_pin": "123456",
    "_internal": "x",
    "customer": {"phone": "13800000000"},
    "handler": "counter_staff",
    "note": "",
    "channel": "phone",
    "sealed_document": "9a9a9a9a-0000-4000-8000-000000000002",  # an engine variable: no field of the form
}


def _by_label(values):
    return {v.label: v for v in values}


def test_labels_option_labels_booleans_dates_and_groups_in_chinese():
    values = present(FORM, DATA, language="zh-CN", documents={DOC: DocRef(DOC, "供货审批表.pdf", "application/pdf")},
                     people={"counter_staff": "王营业员 (counter_staff)"})
    shown = _by_label(values)
    assert [v.label for v in values] == ["零售户许可证号", "供货明细", "客户评价", "服务内容", "身份证复印件齐全", "已回访",
                                         "回访时间", "协议开始日期", "附件", "联系电话", "处理人", "受理渠道"]
    assert shown["零售户许可证号"].text == "420100123456"
    assert shown["客户评价"].text == "满意"
    assert shown["服务内容"].text == "解锁、补卡"
    assert shown["身份证复印件齐全"].text == "是" and shown["已回访"].text == "否"
    assert shown["回访时间"].text == "2026-11-23 14:30"  # UTC 06:30 is 14:30 China time
    assert shown["协议开始日期"].text == "2026-12-01"
    assert shown["联系电话"].text == "13800000000"
    assert shown["处理人"].text == "王营业员 (counter_staff)"
    assert shown["受理渠道"].text == "电话"  # a bilingual label shows the page's language only
    # nothing internal: the secret PIN, _keys, empty values, engine variables, display text
    texts = " ".join(str(v.text) for v in values)
    for hidden in ("123456\n", "印章 PIN", "内部", "备注", "sealed_document", "请填写"):
        assert hidden not in texts and hidden not in shown


def test_a_dynamic_list_is_a_table_of_its_lines():
    table = _by_label(present(FORM, DATA))["供货明细"].table
    assert table.columns == ["品牌", "规格", "数量（条）"]
    assert [[c.text for c in row] for row in table.rows] == [["芙蓉王", "硬1916", "5"], ["黄鹤楼", "软蓝", "2"]]


def test_documents_are_named_and_a_missing_one_says_so():
    shown = _by_label(present(FORM, DATA, documents={DOC: {"name": "供货审批表.pdf", "content_type": "application/pdf"}}))
    doc = shown["附件"].documents[0]
    assert (doc.id, doc.name, doc.is_pdf, doc.is_image, doc.exists) == (DOC, "供货审批表.pdf", True, False, True)
    gone = _by_label(present(FORM, DATA))["附件"].documents[0]
    assert gone.exists is False and gone.name == "（文件不存在）"
    assert document_ids(FORM, DATA) == [DOC]
    assert people_values(FORM, DATA) == {"counter_staff"}


def test_english_page_yes_no_separator_and_english_labels():
    values = _by_label(present(FORM, DATA, language="en", translate={"客户评价": "Customer rating", "满意": "Satisfied"}.get))
    assert values["Customer rating"].text == "Satisfied"
    assert values["身份证复印件齐全"].text == "Yes" and values["已回访"].text == "No"
    assert values["服务内容"].text == "解锁, 补卡"
    assert values["Channel"].text == "Phone"
    assert values["供货明细"].table.columns == ["品牌", "规格", "Quantity (cartons)"]
    # the Chinese page keeps the form's Chinese label
    assert "数量（条）" in _by_label(present(FORM, DATA, language="zh-CN"))["供货明细"].table.columns


def test_no_form_or_a_broken_form_shows_nothing():
    assert present(None, DATA) == []
    assert present({"id": "x", "type": "default", "components": [{"type": "nonsense"}]}, DATA) == []
