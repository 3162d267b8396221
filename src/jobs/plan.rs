//! What is due: schedules × recorded runs × now → what to run, what to catch up, what was
//! missed. Pure (no clock, no I/O): tokio-cron-scheduler only wakes the daemon; this decides.
//!
//! Schedules are 6-field cron expressions (seconds first) in Asia/Shanghai time; day of month
//! and day of week must both match. For each job, the scheduled times since the last recorded
//! one collapse into one run of the latest (a catch-up when it is past); when even the latest
//! is older than the catch-up deadline, it is reported as missed instead.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Asia::Shanghai;
use croner::parser::{CronParser, Seconds};
use croner::Cron;

/// A job's schedule.
#[derive(Debug, Clone)]
pub struct JobSchedule {
    pub job: String,
    pub expression: String,
    cron: Cron,
}

/// A cron expression that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule of `{job}`: `{expression}` is not a 6-field cron expression (sec min hour day month weekday): {reason}")]
pub struct ScheduleError {
    pub job: String,
    pub expression: String,
    pub reason: String,
}

impl JobSchedule {
    /// Parses a 6-field cron expression (seconds first).
    pub fn parse(job: &str, expression: &str) -> Result<JobSchedule, ScheduleError> {
        let err = |reason: String| ScheduleError {
            job: job.into(),
            expression: expression.into(),
            reason,
        };
        if expression.split_whitespace().count() != 6 {
            return Err(err(format!(
                "{} fields",
                expression.split_whitespace().count()
            )));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(expression)
            .map_err(|e| err(e.to_string()))?;
        Ok(JobSchedule {
            job: job.into(),
            expression: expression.into(),
            cron,
        })
    }

    /// The first scheduled time strictly after `t` (always a whole second).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&whole_second(t).with_timezone(&Shanghai), false)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The latest scheduled time in `(after, until]`, if any.
    pub fn latest_in(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Scheduled times are whole seconds, so every daemon names the same time alike.
        self.cron
            .find_previous_occurrence(&whole_second(until).with_timezone(&Shanghai), true)
            .ok()
            .map(|d| d.with_timezone(&Utc))
            .filter(|p| *p > after)
    }
}

/// `t` without its fraction of a second.
fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Timelike;
    t.with_nanosecond(0).unwrap_or(t)
}

/// What the daemon should do now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// (job, scheduled time) to run now; a time before `now` is a catch-up.
    pub run: Vec<(String, DateTime<Utc>)>,
    /// (job, scheduled time) past the catch-up deadline: recorded as missed, not run.
    pub missed: Vec<(String, DateTime<Utc>)>,
}

/// Decides what is due at `now`. `last` gives, per job, the latest scheduled time already
/// recorded (run, running or missed); a job without one counts from `since`.
pub fn plan(
    schedules: &[JobSchedule],
    last: &dyn Fn(&str) -> Option<DateTime<Utc>>,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    deadline: Duration,
) -> Plan {
    let mut p = Plan::default();
    for s in schedules {
        let after = last(&s.job).unwrap_or(since);
        if let Some(t) = s.latest_in(after, now) {
            if now - t <= deadline {
                p.run.push((s.job.clone(), t));
            } else {
                p.missed.push((s.job.clone(), t));
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn schedules() -> Vec<JobSchedule> {
        vec![
            JobSchedule::parse("inbox", "0 */15 * * * *").unwrap(),
            JobSchedule::parse("outbox", "0 * * * * *").unwrap(),
            JobSchedule::parse("remind", "0 30 8 * * *").unwrap(),
            JobSchedule::parse("payrun", "0 0 9 1 12 *").unwrap(),
        ]
    }

    /// A simulated year, waking every minute: each job's times come out as configured, in
    /// Shanghai time, each once.
    #[test]
    fn a_simulated_year_runs_each_time_once() {
        let s = schedules();
        let start = utc("2025-01-01T00:00:00Z");
        let mut last: HashMap<String, DateTime<Utc>> = HashMap::new();
        let mut runs: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
        let mut now = start;
        let end = utc("2026-01-01T00:00:00Z");
        while now < end {
            // Wake at the next time any job is due (as the scheduler would).
            let next = s.iter().filter_map(|j| j.next_after(now)).min().unwrap();
            now = next;
            let p = plan(
                &s,
                &|j| last.get(j).copied(),
                start,
                now,
                Duration::hours(48),
            );
            assert!(p.missed.is_empty());
            for (job, t) in p.run {
                assert_eq!(t, now, "on time");
                runs.entry(job.clone()).or_default().push(t);
                last.insert(job, t);
            }
        }
        assert_eq!(runs["remind"].len(), 365);
        assert!(runs["remind"].iter().all(|t| t
            .with_timezone(&Shanghai)
            .format("%H:%M:%S")
            .to_string()
            == "08:30:00"));
        assert_eq!(runs["payrun"], [utc("2025-12-01T01:00:00Z")]);
        assert_eq!(runs["inbox"].len(), 365 * 24 * 4);
        assert_eq!(runs["outbox"].len(), 365 * 24 * 60);
    }

    #[test]
    fn downtime_is_caught_up_once_or_reported_missed() {
        let s = schedules();
        let mut last: HashMap<String, DateTime<Utc>> = HashMap::new();
        for j in ["inbox", "outbox", "remind", "payrun"] {
            last.insert(j.into(), utc("2025-11-30T12:00:00Z"));
        }
        // Down from 2025-11-30 12:00 to 2025-12-01 03:10 UTC: the payrun at 01:00 UTC and the
        // remind at 00:30 UTC are caught up once; inbox and outbox run once for the latest time.
        let now = utc("2025-12-01T03:10:30Z");
        let p = plan(&s, &|j| last.get(j).copied(), now, now, Duration::hours(48));
        let mut run = p.run.clone();
        run.sort();
        assert_eq!(
            run,
            [
                ("inbox".to_string(), utc("2025-12-01T03:00:00Z")),
                ("outbox".to_string(), utc("2025-12-01T03:10:00Z")),
                ("payrun".to_string(), utc("2025-12-01T01:00:00Z")),
                ("remind".to_string(), utc("2025-12-01T00:30:00Z")),
            ]
        );
        // After recording them, nothing more is due.
        for (j, t) in &p.run {
            last.insert(j.clone(), *t);
        }
        let again = plan(&s, &|j| last.get(j).copied(), now, now, Duration::hours(48));
        assert!(again.run.is_empty() && again.missed.is_empty());
        // Down for four days: the payrun is past the 48-hour deadline and is reported missed.
        let mut last2 = HashMap::new();
        last2.insert("payrun".to_string(), utc("2025-11-30T00:00:00Z"));
        let later = utc("2025-12-05T00:00:00Z");
        let p = plan(
            &s[3..],
            &|j| last2.get(j).copied(),
            later,
            later,
            Duration::hours(48),
        );
        assert_eq!(
            p.missed,
            [("payrun".to_string(), utc("2025-12-01T01:00:00Z"))]
        );
        assert!(p.run.is_empty());
    }

    #[test]
    fn scheduled_times_are_whole_seconds() {
        let s = JobSchedule::parse("x", "*/2 * * * * *").unwrap();
        let t = s.latest_in(utc("2025-01-01T00:00:00Z"), utc("2025-01-01T00:00:06.618Z"));
        assert_eq!(t, Some(utc("2025-01-01T00:00:06Z")));
        assert_eq!(
            s.next_after(utc("2025-01-01T00:00:06.618Z")),
            Some(utc("2025-01-01T00:00:08Z"))
        );
    }

    #[test]
    fn bad_expressions_are_refused() {
        assert!(JobSchedule::parse("x", "*/15 * * * *").is_err());
        assert!(JobSchedule::parse("x", "0 61 * * * *").is_err());
        assert!(JobSchedule::parse("x", "0 0 9 1 12 *").is_ok());
    }
}
