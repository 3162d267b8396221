//! The working-day calendar shipped in `config/calendar.toml`: every year's holiday blocks and
//! make-up working days against the State Council's published notices, public notices (公示)
//! counted by hand across Spring Festivals, National Days and New Years, and properties of the
//! working-day arithmetic over every covered year.

use chieftech::rules::workdays::{Calendar, CalendarError};
use chrono::{Datelike, Days, NaiveDate, Weekday};
use proptest::prelude::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn cal() -> &'static Calendar {
    Calendar::built_in()
}

/// A month and day.
type Md = (u32, u32);

/// A year as its notice publishes it: the 文号, the holiday blocks (first and last day off, as
/// written in the notice, "X至Y放假") and the make-up working days ("X(星期日)上班").
struct Notice {
    year: i32,
    number: &'static str,
    blocks: &'static [(Md, Md)],
    make_up: &'static [Md],
}

/// The notices, transcribed from their text (see the comments in config/calendar.toml).
const NOTICES: &[Notice] = &[
    Notice {
        year: 2021,
        number: "国办发明电〔2020〕27号",
        blocks: &[
            ((1, 1), (1, 3)),
            ((2, 11), (2, 17)),
            ((4, 3), (4, 5)),
            ((5, 1), (5, 5)),
            ((6, 12), (6, 14)),
            ((9, 19), (9, 21)),
            ((10, 1), (10, 7)),
        ],
        make_up: &[(2, 7), (2, 20), (4, 25), (5, 8), (9, 18), (9, 26), (10, 9)],
    },
    Notice {
        year: 2022,
        number: "国办发明电〔2021〕11号",
        blocks: &[
            ((1, 1), (1, 3)),
            ((1, 31), (2, 6)),
            ((4, 3), (4, 5)),
            ((4, 30), (5, 4)),
            ((6, 3), (6, 5)),
            ((9, 10), (9, 12)),
            ((10, 1), (10, 7)),
            // The first day of the 2023 notice's New Year block (2022-12-31 to 2023-01-02).
            ((12, 31), (12, 31)),
        ],
        make_up: &[(1, 29), (1, 30), (4, 2), (4, 24), (5, 7), (10, 8), (10, 9)],
    },
    Notice {
        year: 2023,
        number: "国办发明电〔2022〕16号",
        blocks: &[
            ((1, 1), (1, 2)),
            ((1, 21), (1, 27)),
            ((4, 5), (4, 5)),
            ((4, 29), (5, 3)),
            ((6, 22), (6, 24)),
            ((9, 29), (10, 6)),
        ],
        make_up: &[(1, 28), (1, 29), (4, 23), (5, 6), (6, 25), (10, 7), (10, 8)],
    },
    Notice {
        year: 2024,
        number: "国办发明电〔2023〕7号",
        blocks: &[
            ((1, 1), (1, 1)),
            ((2, 10), (2, 17)),
            ((4, 4), (4, 6)),
            ((5, 1), (5, 5)),
            ((6, 10), (6, 10)),
            ((9, 15), (9, 17)),
            ((10, 1), (10, 7)),
        ],
        make_up: &[
            (2, 4),
            (2, 18),
            (4, 7),
            (4, 28),
            (5, 11),
            (9, 14),
            (9, 29),
            (10, 12),
        ],
    },
    Notice {
        year: 2025,
        number: "国办发明电〔2024〕12号",
        blocks: &[
            ((1, 1), (1, 1)),
            ((1, 28), (2, 4)),
            ((4, 4), (4, 6)),
            ((5, 1), (5, 5)),
            ((5, 31), (6, 2)),
            ((10, 1), (10, 8)),
        ],
        make_up: &[(1, 26), (2, 8), (4, 27), (9, 28), (10, 11)],
    },
    Notice {
        year: 2026,
        number: "国办发明电〔2025〕7号",
        blocks: &[
            ((1, 1), (1, 3)),
            ((2, 15), (2, 23)),
            ((4, 4), (4, 6)),
            ((5, 1), (5, 5)),
            ((6, 19), (6, 21)),
            ((9, 25), (9, 27)),
            ((10, 1), (10, 7)),
        ],
        make_up: &[(1, 4), (2, 14), (2, 28), (5, 9), (9, 20), (10, 10)],
    },
];

/// Every day of a notice's blocks, in order.
fn block_days(notice: &Notice) -> Vec<NaiveDate> {
    let mut days = Vec::new();
    for &((m1, d1), (m2, d2)) in notice.blocks {
        let (first, last) = (d(notice.year, m1, d1), d(notice.year, m2, d2));
        days.extend(first.iter_days().take_while(|day| *day <= last));
    }
    days.sort();
    days
}

#[test]
fn every_shipped_year_matches_its_published_notice() {
    assert_eq!(cal().covered_years(), 2021..=2026);
    for notice in NOTICES {
        let year = notice.year;
        assert_eq!(cal().notice(year), Some(notice.number), "{year}");
        assert_eq!(cal().holidays(year), block_days(notice), "{year} holidays");
        let make_up: Vec<NaiveDate> = notice.make_up.iter().map(|&(m, x)| d(year, m, x)).collect();
        assert_eq!(cal().make_up_workdays(year), make_up, "{year} make-up days");
        for day in make_up {
            assert!(cal().is_working_day(day).unwrap(), "{day}");
        }
    }
}

#[test]
fn the_counts_per_year_are_the_notices_counts() {
    // (year, days off listed, make-up working days): the sum of each notice's "共N天", and its
    // "上班" days. 2022 holds the 2023 notice's 2022-12-31; 2024's "1月1日放假,与周末连休" and
    // "6月10日放假,与周末连休" list one day each.
    let counts = [
        (2021, 31, 7),
        (2022, 32, 7),
        (2023, 26, 7),
        (2024, 28, 8),
        (2025, 28, 5),
        (2026, 33, 6),
    ];
    for (year, holidays, make_up) in counts {
        assert_eq!(cal().holidays(year).len(), holidays, "{year}");
        assert_eq!(cal().make_up_workdays(year).len(), make_up, "{year}");
    }
}

#[test]
fn spot_dates_of_each_notice() {
    let off = |y, m, x| !cal().is_working_day(d(y, m, x)).unwrap();
    let on = |y, m, x| cal().is_working_day(d(y, m, x)).unwrap();
    // 2025 Spring Festival: 1-28 (除夕, Tuesday) to 2-4 off; Sunday 1-26 and Saturday 2-8 worked.
    assert!(off(2025, 1, 28) && off(2025, 2, 4) && on(2025, 2, 5) && on(2025, 1, 27));
    assert!(on(2025, 1, 26) && on(2025, 2, 8));
    // 2025 National Day and Mid-Autumn: 10-1 to 10-8 off; Sunday 9-28 and Saturday 10-11 worked.
    assert!(off(2025, 10, 1) && off(2025, 10, 8) && on(2025, 10, 9));
    assert!(on(2025, 9, 28) && on(2025, 10, 11) && off(2025, 10, 12));
    // 2024: 除夕 2-9 (Friday) is a working day (the notice only encourages leave).
    assert!(on(2024, 2, 9) && off(2024, 2, 10) && on(2024, 2, 4) && on(2024, 2, 18));
    // 2023: the New Year block starts on Saturday 2022-12-31; Monday 1-2 is off.
    assert!(off(2022, 12, 31) && off(2023, 1, 2) && on(2023, 1, 3));
    assert!(on(2023, 6, 25) && on(2023, 10, 7) && on(2023, 10, 8) && off(2023, 10, 6));
    // 2022: National Day's make-up days are the weekend right after it.
    assert!(on(2022, 10, 8) && on(2022, 10, 9) && on(2022, 1, 29) && on(2022, 4, 2));
    // 2021: 端午 6-12 to 6-14 (Monday 6-14 off) without a make-up day.
    assert!(off(2021, 6, 14) && on(2021, 6, 15) && on(2021, 2, 20) && on(2021, 9, 18));
    // 2026: the Spring Festival block of 9 days 2-15 to 2-23; Saturdays 2-14 and 2-28 worked.
    assert!(off(2026, 2, 23) && on(2026, 2, 24) && on(2026, 2, 14) && on(2026, 2, 28));
    assert!(on(2026, 1, 4) && on(2026, 9, 20) && on(2026, 10, 10) && off(2026, 10, 7));
    // Ordinary weeks: Monday to Friday worked, the weekend off.
    assert!(on(2025, 3, 3) && on(2025, 3, 7) && off(2025, 3, 8) && off(2025, 3, 9));
}

#[test]
fn a_notice_across_the_2024_spring_festival_counts_the_make_up_sunday() {
    // 2024 (国办发明电〔2023〕7号): 2-10 to 2-17 off, Sunday 2-18 worked. A notice from
    // Wednesday 2-7: 2-7 (1), 2-8 (2), 2-9 除夕 but a working Friday (3), 2-10…2-17 off,
    // Sunday 2-18 make-up (4), Monday 2-19 (5): it ends on 2-19, not 2-20.
    assert_eq!(cal().notice_end(d(2024, 2, 7), 5), Ok(d(2024, 2, 19)));
    assert_eq!(
        cal().working_days_between(d(2024, 2, 7), d(2024, 2, 19)),
        Ok(5)
    );
    // Feb 2024: 21 weekdays, less 2-12…2-16 off (5), plus Sundays 2-4 and 2-18 = 18.
    assert_eq!(
        cal().working_days_between(d(2024, 2, 1), d(2024, 2, 29)),
        Ok(18)
    );
    // 2025 (国办发明电〔2024〕12号): 1-28 to 2-4 off, Sunday 1-26 and Saturday 2-8 worked.
    // From Friday 1-24: 1-24 (1), Sunday 1-26 (2), 1-27 (3), 2-5 (4), 2-6 (5).
    assert_eq!(cal().notice_end(d(2025, 1, 24), 5), Ok(d(2025, 2, 6)));
    // 2026 (国办发明电〔2025〕7号): 2-15 to 2-23 off, Saturday 2-14 worked. From Thursday 2-12:
    // 2-12 (1), 2-13 (2), Saturday 2-14 (3), 2-24 (4), 2-25 (5).
    assert_eq!(cal().notice_end(d(2026, 2, 12), 5), Ok(d(2026, 2, 25)));
}

#[test]
fn a_notice_across_national_day_counts_the_make_up_weekend_days() {
    // 2024: Sunday 9-29 worked, 10-1 to 10-7 off, Saturday 10-12 worked. From Friday 9-27:
    // 9-27 (1), Saturday 9-28 off, Sunday 9-29 (2), 9-30 (3), 10-8 (4), 10-9 (5).
    assert_eq!(cal().notice_end(d(2024, 9, 27), 5), Ok(d(2024, 10, 9)));
    // From Wednesday 10-9: 10-9, 10-10, 10-11, Saturday 10-12 (4), Sunday off, Monday 10-14 (5).
    assert_eq!(cal().notice_end(d(2024, 10, 9), 5), Ok(d(2024, 10, 14)));
    // A notice dated on a holiday starts on the next working day. 2025-10-03 is inside the
    // 10-1…10-8 block: it runs 10-9 (1), 10-10 (2), Saturday 10-11 (3), 10-13 (4), 10-14 (5).
    assert_eq!(cal().notice_end(d(2025, 10, 3), 5), Ok(d(2025, 10, 14)));
    assert_eq!(
        cal().first_working_day_from(d(2025, 10, 3)),
        Ok(d(2025, 10, 9))
    );
    // 2023: 9-29 to 10-6 off, then Saturday 10-7 and Sunday 10-8 both worked. From Thursday
    // 9-28: 9-28 (1), 10-7 (2), 10-8 (3), 10-9 (4), 10-10 (5).
    assert_eq!(cal().notice_end(d(2023, 9, 28), 5), Ok(d(2023, 10, 10)));
}

#[test]
fn notices_across_new_year() {
    // Into 2024: Wednesday 2023-12-27 (1), 12-28 (2), 12-29 (3), weekend, 1-1 off, 1-2 (4), 1-3 (5).
    assert_eq!(cal().notice_end(d(2023, 12, 27), 5), Ok(d(2024, 1, 3)));
    // Into 2023, whose New Year block begins on Saturday 2022-12-31: 12-28, 12-29, 12-30,
    // then 12-31…1-2 off, 1-3 (4), 1-4 (5).
    assert_eq!(cal().notice_end(d(2022, 12, 28), 5), Ok(d(2023, 1, 4)));
    // Friday 2026-12-25 to Thursday 12-31 stays inside 2026.
    assert_eq!(cal().notice_end(d(2026, 12, 25), 5), Ok(d(2026, 12, 31)));
}

#[test]
fn a_notice_running_into_a_year_not_covered_is_refused() {
    // Monday 2026-12-28: 12-28…12-31 are four working days; the fifth would be in 2027,
    // whose notice the calendar does not hold.
    let err = cal().notice_end(d(2026, 12, 28), 5).unwrap_err();
    assert_eq!(
        err,
        CalendarError::YearNotCovered {
            year: 2027,
            first: 2021,
            last: 2026
        }
    );
    let text = err.to_string();
    assert!(
        text.contains("2021–2026") && text.contains("config/calendar.toml"),
        "{text}"
    );
    assert!(
        text.contains("国务院办公厅关于2027年部分节假日安排的通知"),
        "{text}"
    );
    assert!(cal().is_working_day(d(2020, 12, 31)).is_err());
    assert!(cal()
        .working_days_between(d(2026, 12, 1), d(2027, 1, 8))
        .is_err());
    assert_eq!(
        cal().working_days_between(d(2026, 12, 28), d(2026, 12, 31)),
        Ok(4)
    );
}

#[test]
fn add_working_days_counts_from_the_day_after() {
    // Friday 2024-09-27 + 1 is Sunday 9-29 (make-up); + 2 is 9-30; + 3 is 10-8.
    assert_eq!(
        cal().add_working_days(d(2024, 9, 27), 1),
        Ok(d(2024, 9, 29))
    );
    assert_eq!(
        cal().add_working_days(d(2024, 9, 27), 3),
        Ok(d(2024, 10, 8))
    );
    // From a holiday, + 0 is the next working day, + 1 the one after.
    assert_eq!(
        cal().add_working_days(d(2024, 10, 2), 0),
        Ok(d(2024, 10, 8))
    );
    assert_eq!(
        cal().add_working_days(d(2024, 10, 2), 1),
        Ok(d(2024, 10, 8))
    );
    assert_eq!(
        cal().add_working_days(d(2024, 10, 8), 1),
        Ok(d(2024, 10, 9))
    );
    assert_eq!(
        cal().working_days_between(d(2024, 3, 5), d(2024, 3, 4)),
        Ok(0)
    );
}

fn is_weekend(day: NaiveDate) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

proptest! {
    #[test]
    fn working_day_arithmetic_is_consistent(offset in 0u64..2191, n in 0u32..=30) {
        let start = d(2021, 1, 1) + Days::new(offset);
        prop_assert!(start.year() <= 2026);
        let next = start + Days::new(1);
        match cal().add_working_days(start, n) {
            Ok(end) => {
                prop_assert!(cal().is_working_day(end).unwrap());
                prop_assert!(end >= start);
                if n == 0 {
                    prop_assert_eq!(cal().working_days_between(start, end), Ok(1));
                } else {
                    prop_assert_eq!(cal().working_days_between(next, end), Ok(n));
                    // end is the earliest such day: one day less counts n - 1.
                    let before = end - Days::new(1);
                    prop_assert_eq!(cal().working_days_between(next, before), Ok(n - 1));
                }
                let k = n.max(1);
                let notice_end = cal().notice_end(start, k).unwrap();
                prop_assert!(cal().is_working_day(notice_end).unwrap());
                prop_assert_eq!(cal().working_days_between(start, notice_end), Ok(k));
            }
            Err(e) => {
                // Only a count running past the last covered year fails.
                let expected = CalendarError::YearNotCovered { year: 2027, first: 2021, last: 2026 };
                prop_assert_eq!(e, expected);
                prop_assert!(start >= d(2026, 11, 1));
            }
        }
    }

    #[test]
    fn weekdays_off_and_weekend_days_on_are_exactly_the_listed_ones(offset in 0u64..2191) {
        let day = d(2021, 1, 1) + Days::new(offset);
        let weekend = is_weekend(day);
        let changed = if weekend {
            cal().make_up_workdays(day.year()).contains(&day)
        } else {
            cal().holidays(day.year()).contains(&day)
        };
        // A working weekend day, or a weekday off: exactly the listed exceptions.
        let working = cal().is_working_day(day).unwrap();
        prop_assert_eq!(working == weekend, changed);
    }
}
