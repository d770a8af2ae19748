//! Customers' messages' times, days and durations in English.

use super::{Moment, Speech, Unit};
use chrono::DateTime;
use chrono_tz::Tz;

pub(super) struct English;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

impl Speech for English {
    fn signature(&self) -> &'static str {
        "The support team"
    }

    fn team_of(&self, brand: &str) -> String {
        format!("The {brand} team")
    }

    fn clock(&self, t: DateTime<Tz>) -> String {
        t.format("%H:%M").to_string()
    }

    fn zone(&self, city: Option<&str>) -> String {
        match city {
            None => " UTC".into(),
            Some(city) => format!(" ({city} time)"),
        }
    }

    fn month_name(&self, month0: usize) -> &'static str {
        MONTHS[month0 % 12]
    }

    fn month(&self, year: i32, month0: usize) -> String {
        format!("{} {year}", self.month_name(month0))
    }

    fn day(&self, day: u32, month0: usize, year: i32) -> String {
        format!("{day} {} {year}", self.month_name(month0))
    }

    fn on_day_at(&self, m: &Moment<'_>) -> String {
        format!("on {} at {}{}", m.day, m.clock, m.zone)
    }

    fn when(&self, m: &Moment<'_>) -> String {
        format!("{}{} on {}", m.clock, m.zone, m.day)
    }

    fn window(&self, start: &Moment<'_>, end: &Moment<'_>, same_day: bool) -> String {
        if same_day {
            format!(
                "on {} from {} to {}{}",
                start.day, start.clock, end.clock, start.zone
            )
        } else {
            format!(
                "from {} on {} to {} on {}{}",
                start.clock, start.day, end.clock, end.day, start.zone
            )
        }
    }

    fn unit(&self, n: i64, unit: Unit) -> String {
        let (one, many) = match unit {
            Unit::Day => ("day", "days"),
            Unit::Hour => ("hour", "hours"),
            Unit::Minute => ("minute", "minutes"),
            Unit::Second => ("second", "seconds"),
        };
        format!("{n} {}", if n == 1 { one } else { many })
    }

    fn joined(&self, began: &str) -> String {
        format!(
            "You subscribed after this problem began, at {began}. This is where things stand now:"
        )
    }

    fn and(&self) -> &'static str {
        " and "
    }
}
