"""The case summary on task pages and the case page (issue 17 items 1 and 5): the decider sees
the application with its labels, option labels, lines and attachments, and a link to the case;
the case page shows the same instead of raw keys, codes and ids, the raw JSON only for admins."""

from __future__ import annotations

import html
import re

from tests.support.business import deploy, open_task, start, upload, work
from tests.support.pages import sign_in

ZH = {"Accept-Language": "zh-CN"}


def _supply(api) -> tuple[str, str]:
    deploy(api, "supply_approval")
    doc = upload(api, "enforcement_officer", "供货审批表.pdf")
    data = {"licence_no": "420100123456", "retailer_name": "城关便民烟酒店",
            "lines": [{"brand": "furongwang", "specification": "硬1916", "quantity": 5},
                      {"brand": "huanghelou", "specification": "软蓝", "quantity": 2}],
            "reason": "春节前备货", "attachments": [doc]}
    return start(api, "enforcement_officer", "supply_approval", data)["id"], doc


def _text(page: str) -> str:
    """What a reader sees: the page without its tags, scripts and styles."""
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_review_page_shows_the_application_and_links_to_the_case(app, api):
    iid, doc = _supply(api)
    task = open_task(api, iid, "review")
    head, _ = sign_in(app, "service_center_head")
    page = head.get(f"/tasks/{task['id']}", headers=ZH).get_data(as_text=True)
    summary = page[page.index('data-testid="case-summary"'):page.index("</details>", page.index('data-testid="case-summary"'))]
    seen = _text(summary)
    for label in ("案件摘要", "申请内容", "零售户许可证号", "供货明细", "品牌", "规格", "数量（条）", "附件（供货审批表等）"):
        assert label in seen, label
    assert "芙蓉王" in seen and "黄鹤楼" in seen and "硬1916" in seen and "furongwang" not in seen
    assert f'/instances/{iid}/documents/{doc}?inline=1' in summary and "供货审批表.pdf" in seen
    assert doc not in seen  # the id is in the link only, never shown
    assert f'href="/instances/{iid}"' in page and "查看案件" in page
    # the attachment opens through the case for the head (a PDF, in the browser's viewer)
    r = head.get(f"/instances/{iid}/documents/{doc}?inline=1")
    assert r.status_code == 200 and r.headers["Content-Disposition"].startswith("inline")
    assert head.get(f"/instances/{iid}/documents/{doc}").headers["Content-Disposition"].startswith("attachment")


def test_a_later_step_shows_the_earlier_decision_with_its_option_label(app, api):
    iid, _ = _supply(api)
    work(api, "service_center_head", iid, "review", {"decision": "approve", "review_comment": "同意供货"})
    task = open_task(api, iid, "seal")
    head, _ = sign_in(app, "service_center_head")
    seen = _text(head.get(f"/tasks/{task['id']}", headers=ZH).get_data(as_text=True))
    assert "审核结论" in seen and "通过" in seen and "同意供货" in seen and "approve" not in seen
    assert "审核 Review" not in seen  # the step's Chinese name on a Chinese page


def test_the_case_page_shows_labels_and_only_admins_see_the_raw_data(app, api):
    iid, doc = _supply(api)
    officer, _ = sign_in(app, "enforcement_officer")
    page = officer.get(f"/instances/{iid}", headers=ZH).get_data(as_text=True)
    seen = _text(page)
    assert "零售户许可证号" in seen and "芙蓉王" in seen and "供货审批表.pdf" in seen
    for raw in ("licence_no", "furongwang", "True", doc):
        assert raw not in seen, raw
    assert 'data-testid="tech-details"' not in page and "技术详情" not in page
    admin, _ = sign_in(app, "admin")
    page = admin.get(f"/instances/{iid}", headers=ZH).get_data(as_text=True)
    assert 'data-testid="tech-details"' in page and "技术详情" in page and '"licence_no": "420100123456"' in html.unescape(page)
    # English: labels stay the form's, 是/否 and the section names follow the page
    admin.get("/lang/en")
    english = _text(admin.get(f"/instances/{iid}").get_data(as_text=True))
    assert "Case summary" in english and "Application" in english and "Technical details" in english


def test_a_second_review_shows_the_revision_and_its_earlier_round_once(app, api):
    iid, doc = _supply(api)
    work(api, "service_center_head", iid, "review", {"decision": "reject", "reject_reason": "数量超出月度限量"})
    work(api, "enforcement_officer", iid, "revise", {
        "revise_action": "resubmit", "lines": [{"brand": "furongwang", "specification": "硬1916", "quantity": 3}],
        "reason": "按限量调整", "attachments": [doc], "revise_note": "已按限量调整"})
    task = open_task(api, iid, "review")
    head, _ = sign_in(app, "service_center_head")
    page = head.get(f"/tasks/{task['id']}", headers=ZH).get_data(as_text=True)
    assert 'data-testid="earlier-rounds"' in page  # the first review, in its own box above the form
    summary = page[page.index('data-testid="case-summary"'):page.index("</details>", page.index('data-testid="case-summary"'))]
    assert 'data-element="revise"' in summary and 'data-element="review"' not in summary
    seen = _text(summary)
    assert "修改重报" in seen and "按限量调整" in seen and "修改后重新提交" in seen and "resubmit" not in seen
    assert seen.count("数量超出月度限量") == 0  # the rejection reason is in the earlier rounds only
