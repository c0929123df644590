"""Issue 17 item 7 in a real browser: form-js's own words on a zh-CN form page are Chinese (the
dynamic list's add button, the file picker, the select placeholder, the required message inside
a list row) and its date picker is Chinese with weeks starting on Monday."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import shot, sign_in

pytestmark = pytest.mark.browser

LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]+")
FORM_JS_ENGLISH = ("Add new", "Browse", "No files selected", "Select", "Search", "Field is required", "Collapse")


def _both_sizes(page, name: str) -> None:
    page.set_viewport_size({"width": 1366, "height": 768})
    shot(page, f"{name}-desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, f"{name}-phone")
    page.set_viewport_size({"width": 1366, "height": 768})


def test_dynamic_list_file_picker_and_required_words_are_chinese(server, browser_page):
    """The enforcement officer's supply request: a list of supply lines and the approval form's file."""
    page, errors = browser_page
    sign_in(page, server, "enforcement_officer")
    page.goto(f"{server}/start/supply_approval")
    form = page.locator("#form")
    form.locator(".fjs-repeat-render-add").first.wait_for()
    assert form.locator(".fjs-repeat-render-add").first.inner_text().strip() == "添加一行"
    assert form.locator(".fjs-filepicker-button").first.inner_text().strip() == "选择文件"
    assert "未选择文件" in form.locator(".fjs-filepicker-container").first.inner_text()
    assert "请选择" in form.inner_text()
    form.locator(".fjs-repeat-render-add").first.click()  # a second supply line
    page.locator("#form-submit").click()
    page.locator("#form-errors").wait_for(state="visible")
    # every empty required field says so in Chinese, the ones inside the list rows too
    row_errors = form.locator(".fjs-repeat-row-container .fjs-form-field-error")
    assert row_errors.count() >= 2
    assert all(text.strip() == "此项为必填项" for text in row_errors.all_inner_texts())
    text = page.locator("main").inner_text()
    for english in FORM_JS_ENGLISH:
        assert english not in text, english
    assert not LATIN_WORD.findall(form.inner_text()), LATIN_WORD.findall(form.inner_text())
    # the list above the form names a list row's field by the list and the field, never its id
    listed = page.locator("#form-errors").inner_text()
    assert "供货明细 · 品牌：此项为必填项" in listed and not LATIN_WORD.findall(listed), listed
    _both_sizes(page, "form-words-supply-request")
    assert not errors, errors


def test_date_picker_is_chinese_and_starts_on_monday(server, browser_page):
    """The customer manager's visit record: the visit time is picked on a Chinese, Monday-first calendar."""
    page, errors = browser_page
    sign_in(page, server, "customer_manager")
    page.goto(f"{server}/start/group_visit")
    date_box = page.locator("#form .fjs-datetime-subsection input.fjs-input").first
    date_box.wait_for()
    assert date_box.get_attribute("placeholder") == "年/月/日"
    time_box = page.locator("#form .fjs-datetime-subsection input.fjs-input").nth(1)
    assert time_box.get_attribute("placeholder") == "时:分"
    date_box.click()
    calendar = page.locator(".flatpickr-calendar.open")
    calendar.wait_for()
    weekdays = [w.strip() for w in calendar.locator(".flatpickr-weekday").all_inner_texts()]
    assert weekdays == ["一", "二", "三", "四", "五", "六", "日"], weekdays
    month = calendar.locator(".flatpickr-monthDropdown-months option:checked").inner_text()
    assert month.endswith("月") and not LATIN_WORD.search(month), month
    assert not LATIN_WORD.findall(calendar.inner_text()), calendar.inner_text()
    _both_sizes(page, "form-words-date-picker")
    # a picked day lands in the field as a date (Monday first does not shift the days)
    calendar.locator(".flatpickr-day:not(.prevMonthDay):not(.nextMonthDay)").nth(14).click()
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}", date_box.input_value()), date_box.input_value()
    assert date_box.input_value().endswith("/15")
    assert not errors, errors
