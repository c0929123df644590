"""A form's words in the page's language only: labels, descriptions, text views and options."""

from web.presentation.form_words import localize_schema

SCHEMA = {"components": [
    {"type": "text", "text": "首问负责：3分钟内办结。First contact owns the case to the end."},
    {"type": "textfield", "key": "customer_name", "label": "客户姓名 Customer name",
     "description": "格式：YYYY-MM"},
    {"type": "select", "key": "kind", "label": "投诉类别", "properties": {"label.en": "Category"},
     "values": [{"value": "standard", "label": "标准业务 Standard"}, {"value": "technical", "label": "技术问题"}]},
    {"type": "dynamiclist", "path": "lines", "label": "供货明细 Supply lines",
     "components": [{"type": "number", "key": "quantity", "label": "数量（条） Quantity"}]},
    {"type": "radio", "key": "reached", "label": "是否接通", "description": "Was the customer reached?",
     "values": [{"value": "yes", "label": "接通"}]},
    {"type": "textfield", "key": "topic", "label": "主题", "description": "如：服务规范",
     "properties": {"description.en": "Topic"}},
    {"type": "number", "key": "smile", "label": "微笑服务", "properties": {"description.en": "Smiling service"}},
]}


def test_chinese_page_shows_the_chinese_words():
    zh = localize_schema(SCHEMA, "zh-CN")["components"]
    assert zh[0]["text"] == "首问负责：3分钟内办结。"
    assert zh[1]["label"] == "客户姓名" and zh[1]["description"] == "格式：YYYY-MM"
    assert zh[2]["label"] == "投诉类别" and [o["label"] for o in zh[2]["values"]] == ["标准业务", "技术问题"]
    assert zh[3]["label"] == "供货明细" and zh[3]["components"][0]["label"] == "数量（条）"
    assert zh[1]["key"] == "customer_name" and zh[2]["values"][0]["value"] == "standard"
    # an English-only description under a Chinese label is the label's English
    assert zh[4]["label"] == "是否接通" and "description" not in zh[4]
    # the English kept apart (properties description.en, as the shipped forms do) stays off the page
    assert zh[5]["description"] == "如：服务规范" and "description" not in zh[6]


def test_english_page_shows_the_english_words_and_the_schema_is_not_changed():
    en = localize_schema(SCHEMA, "en")["components"]
    assert en[1]["label"] == "Customer name" and en[2]["label"] == "Category"
    assert en[3]["components"][0]["label"] == "Quantity"
    assert en[4]["description"] == "Was the customer reached?"
    assert en[5]["description"] == "Topic" and en[6]["description"] == "Smiling service"
    assert SCHEMA["components"][1]["label"] == "客户姓名 Customer name"
