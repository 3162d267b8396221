//! The working-day calendar: which days are working days (工作日) under the State Council's
//! yearly holiday notices (国务院办公厅关于XXXX年部分节假日安排的通知), and the counts the
//! selection's 5-working-day public notices (公示) need. Pure: no I/O, no clock.
//!
//! The dates live in `config/calendar.toml` (built into the program); its format and how the
//! bureau adds a year are in `docs/calendar.md`. A day is a working
//! day when it is Monday to Friday and not a listed holiday (放假), or a Saturday/Sunday listed as
//! a make-up working day (调休上班). A date in a year the calendar does not hold is an error,
//! never a guess.
//!
//! ```
//! use chieftech::rules::workdays::Calendar;
//! use chrono::NaiveDate;
//! let cal = Calendar::built_in();
//! let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
//! // 2024 Spring Festival: 2-10…2-17 off, Sunday 2-18 a make-up working day.
//! assert_eq!(cal.notice_end(d(2024, 2, 7), 5).unwrap(), d(2024, 2, 19));
//! assert!(cal.is_working_day(d(2027, 1, 4)).is_err());
//! ```

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;
use std::sync::OnceLock;

/// The calendar shipped with the program.
const BUILT_IN: &str = include_str!("../../config/calendar.toml");
/// The name the built-in calendar's errors give.
const BUILT_IN_ORIGIN: &str = "config/calendar.toml";

/// Why a calendar file was refused, or a date could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error(
        "{year} 年不在工作日日历内:日历只收录 {first}–{last} 年的节假日安排。请由区人社局将国务院办公厅关于{year}年部分节假日安排的通知的放假和调休上班日期加入 config/calendar.toml,系统不推测节假日"
    )]
    YearNotCovered { year: i32, first: i32, last: i32 },
    #[error("{origin}:不是有效的日历文件:{message}")]
    Toml { origin: String, message: String },
    #[error("{origin}:日历中没有任何年份")]
    NoYears { origin: String },
    #[error("{origin}:表名 [{key}] 不是年份(应为四位数年份,如 [2025])")]
    BadYear { origin: String, key: String },
    #[error("{origin}:缺少 [{year}] 年的表(年份须连续,{first}–{last} 年之间不能空缺)")]
    MissingYear {
        origin: String,
        year: i32,
        first: i32,
        last: i32,
    },
    #[error("{origin}:[{year}] 没有写通知文号(notice,如 \"国办发明电〔2024〕12号\")")]
    NoNotice { origin: String, year: i32 },
    #[error("{origin}:[{year}] 中的日期 \"{text}\" 无效(应写作 YYYY-MM-DD,如 \"2025-10-01\")")]
    BadDate {
        origin: String,
        year: i32,
        text: String,
    },
    #[error("{origin}:{date} 写在 [{year}] 表中,但不在 {year} 年内;应写在 [{}] 表中", date.year())]
    OutsideYear {
        origin: String,
        year: i32,
        date: NaiveDate,
    },
    #[error("{origin}:{date} 重复出现")]
    Duplicate { origin: String, date: NaiveDate },
    #[error("{origin}:{date} 既列为放假日(holidays)又列为调休上班日(workdays)")]
    HolidayAndWorkday { origin: String, date: NaiveDate },
    #[error("{origin}:调休上班日 {date} 是{},不是周六或周日;周一至周五本来就是工作日", weekday_zh(*date))]
    WorkdayNotWeekend { origin: String, date: NaiveDate },
    #[error("公示期至少为 1 个工作日")]
    EmptyNotice,
}

/// One year's table of `config/calendar.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct YearTable {
    notice: String,
    holidays: Vec<String>,
    workdays: Vec<String>,
}

/// The working-day calendar of a run of consecutive years.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    first: i32,
    last: i32,
    notices: BTreeMap<i32, String>,
    holidays: BTreeSet<NaiveDate>,
    workdays: BTreeSet<NaiveDate>,
}

impl Calendar {
    /// Reads a calendar in the format of `config/calendar.toml`; `origin` names the text in
    /// error messages (a file name).
    pub fn parse(text: &str, origin: &str) -> Result<Calendar, CalendarError> {
        let tables: BTreeMap<String, YearTable> =
            toml::from_str(text).map_err(|e| CalendarError::Toml {
                origin: origin.to_string(),
                message: e.message().to_string(),
            })?;
        let mut years = BTreeMap::new();
        for (key, table) in tables {
            let year = parse_year(&key).ok_or_else(|| CalendarError::BadYear {
                origin: origin.to_string(),
                key: key.clone(),
            })?;
            years.insert(year, table);
        }
        let (first, last) = check_years(&years, origin)?;
        let mut calendar = Calendar {
            first,
            last,
            notices: BTreeMap::new(),
            holidays: BTreeSet::new(),
            workdays: BTreeSet::new(),
        };
        for (year, table) in years {
            calendar.add_year(year, table, origin)?;
        }
        Ok(calendar)
    }

    /// The calendar shipped in `config/calendar.toml`, parsed once.
    pub fn built_in() -> &'static Calendar {
        static CALENDAR: OnceLock<Calendar> = OnceLock::new();
        CALENDAR.get_or_init(|| {
            Calendar::parse(BUILT_IN, BUILT_IN_ORIGIN).expect("config/calendar.toml is checked")
        })
    }

    fn add_year(&mut self, year: i32, table: YearTable, origin: &str) -> Result<(), CalendarError> {
        let notice = table.notice.trim();
        if notice.is_empty() {
            return Err(CalendarError::NoNotice {
                origin: origin.to_string(),
                year,
            });
        }
        self.notices.insert(year, notice.to_string());
        for text in &table.holidays {
            let date = parse_date(text, year, origin)?;
            self.insert_new(date, true, origin)?;
        }
        for text in &table.workdays {
            let date = parse_date(text, year, origin)?;
            if !is_weekend(date) {
                return Err(CalendarError::WorkdayNotWeekend {
                    origin: origin.to_string(),
                    date,
                });
            }
            self.insert_new(date, false, origin)?;
        }
        Ok(())
    }

    /// Adds `date` to the holidays or the make-up workdays; a date already in either is an error.
    fn insert_new(
        &mut self,
        date: NaiveDate,
        holiday: bool,
        origin: &str,
    ) -> Result<(), CalendarError> {
        let origin = origin.to_string();
        let (own, other) = if holiday {
            (&mut self.holidays, &self.workdays)
        } else {
            (&mut self.workdays, &self.holidays)
        };
        if other.contains(&date) {
            return Err(CalendarError::HolidayAndWorkday { origin, date });
        }
        if !own.insert(date) {
            return Err(CalendarError::Duplicate { origin, date });
        }
        Ok(())
    }

    /// The years the calendar holds, first to last (no gaps).
    pub fn covered_years(&self) -> RangeInclusive<i32> {
        self.first..=self.last
    }

    /// The document number (文号) of the notice a covered year follows.
    pub fn notice(&self, year: i32) -> Option<&str> {
        self.notices.get(&year).map(String::as_str)
    }

    /// The listed holidays (放假日) of `year`, in order; empty for a year not covered.
    pub fn holidays(&self, year: i32) -> Vec<NaiveDate> {
        in_year(&self.holidays, year)
    }

    /// The listed make-up working days (调休上班日) of `year`, in order.
    pub fn make_up_workdays(&self, year: i32) -> Vec<NaiveDate> {
        in_year(&self.workdays, year)
    }

    /// `Ok(())` when `date`'s year is covered, else [`CalendarError::YearNotCovered`].
    fn cover(&self, date: NaiveDate) -> Result<(), CalendarError> {
        let year = date.year();
        if self.covered_years().contains(&year) {
            Ok(())
        } else {
            Err(CalendarError::YearNotCovered {
                year,
                first: self.first,
                last: self.last,
            })
        }
    }

    /// Whether `date` is a working day: Monday–Friday unless a holiday; Saturday/Sunday only
    /// when a make-up working day.
    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        self.cover(date)?;
        Ok(if is_weekend(date) {
            self.workdays.contains(&date)
        } else {
            !self.holidays.contains(&date)
        })
    }

    /// `date` itself when it is a working day, else the next working day after it.
    pub fn first_working_day_from(&self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        let mut day = date;
        while !self.is_working_day(day)? {
            day = next_day(day, self)?;
        }
        Ok(day)
    }

    /// The `n`-th working day after `start` (`start` itself not counted): from a Friday or a
    /// Saturday, 1 working day is the next working Monday. For `n` = 0, the first working day on
    /// or after `start`. The result is always a working day.
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        if n == 0 {
            return self.first_working_day_from(start);
        }
        self.cover(start)?;
        let mut day = start;
        let mut left = n;
        while left > 0 {
            day = next_day(day, self)?;
            if self.is_working_day(day)? {
                left -= 1;
            }
        }
        Ok(day)
    }

    /// The last day of a public notice (公示) of `working_days` working days whose first day is
    /// `first_day`: the notice starts on `first_day`, or on the next working day when
    /// `first_day` is not one, and ends on its `working_days`-th working day, inclusive.
    pub fn notice_end(
        &self,
        first_day: NaiveDate,
        working_days: u32,
    ) -> Result<NaiveDate, CalendarError> {
        if working_days == 0 {
            return Err(CalendarError::EmptyNotice);
        }
        let start = self.first_working_day_from(first_day)?;
        self.add_working_days(start, working_days - 1)
    }

    /// The number of working days from `from` to `to`, both included; 0 when `to` is before
    /// `from`. Every day in between must be in a covered year.
    pub fn working_days_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<u32, CalendarError> {
        if to < from {
            return Ok(0);
        }
        self.cover(from)?;
        self.cover(to)?;
        let mut count = 0;
        for day in from.iter_days().take_while(|d| *d <= to) {
            if self.is_working_day(day)? {
                count += 1;
            }
        }
        Ok(count)
    }
}

/// The day after `day`, which must be in a covered year.
fn next_day(day: NaiveDate, calendar: &Calendar) -> Result<NaiveDate, CalendarError> {
    let next = day
        .checked_add_days(Days::new(1))
        .ok_or(CalendarError::YearNotCovered {
            year: day.year() + 1,
            first: calendar.first,
            last: calendar.last,
        })?;
    calendar.cover(next)?;
    Ok(next)
}

/// The first and last year of the tables; the years must run without a gap.
fn check_years(
    years: &BTreeMap<i32, YearTable>,
    origin: &str,
) -> Result<(i32, i32), CalendarError> {
    let (Some(&first), Some(&last)) = (years.keys().next(), years.keys().next_back()) else {
        return Err(CalendarError::NoYears {
            origin: origin.to_string(),
        });
    };
    if let Some(year) = (first..=last).find(|y| !years.contains_key(y)) {
        return Err(CalendarError::MissingYear {
            origin: origin.to_string(),
            year,
            first,
            last,
        });
    }
    Ok((first, last))
}

/// A table name that is a four-digit year.
fn parse_year(key: &str) -> Option<i32> {
    let ok = key.len() == 4 && key.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| key.parse().ok()).flatten()
}

/// A `YYYY-MM-DD` date of the table of `year`.
fn parse_date(text: &str, year: i32, origin: &str) -> Result<NaiveDate, CalendarError> {
    let trimmed = text.trim();
    let well_formed = trimmed.len() == 10;
    let date = well_formed
        .then(|| NaiveDate::parse_from_str(trimmed, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| CalendarError::BadDate {
            origin: origin.to_string(),
            year,
            text: text.to_string(),
        })?;
    if date.year() != year {
        return Err(CalendarError::OutsideYear {
            origin: origin.to_string(),
            year,
            date,
        });
    }
    Ok(date)
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

fn in_year(dates: &BTreeSet<NaiveDate>, year: i32) -> Vec<NaiveDate> {
    dates.iter().copied().filter(|d| d.year() == year).collect()
}

/// The weekday in Chinese (星期一 … 星期日).
fn weekday_zh(date: NaiveDate) -> &'static str {
    const NAMES: [&str; 7] = [
        "星期一",
        "星期二",
        "星期三",
        "星期四",
        "星期五",
        "星期六",
        "星期日",
    ];
    NAMES[date.weekday().num_days_from_monday() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// A two-year calendar: 2024 with its Spring Festival and National Day blocks, 2025 with
    /// its New Year's Day.
    const SMALL: &str = r#"
[2024]
notice = "国办发明电〔2023〕7号"
holidays = ["2024-02-10", "2024-02-11", "2024-02-12", "2024-02-13", "2024-02-14",
            "2024-02-15", "2024-02-16", "2024-02-17",
            "2024-10-01", "2024-10-02", "2024-10-03", "2024-10-04", "2024-10-05",
            "2024-10-06", "2024-10-07"]
workdays = ["2024-02-04", "2024-02-18", "2024-09-29", "2024-10-12"]

[2025]
notice = "国办发明电〔2024〕12号"
holidays = ["2025-01-01"]
workdays = []
"#;

    fn err(text: &str) -> String {
        Calendar::parse(text, "cal.toml").unwrap_err().to_string()
    }

    #[test]
    fn a_small_calendar_parses() {
        let cal = Calendar::parse(SMALL, "cal.toml").unwrap();
        assert_eq!(cal.covered_years(), 2024..=2025);
        assert_eq!(cal.notice(2025), Some("国办发明电〔2024〕12号"));
        assert_eq!(cal.holidays(2024).len(), 15);
        assert_eq!(cal.make_up_workdays(2024)[1], d(2024, 2, 18));
        assert!(cal.is_working_day(d(2024, 2, 18)).unwrap());
        assert!(!cal.is_working_day(d(2024, 2, 12)).unwrap());
        assert!(!cal.is_working_day(d(2025, 1, 1)).unwrap());
        assert!(!cal.is_working_day(d(2025, 1, 4)).unwrap());
        assert!(cal.is_working_day(d(2025, 1, 2)).unwrap());
    }

    #[test]
    fn a_date_outside_its_year_table_is_refused() {
        let text = "[2024]\nnotice = \"x\"\nholidays = [\"2025-01-01\"]\nworkdays = []\n";
        let e = err(text);
        assert!(
            e.contains("2025-01-01 写在 [2024] 表中") && e.contains("[2025]"),
            "{e}"
        );
        let text = "[2024]\nnotice = \"x\"\nholidays = []\nworkdays = [\"2023-12-31\"]\n";
        assert!(err(text).contains("不在 2024 年内"));
    }

    #[test]
    fn a_date_both_holiday_and_workday_is_refused() {
        let text =
            "[2024]\nnotice = \"x\"\nholidays = [\"2024-02-18\"]\nworkdays = [\"2024-02-18\"]\n";
        assert_eq!(
            Calendar::parse(text, "cal.toml").unwrap_err(),
            CalendarError::HolidayAndWorkday {
                origin: "cal.toml".into(),
                date: d(2024, 2, 18)
            }
        );
        assert!(err(text).contains("既列为放假日"));
    }

    #[test]
    fn a_workday_on_a_weekday_is_refused() {
        let text = "[2024]\nnotice = \"x\"\nholidays = []\nworkdays = [\"2024-02-19\"]\n";
        let e = err(text);
        assert!(e.contains("2024-02-19 是星期一,不是周六或周日"), "{e}");
    }

    #[test]
    fn duplicated_dates_are_refused() {
        let text =
            "[2024]\nnotice = \"x\"\nholidays = [\"2024-10-01\", \"2024-10-01\"]\nworkdays = []\n";
        assert!(err(text).contains("2024-10-01 重复出现"));
        let text =
            "[2024]\nnotice = \"x\"\nholidays = []\nworkdays = [\"2024-10-12\", \"2024-10-12\"]\n";
        assert!(err(text).contains("2024-10-12 重复出现"));
    }

    #[test]
    fn malformed_files_are_refused_with_the_reason() {
        assert!(err("").contains("没有任何年份"));
        assert!(
            err("[24]\nnotice = \"x\"\nholidays = []\nworkdays = []\n").contains("[24] 不是年份")
        );
        let gap = "[2023]\nnotice = \"x\"\nholidays = []\nworkdays = []\n\
                   [2025]\nnotice = \"y\"\nholidays = []\nworkdays = []\n";
        assert!(err(gap).contains("缺少 [2024] 年的表"));
        let bad = "[2024]\nnotice = \"x\"\nholidays = [\"2024-2-30\"]\nworkdays = []\n";
        assert!(err(bad).contains("\"2024-2-30\" 无效"));
        let no_notice = "[2024]\nnotice = \" \"\nholidays = []\nworkdays = []\n";
        assert!(err(no_notice).contains("没有写通知文号"));
        let unknown = "[2024]\nnotice = \"x\"\nholidays = []\nworkdays = []\nextra = 1\n";
        assert!(err(unknown).starts_with("cal.toml:不是有效的日历文件"));
        assert!(err("[2024]\nnotice = \"x\"\nholidays = []\n").contains("workdays"));
    }

    #[test]
    fn a_year_not_covered_is_an_error_naming_the_file_and_years() {
        let cal = Calendar::parse(SMALL, "cal.toml").unwrap();
        let e = cal.is_working_day(d(2026, 1, 5)).unwrap_err();
        assert_eq!(
            e,
            CalendarError::YearNotCovered {
                year: 2026,
                first: 2024,
                last: 2025
            }
        );
        let text = e.to_string();
        assert!(
            text.contains("2024–2025") && text.contains("config/calendar.toml"),
            "{text}"
        );
        assert!(
            text.contains("国务院办公厅关于2026年部分节假日安排的通知"),
            "{text}"
        );
        assert!(cal
            .working_days_between(d(2023, 12, 1), d(2024, 1, 5))
            .is_err());
        assert!(cal.add_working_days(d(2025, 12, 30), 5).is_err());
    }

    #[test]
    fn a_notice_needs_at_least_one_day() {
        let cal = Calendar::parse(SMALL, "cal.toml").unwrap();
        assert_eq!(
            cal.notice_end(d(2024, 3, 1), 0),
            Err(CalendarError::EmptyNotice)
        );
        assert_eq!(cal.notice_end(d(2024, 3, 1), 1), Ok(d(2024, 3, 1)));
        // Saturday 2024-03-02: the notice starts, and with one day ends, on Monday.
        assert_eq!(cal.notice_end(d(2024, 3, 2), 1), Ok(d(2024, 3, 4)));
    }

    #[test]
    fn the_built_in_calendar_parses() {
        assert_eq!(Calendar::built_in().covered_years(), 2021..=2026);
    }
}
