"""Working-hours calendars: when a duration of working time after a moment has passed.

A calendar has a time zone, the working weekdays, the working hours of a day (one or more
intervals, e.g. 09:00-12:00 and 13:00-18:00), holidays, and extra working days (weekend days
worked instead of a holiday, 调休). ``add(start, duration)`` counts only working time: started
outside working hours, the clock starts at the next opening; a duration that ends exactly at
closing time is due at closing time, not at the next opening.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 3660  # ten years of looking for working time: a calendar with none is a configuration error

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class WorkingCalendar:
    name: str
    timezone: str
    weekdays: frozenset[int]  # 0 = Monday
    hours: tuple[tuple[time, time], ...]  # working intervals of a day, in order, not overlapping
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()  # worked although not a working weekday

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() in self.weekdays and day not in self.holidays

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment ``duration`` of working time after ``start`` (UTC)."""
        zone = ZoneInfo(self.timezone)
        remaining = duration
        moment = start.astimezone(UTC)
        day = moment.astimezone(zone).date()
        for _ in range(MAX_DAYS):
            if self.is_working_day(day):
                for opens, closes in self.hours:
                    begin = datetime.combine(day, opens, tzinfo=zone).astimezone(UTC)
                    end = datetime.combine(day, closes, tzinfo=zone).astimezone(UTC)
                    if end <= moment:
                        continue
                    begin = max(begin, moment)
                    available = end - begin
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
            day += timedelta(days=1)
            moment = max(moment, datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC))
        raise ValueError(f"calendar {self.name!r} has no working time in {MAX_DAYS} days")
