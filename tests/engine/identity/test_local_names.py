"""One stored name, two languages: a page shows the Chinese or the English one, never both."""

import pytest

from engine.identity.names import local_name, split_name


@pytest.mark.parametrize(
    ("stored", "zh", "en"),
    [
        ("中心营业厅 Central service hall", "中心营业厅", "Central service hall"),  # the seeded units
        ("营业员 (Counter staff)", "营业员", "Counter staff"),  # the seeded users' display names
        ("营业员（Counter staff）", "营业员", "Counter staff"),
        ("中心营业厅|Central service hall", "中心营业厅", "Central service hall"),
        ("客户经理考核审核 KPI score review", "客户经理考核审核", "KPI score review"),
        ("KPI审核 KPI review", "KPI审核", "KPI review"),  # Latin inside the Chinese name stays there
        ("中心营业厅（一楼） Central hall", "中心营业厅（一楼）", "Central hall"),
        ("3号柜台", "3号柜台", "3号柜台"),  # nothing English after the Chinese
        ("营业厅 3", "营业厅 3", "营业厅 3"),
        ("Room 7", "Room 7", "Room 7"),  # no Chinese: the same in both
        ("", "", ""),
        (None, "", ""),
    ],
)
def test_split_name(stored, zh, en):
    assert split_name(stored) == (zh, en)


def test_local_name_shows_one_language():
    stored = "供货审核 Supply approval"
    assert local_name(stored, "zh-CN") == "供货审核"
    assert local_name(stored, "en") == "Supply approval"
    assert "Supply" not in local_name(stored, "zh-CN")


def test_explicit_english_wins():
    """A model's ``name.en`` property names the English explicitly."""
    assert local_name("供货审核", "en", english="Supply approval") == "Supply approval"
    assert local_name("供货审核", "zh-CN", english="Supply approval") == "供货审核"
    assert local_name("供货审核 Supply check", "en", english="Supply approval") == "Supply approval"


def test_bar_with_one_side_missing():
    assert split_name("中心营业厅|") == ("中心营业厅", "中心营业厅")
    assert split_name("|Central hall") == ("Central hall", "Central hall")


def test_person_name_never_shows_a_login_name_on_a_chinese_page():
    from engine.identity.names import person_name

    assert person_name("营业员 (Counter staff)", "counter_staff", ["counter_staff"]) == "营业员"
    assert person_name("营业员 (Counter staff)", "counter_staff", ["counter_staff"], "en") == "Counter staff"
    assert person_name("王芳", "wangfang", ["counter_staff"]) == "王芳"
    # the default display name is the username: the roles stand in for it
    assert person_name("counter2", "counter2", ["counter_staff"]) == "营业员"
    assert person_name("counter2", "counter2", ["counter_staff"], "en") == "Counter staff"
    assert person_name(None, "x1", []) == "x1"


def test_descriptions_split_after_the_chinese_sentence():
    text = "按投诉统计口径分类；处理路径仍由上面的投诉类别决定。Complaint type of the statistics; the path follows the category."
    assert split_name(text, min_words=2) == ("按投诉统计口径分类；处理路径仍由上面的投诉类别决定。",
                                             "Complaint type of the statistics; the path follows the category.")
    # a format or a unit after the Chinese is part of the description
    assert split_name("格式：YYYY-MM", min_words=2) == ("格式：YYYY-MM", "格式：YYYY-MM")
    assert split_name("数量（单位：kg）", min_words=2)[0] == "数量（单位：kg）"
    assert split_name("如：集团资费政策、服务规范 Topic", min_words=2) == ("如：集团资费政策、服务规范", "Topic")
