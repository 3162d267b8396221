//! Lifecycle reminders (`docs/rules.md` §10): which notices fall due on a date.
//! Pure: the date is a parameter; the job that queues them lives in `jobs::remind`.

use super::change::Appointment;
use super::policy::PolicySet;
use chrono::{Datelike, Days, NaiveDate};

/// When reminders fall due; every field has docs/rules.md's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderSchedule {
    /// Days before the term's end (0 = on the end day).
    pub term_expiry_days: Vec<u32>,
    /// Days before the last policy version ends.
    pub policy_expiry_days: Vec<u32>,
    /// (month, day) of the request to units before each payment run.
    pub run_request: (u32, u32),
    /// (month, day) of the annual call for nominations.
    pub nominations: (u32, u32),
}

impl Default for ReminderSchedule {
    fn default() -> Self {
        ReminderSchedule {
            term_expiry_days: vec![90, 30, 0],
            policy_expiry_days: vec![180, 90, 30],
            run_request: (11, 1),
            nominations: (4, 1),
        }
    }
}

/// A reminder due on a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reminder {
    /// An appointment's term ends in `days` days (0: today), on `term_end`.
    TermExpiry {
        appointment_id: i64,
        days: u32,
        term_end: NaiveDate,
    },
    /// Ask each unit to confirm or report changes before the run of `year`.
    RunRequest { year: i32 },
    /// The last policy version ends in `days` days, on `last_day`.
    PolicyExpiry { days: u32, last_day: NaiveDate },
    /// The annual call for nominations of `year`.
    Nominations { year: i32 },
}

impl Reminder {
    /// The stable part of the outbox key (the recipient is appended by the job).
    pub fn key(&self) -> String {
        match self {
            Reminder::TermExpiry {
                appointment_id,
                days,
                ..
            } => format!("term-expiry:{appointment_id}:{days}d"),
            Reminder::RunRequest { year } => format!("run-request:{year}"),
            Reminder::PolicyExpiry { days, last_day } => {
                format!("policy-expiry:{last_day}:{days}d")
            }
            Reminder::Nominations { year } => format!("nominations:{year}"),
        }
    }
}

/// The reminders due on `date`. `appointments` pairs each appointment with whether its
/// benefits ended for good before its term's end (no expiry notice is sent then).
pub fn due_on(
    date: NaiveDate,
    appointments: &[(Appointment, bool)],
    policy: &PolicySet,
    schedule: &ReminderSchedule,
) -> Vec<Reminder> {
    let mut out = Vec::new();
    for (a, ended) in appointments {
        if *ended {
            continue;
        }
        let end = a.term_end();
        for &days in &schedule.term_expiry_days {
            if end.checked_sub_days(Days::new(days.into())) == Some(date) {
                out.push(Reminder::TermExpiry {
                    appointment_id: a.id,
                    days,
                    term_end: end,
                });
            }
        }
    }
    if (date.month(), date.day()) == schedule.run_request {
        out.push(Reminder::RunRequest { year: date.year() });
    }
    if (date.month(), date.day()) == schedule.nominations {
        out.push(Reminder::Nominations { year: date.year() });
    }
    if let Some(last) = policy.last_day() {
        for &days in &schedule.policy_expiry_days {
            if last.checked_sub_days(Days::new(days.into())) == Some(date) {
                out.push(Reminder::PolicyExpiry {
                    days,
                    last_day: last,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn each_reminder_once_over_three_years() {
        let a = Appointment {
            id: 7,
            approval_date: d("2021-10-15"),
            approval_no: "n".into(),
        };
        let ended = Appointment {
            id: 8,
            approval_date: d("2021-10-15"),
            approval_no: "m".into(),
        };
        let appts = [(a, false), (ended, true)];
        let policy = PolicySet::default_zhangdian();
        let s = ReminderSchedule::default();
        let mut all = Vec::new();
        let mut day = d("2021-10-01");
        while day <= d("2026-12-31") {
            for r in due_on(day, &appts, &policy, &s) {
                all.push((day, r));
            }
            day = day.succ_opt().unwrap();
        }
        let expiry: Vec<NaiveDate> = all
            .iter()
            .filter(|(_, r)| matches!(r, Reminder::TermExpiry { .. }))
            .map(|(d, _)| *d)
            .collect();
        assert_eq!(expiry, [d("2024-08-02"), d("2024-10-01"), d("2024-10-31")]);
        let policy_days: Vec<NaiveDate> = all
            .iter()
            .filter(|(_, r)| matches!(r, Reminder::PolicyExpiry { .. }))
            .map(|(d, _)| *d)
            .collect();
        assert_eq!(
            policy_days,
            [d("2026-03-04"), d("2026-06-02"), d("2026-08-01")]
        );
        let requests = all
            .iter()
            .filter(|(_, r)| matches!(r, Reminder::RunRequest { .. }))
            .count();
        assert_eq!(requests, 6); // 2021 … 2026
        let keys: std::collections::HashSet<String> = all.iter().map(|(_, r)| r.key()).collect();
        assert_eq!(keys.len(), all.len(), "every key is unique");
        assert!(all
            .iter()
            .any(|(day, r)| *day == d("2022-04-01") && *r == Reminder::Nominations { year: 2022 }));
    }
}
