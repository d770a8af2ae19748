//! Customers' messages' times, days and durations in Spanish.

use super::{Moment, Speech, Unit};
use chrono::{DateTime, Timelike};
use chrono_tz::Tz;

pub(super) struct Spanish;

const MONTHS: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

const CITIES: [(&str, &str); 15] = [
    ("New York", "Nueva York"),
    ("London", "Londres"),
    ("Mexico City", "Ciudad de México"),
    ("Sao Paulo", "São Paulo"),
    ("Lisbon", "Lisboa"),
    ("Brussels", "Bruselas"),
    ("Zurich", "Zúrich"),
    ("Athens", "Atenas"),
    ("Moscow", "Moscú"),
    ("Tokyo", "Tokio"),
    ("Bogota", "Bogotá"),
    ("Asuncion", "Asunción"),
    ("Canary", "Canarias"),
    ("Havana", "La Habana"),
    ("Panama", "Panamá"),
];

impl Speech for Spanish {
    fn signature(&self) -> &'static str {
        "El equipo de soporte"
    }

    fn team_of(&self, brand: &str) -> String {
        format!("El equipo de {brand}")
    }

    fn city(&self, english: &str) -> Option<&'static str> {
        CITIES
            .iter()
            .find(|(en, _)| *en == english)
            .map(|(_, es)| *es)
    }

    /// With its article, as in "a las 10:00", "a la 01:00".
    fn clock(&self, t: DateTime<Tz>) -> String {
        let hm = t.format("%H:%M");
        if t.hour() == 1 {
            format!("la {hm}")
        } else {
            format!("las {hm}")
        }
    }

    fn zone(&self, city: Option<&str>) -> String {
        match city {
            None => " (UTC)".into(),
            Some(city) => format!(" (hora de {city})"),
        }
    }

    fn month_name(&self, month0: usize) -> &'static str {
        MONTHS[month0 % 12]
    }

    fn month(&self, year: i32, month0: usize) -> String {
        format!("{} de {year}", self.month_name(month0))
    }

    fn day(&self, day: u32, month0: usize, year: i32) -> String {
        format!("{day} de {} de {year}", self.month_name(month0))
    }

    fn on_day_at(&self, m: &Moment<'_>) -> String {
        format!("el {} a {}{}", m.day, m.clock, m.zone)
    }

    fn when(&self, m: &Moment<'_>) -> String {
        format!("{}{} del {}", m.clock, m.zone, m.day)
    }

    fn window(&self, start: &Moment<'_>, end: &Moment<'_>, same_day: bool) -> String {
        if same_day {
            format!(
                "el {}, de {} a {}{}",
                start.day, start.clock, end.clock, start.zone
            )
        } else {
            format!(
                "desde {} del {} hasta {} del {}{}",
                start.clock, start.day, end.clock, end.day, start.zone
            )
        }
    }

    fn unit(&self, n: i64, unit: Unit) -> String {
        let (one, many) = match unit {
            Unit::Day => ("día", "días"),
            Unit::Hour => ("hora", "horas"),
            Unit::Minute => ("minuto", "minutos"),
            Unit::Second => ("segundo", "segundos"),
        };
        format!("{n} {}", if n == 1 { one } else { many })
    }

    fn joined(&self, began: &str) -> String {
        format!("Se suscribió cuando este problema ya había empezado, a {began}. Así están las cosas ahora:")
    }

    fn and(&self) -> &'static str {
        " y "
    }
}
