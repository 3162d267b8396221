//! Calendar months and the date arithmetic the rules need (terms, days in a month;
//! `docs/rules.md` §1).

use chrono::{Datelike, NaiveDate};
use std::fmt;
use std::str::FromStr;

/// A calendar month, ordered chronologically. `2023-05` is May 2023.
///
/// ```
/// use chieftech::rules::Month;
/// let m: Month = "2024-02".parse().unwrap();
/// assert_eq!(m.days_in(), 29);
/// assert_eq!(m.next().to_string(), "2024-03");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// The month `month` (1–12) of `year`; `None` when `month` is out of range.
    pub fn new(year: i32, month: u32) -> Option<Month> {
        (1..=12).contains(&month).then_some(Month { year, month })
    }

    /// The month a date lies in.
    pub fn of(date: NaiveDate) -> Month {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    /// The first day of the month.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("month is valid")
    }

    /// The last day of the month.
    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().expect("date in range")
    }

    /// Number of days in the month (28–31).
    pub fn days_in(self) -> u32 {
        self.last_day().day()
    }

    /// The following month.
    pub fn next(self) -> Month {
        self.plus(1)
    }

    /// The month `n` months later (`n` may be negative).
    pub fn plus(self, n: i32) -> Month {
        let idx = self.index() + n;
        Month::from_index(idx)
    }

    /// Months since year 0, used for compact storage and arithmetic.
    pub fn index(self) -> i32 {
        self.year * 12 + (self.month as i32 - 1)
    }

    /// Inverse of [`Month::index`].
    pub fn from_index(idx: i32) -> Month {
        Month {
            year: idx.div_euclid(12),
            month: (idx.rem_euclid(12) + 1) as u32,
        }
    }

    /// Every month from `self` to `last`, both included.
    pub fn through(self, last: Month) -> impl Iterator<Item = Month> {
        (self.index()..=last.index()).map(Month::from_index)
    }

    /// Appends the month as [`fmt::Display`] writes it (`2024-05`), without the formatting
    /// machinery: a province's run encodes tens of millions of months.
    pub fn push_to(self, s: &mut String) {
        if !(0..=9999).contains(&self.year) || self.month > 99 {
            use fmt::Write;
            let _ = write!(s, "{self}");
            return;
        }
        let y = self.year as u32;
        for d in [y / 1000, y / 100 % 10, y / 10 % 10, y % 10] {
            s.push(char::from(b'0' + d as u8));
        }
        s.push('-');
        s.push(char::from(b'0' + (self.month / 10) as u8));
        s.push(char::from(b'0' + (self.month % 10) as u8));
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Error for a month that is not written `YYYY-MM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a month: expected YYYY-MM, for example 2023-05")]
pub struct MonthParseError(pub String);

impl FromStr for Month {
    type Err = MonthParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || MonthParseError(s.to_string());
        let (y, m) = s.trim().split_once('-').ok_or_else(err)?;
        if y.len() != 4 || m.is_empty() || m.len() > 2 {
            return Err(err());
        }
        let y: i32 = y.parse().map_err(|_| err())?;
        let m: u32 = m.parse().map_err(|_| err())?;
        Month::new(y, m).ok_or_else(err)
    }
}

/// Adds `months` calendar months to a first-of-month date.
pub fn add_months(date: NaiveDate, months: i32) -> NaiveDate {
    let m = Month::of(date).plus(months);
    let day = date.day().min(m.days_in());
    NaiveDate::from_ymd_opt(m.year(), m.month(), day).expect("valid date")
}

/// A day as letters and notices write it: `2024年12月1日`.
pub fn cn_date(d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_in_months() {
        assert_eq!("2023-02".parse::<Month>().unwrap().days_in(), 28);
        assert_eq!("2024-02".parse::<Month>().unwrap().days_in(), 29);
        assert_eq!("2023-05".parse::<Month>().unwrap().days_in(), 31);
        assert_eq!("2022-09".parse::<Month>().unwrap().days_in(), 30);
    }

    #[test]
    fn index_round_trip_and_order() {
        let m: Month = "2021-12".parse().unwrap();
        assert_eq!(m.next().to_string(), "2022-01");
        assert_eq!(m.plus(-12).to_string(), "2020-12");
        assert_eq!(Month::from_index(m.index()), m);
        assert!(m < m.next());
        assert_eq!(m.through(m.plus(2)).count(), 3);
    }

    #[test]
    fn bad_months_are_refused() {
        for s in ["2023-13", "2023", "23-01", "2023-00", "x-y", "2023-001"] {
            assert!(s.parse::<Month>().is_err(), "{s}");
        }
    }
}
