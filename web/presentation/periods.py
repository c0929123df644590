"""Report periods and job schedules for people: ``2026年12月`` / ``Dec 2026``, ``2026年第49周`` /
``2026 W49``, and the sentence an empty report shows (why it is empty, when the job runs next)."""

from __future__ import annotations

from datetime import date, datetime

from engine.clock import LOCAL_TZ
from engine.jobs.periods import Period, PeriodError

MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS_ZH = ("一", "二", "三", "四", "五", "六", "日")
WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# what a scheduled run computes: the last complete period of its kind
LAST_PERIOD = {"day": ("前一天", "the day before"), "week": ("上周", "last week"), "month": ("上月", "last month"),
               "year": ("上一年", "last year")}


def _date(day: date, lang: str) -> str:
    return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}" if lang == "en" else f"{day.year}年{day.month}月{day.day}日"


def period_label(key: str | None, lang: str = "zh-CN") -> str:
    """``2026-12`` → 2026年12月 (Dec 2026), ``2026-W49`` → 2026年第49周 (2026 W49), ``2026-12-05`` →
    2026年12月5日 (5 Dec 2026), ``2026`` → 2026年 (2026); a key that is no period stays as it is."""
    if not key:
        return ""
    try:
        period = Period.parse(key)
    except PeriodError:
        return key
    en = lang == "en"
    if period.kind == "day":
        return _date(date.fromisoformat(key), lang)
    if period.kind == "week":
        year, week = key.split("-W")
        return f"{year} W{int(week)}" if en else f"{year}年第{int(week)}周"
    if period.kind == "month":
        year, month = (int(p) for p in key.split("-"))
        return f"{MONTHS_EN[month - 1]} {year}" if en else f"{year}年{month}月"
    return key if en else f"{key}年"


def local_time(moment: datetime, lang: str = "zh-CN") -> str:
    """A moment in China time: 2027年1月5日 03:00 (5 Jan 2027 03:00)."""
    local = moment.astimezone(LOCAL_TZ)
    return f"{_date(local.date(), lang)} {local:%H:%M}"


def schedule_text(schedule: dict, lang: str = "zh-CN") -> str:
    """One schedule of ``engine.jobs.schedules.job_schedules`` in words: 每月5日 03:00（统计上月）,
    "on the 5th of every month at 03:00 (for last month)"."""
    at = f"{schedule['hour']:02d}:{schedule['minute']:02d}"
    every, zh_for, en_for = schedule["every"], *LAST_PERIOD.get(schedule["kind"], (schedule["kind"],) * 2)
    if lang == "en":
        when = {"day": "every day", "week": f"every {WEEKDAYS_EN[(schedule['weekday'] or 1) - 1]}",
                "month": f"on day {schedule['day']} of every month",
                "year": f"on {schedule['day']} {MONTHS_EN[(schedule['month'] or 1) - 1]} every year"}[every]
        return f"{when} at {at} (for {en_for})"
    when = {"day": "每天", "week": f"每周{WEEKDAYS_ZH[(schedule['weekday'] or 1) - 1]}",
            "month": f"每月{schedule['day']}日", "year": f"每年{schedule['month']}月{schedule['day']}日"}[every]
    return f"{when} {at}（统计{zh_for}）"


def empty_reason(title: str, schedules: list[dict], lang: str = "zh-CN", run: dict | None = None) -> str:
    """Why a report shows no rows and when it fills: the job named ``title`` has not run for the
    period (or ran and found nothing), its schedules and its next run."""
    texts = [schedule_text(s, lang) for s in schedules]
    upcoming = min((s["next_run"] for s in schedules), default=None)
    if lang == "en":
        why = (f"The “{title}” job ran for this period and found nothing to count"
               if run else f"No data for this period yet: this report is made by the “{title}” job")
        text = f"{why}; it runs {' and '.join(texts)}." if texts else f"{why}."
        return text + (f" Next run: {local_time(upcoming, lang)} (China time)." if upcoming else "")
    why = f"本期作业“{title}”已运行，但没有可统计的数据" if run else f"本期尚无数据：该报表由“{title}”作业"
    if texts:
        text = f"{why}；该作业于{'；'.join(texts)}运行。" if run else f"{why}于{'；'.join(texts)}运行后生成。"
    else:
        text = f"{why}。"
    return text + (f"下次运行：{local_time(upcoming, lang)}（北京时间）。" if upcoming else "")
