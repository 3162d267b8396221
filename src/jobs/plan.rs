//! What is due: schedules × recorded runs × now → what to run, what to retry, what to catch up,
//! what was missed, what to give up. Pure (no clock, no I/O): tokio-cron-scheduler only wakes
//! the daemon; this decides.
//!
//! Schedules are 6-field cron expressions (seconds first) in Asia/Shanghai time; day of month
//! and day of week must both match. For each job, the scheduled times since the last recorded
//! one collapse into one run of the latest (a catch-up when it is past); when even the latest
//! is older than the catch-up deadline, it is reported as missed instead.
//!
//! The last recorded time is the latest that is not in the future: a row a clock once ahead
//! left in the future is reported ([`Plan::future`]), never a reason to stop scheduling.
//!
//! A failed run is retried with backoff ([`RetryPolicy`]: base, 2 × base, 4 × base … after each
//! failure) until it succeeds, its attempts are used up or the catch-up window of its scheduled
//! time closes; then it is given up ([`Plan::give_up`]). A newer scheduled time of the same job
//! supersedes a pending retry (every job does all the work pending when it runs) and carries
//! its failed attempts on, so a job failing at every scheduled time is still given up.

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

/// How failed runs are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay after the first failure; it doubles after each further one.
    pub base: Duration,
    /// Attempts in all (the first run included) before a run is given up.
    pub max_attempts: u32,
    /// A scheduled time is not tried any more once it is older than this (the catch-up window).
    pub window: Duration,
}

impl RetryPolicy {
    /// When to try (job, `at`) again after `attempts` failed attempts, the last of which ended
    /// at `ended`; None when it is to be given up.
    pub fn next_attempt(
        &self,
        at: DateTime<Utc>,
        attempts: u32,
        ended: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        if attempts >= self.max_attempts {
            return None;
        }
        let doublings = attempts.saturating_sub(1).min(20);
        let delay = self.base * (1i32 << doublings);
        let next = whole_second(ended + delay);
        (next - at <= self.window).then_some(next)
    }
}

/// A recorded run waiting to be tried again: a failed one (`retrying`), or the claim of a
/// daemon that stopped sending heartbeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub at: DateTime<Utc>,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it may be tried again.
    pub next_attempt: DateTime<Utc>,
}

/// What is recorded of a job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobState {
    /// The latest recorded scheduled time not after now (run, running, failed or missed).
    pub last: Option<DateTime<Utc>>,
    /// The earliest recorded scheduled time after now, if any (a clock was once ahead).
    pub future: Option<DateTime<Utc>>,
    /// Runs to try again.
    pub pending: Vec<Pending>,
}

/// One run to start now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub job: String,
    /// Its scheduled time; before now for a catch-up or a retry.
    pub at: DateTime<Utc>,
    /// Failed attempts it carries: of the pending run itself for a retry, of the pending runs it
    /// supersedes for a new time.
    pub attempts: u32,
    /// Pending runs of the job this one supersedes (to be closed when it is claimed).
    pub supersedes: Vec<DateTime<Utc>>,
}

/// What the daemon should do now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Runs to start now: new scheduled times (catch-ups included) and retries.
    pub run: Vec<Due>,
    /// (job, scheduled time) past the catch-up deadline: recorded as missed, not run.
    pub missed: Vec<(String, DateTime<Utc>)>,
    /// Pending runs whose attempts or catch-up window are used up: recorded as failed.
    pub give_up: Vec<(String, Pending)>,
    /// (job, scheduled time) recorded in the future: reported, otherwise ignored.
    pub future: Vec<(String, DateTime<Utc>)>,
}

/// Decides what is due at `now`. `state` gives what is recorded of each job; a job without a
/// recorded time counts from `since`.
pub fn plan(
    schedules: &[JobSchedule],
    state: &dyn Fn(&str) -> JobState,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    retry: RetryPolicy,
) -> Plan {
    let mut p = Plan::default();
    let deadline = retry.window;
    for s in schedules {
        let st = state(&s.job);
        // A time in the future is reported, never taken as the last one.
        let (last, future) = match st.last {
            Some(t) if t > now => (None, Some(st.future.map_or(t, |f| f.min(t)))),
            other => (other, st.future.filter(|f| *f > now)),
        };
        if let Some(f) = future {
            p.future.push((s.job.clone(), f));
        }
        let after = last.unwrap_or(since);
        let mut newest: Option<DateTime<Utc>> = None;
        if let Some(t) = s.latest_in(after, now) {
            if now - t <= deadline {
                newest = Some(t);
            } else {
                p.missed.push((s.job.clone(), t));
            }
        }
        let mut superseded = Vec::new();
        let mut carried = 0;
        for q in &st.pending {
            match newest {
                Some(t) if q.at < t => {
                    superseded.push(q.at);
                    carried = carried.max(q.attempts);
                }
                _ if q.attempts >= retry.max_attempts || now - q.at > deadline => {
                    p.give_up.push((s.job.clone(), *q));
                }
                _ if q.next_attempt <= now => p.run.push(Due {
                    job: s.job.clone(),
                    at: q.at,
                    attempts: q.attempts,
                    supersedes: Vec::new(),
                }),
                _ => {}
            }
        }
        if let Some(t) = newest {
            p.run.push(Due {
                job: s.job.clone(),
                at: t,
                attempts: carried,
                supersedes: superseded,
            });
        }
    }
    p
}

/// The earliest time a pending run may be tried again, to wake the daemon for it.
pub fn next_wake(pending: &[Pending]) -> Option<DateTime<Utc>> {
    pending.iter().map(|p| p.next_attempt).min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn policy(hours: i64) -> RetryPolicy {
        RetryPolicy {
            base: Duration::minutes(1),
            max_attempts: 6,
            window: Duration::hours(hours),
        }
    }

    /// Only the last recorded time of each job, nothing pending.
    fn lasts(last: &HashMap<String, DateTime<Utc>>) -> impl Fn(&str) -> JobState + '_ {
        move |j| JobState {
            last: last.get(j).copied(),
            ..JobState::default()
        }
    }

    fn times(p: &Plan) -> Vec<(String, DateTime<Utc>)> {
        let mut v: Vec<_> = p.run.iter().map(|d| (d.job.clone(), d.at)).collect();
        v.sort();
        v
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
            let p = plan(&s, &lasts(&last), start, now, policy(48));
            assert!(p.missed.is_empty());
            for (job, t) in times(&p) {
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
        let p = plan(&s, &lasts(&last), now, now, policy(48));
        assert_eq!(
            times(&p),
            [
                ("inbox".to_string(), utc("2025-12-01T03:00:00Z")),
                ("outbox".to_string(), utc("2025-12-01T03:10:00Z")),
                ("payrun".to_string(), utc("2025-12-01T01:00:00Z")),
                ("remind".to_string(), utc("2025-12-01T00:30:00Z")),
            ]
        );
        // After recording them, nothing more is due.
        for (j, t) in times(&p) {
            last.insert(j, t);
        }
        let again = plan(&s, &lasts(&last), now, now, policy(48));
        assert!(again.run.is_empty() && again.missed.is_empty());
        // Down for four days: the payrun is past the 48-hour deadline and is reported missed.
        let mut last2 = HashMap::new();
        last2.insert("payrun".to_string(), utc("2025-11-30T00:00:00Z"));
        let later = utc("2025-12-05T00:00:00Z");
        let p = plan(&s[3..], &lasts(&last2), later, later, policy(48));
        assert_eq!(
            p.missed,
            [("payrun".to_string(), utc("2025-12-01T01:00:00Z"))]
        );
        assert!(p.run.is_empty());
    }

    /// A row a clock once ahead left in the future: reported, and the job still runs on time.
    #[test]
    fn a_future_row_is_reported_and_does_not_stop_scheduling() {
        let s = schedules();
        let now = utc("2025-06-01T00:15:10Z");
        let state = |j: &str| JobState {
            last: if j == "inbox" {
                // The caller passed the latest row, which is in the future.
                Some(utc("2025-06-03T00:00:00Z"))
            } else {
                Some(utc("2025-06-01T00:00:00Z"))
            },
            future: (j == "outbox").then(|| utc("2025-07-01T00:00:00Z")),
            pending: vec![],
        };
        let since = utc("2025-06-01T00:00:00Z");
        let p = plan(&s[..2], &state, since, now, policy(48));
        assert_eq!(
            times(&p),
            [
                ("inbox".to_string(), utc("2025-06-01T00:15:00Z")),
                ("outbox".to_string(), utc("2025-06-01T00:15:00Z")),
            ]
        );
        let mut future = p.future.clone();
        future.sort();
        assert_eq!(
            future,
            [
                ("inbox".to_string(), utc("2025-06-03T00:00:00Z")),
                ("outbox".to_string(), utc("2025-07-01T00:00:00Z")),
            ]
        );
    }

    #[test]
    fn backoff_doubles_then_gives_up() {
        let r = policy(48);
        let at = utc("2025-12-01T01:00:00Z");
        let mut ended = at + Duration::seconds(5);
        let mut waits = Vec::new();
        for attempts in 1.. {
            match r.next_attempt(at, attempts, ended) {
                Some(next) => {
                    waits.push((next - ended).num_seconds());
                    ended = next + Duration::seconds(2);
                }
                None => {
                    assert_eq!(attempts, 6, "six attempts in all");
                    break;
                }
            }
        }
        assert_eq!(waits, [60, 120, 240, 480, 960]);
        // The catch-up window closes before the attempts are used up.
        let short = RetryPolicy {
            base: Duration::hours(1),
            max_attempts: 10,
            window: Duration::hours(2),
        };
        assert_eq!(
            short.next_attempt(at, 1, at),
            Some(utc("2025-12-01T02:00:00Z"))
        );
        assert_eq!(short.next_attempt(at, 2, utc("2025-12-01T02:00:00Z")), None);
    }

    #[test]
    fn a_failed_run_is_retried_when_due_and_given_up_after_the_window() {
        let s = &schedules()[3..]; // payrun, 1 December 09:00 Shanghai
        let at = utc("2025-12-01T01:00:00Z");
        let pending = Pending {
            at,
            attempts: 2,
            next_attempt: utc("2025-12-01T01:03:00Z"),
        };
        let state = |_: &str| JobState {
            last: Some(at),
            future: None,
            pending: vec![pending],
        };
        // Not yet due: nothing to do.
        let early = utc("2025-12-01T01:02:00Z");
        assert_eq!(plan(s, &state, early, early, policy(48)), Plan::default());
        // Due: retried (the scheduled time stays that of 1 December: the year is 2025's).
        let now = utc("2025-12-01T01:03:01Z");
        let p = plan(s, &state, now, now, policy(48));
        assert_eq!(
            p.run,
            [Due {
                job: "payrun".into(),
                at,
                attempts: 2,
                supersedes: vec![],
            }]
        );
        // The daemon was down past the catch-up window: given up, not run.
        let late = utc("2025-12-03T02:00:00Z");
        let p = plan(s, &state, late, late, policy(48));
        assert!(p.run.is_empty());
        assert_eq!(p.give_up, [("payrun".to_string(), pending)]);
        // A claim whose attempts are used up (its daemon died each time): given up too.
        let used = |_: &str| JobState {
            last: Some(at),
            future: None,
            pending: vec![Pending {
                attempts: 6,
                ..pending
            }],
        };
        let p = plan(s, &used, now, now, policy(48));
        assert!(p.run.is_empty() && p.give_up.len() == 1);
    }

    #[test]
    fn a_newer_time_supersedes_a_pending_retry_and_carries_its_attempts() {
        let s = &schedules()[1..2]; // outbox, every minute
        let failed = utc("2025-03-01T00:00:00Z");
        let state = |_: &str| JobState {
            last: Some(failed),
            future: None,
            pending: vec![Pending {
                at: failed,
                attempts: 3,
                next_attempt: utc("2025-03-01T00:04:00Z"),
            }],
        };
        let now = utc("2025-03-01T00:01:00.200Z");
        let p = plan(s, &state, now, now, policy(48));
        assert_eq!(
            p.run,
            [Due {
                job: "outbox".into(),
                at: utc("2025-03-01T00:01:00Z"),
                attempts: 3,
                supersedes: vec![failed],
            }]
        );
        assert!(p.give_up.is_empty());
        assert_eq!(
            next_wake(&state("outbox").pending),
            Some(utc("2025-03-01T00:04:00Z"))
        );
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
