//! Which days of an appointment earn the allowance, and what each month earns: `docs/rules.md`
//! §3 (which days earn), §8 (proration) and the uncovered months of §2.
//!
//! [`Timeline`] folds an appointment's changes into intervals; [`Timeline::month`] splits a
//! month into segments of equal [`DayStatus`] and derives the amount from them. The payment
//! run and `explain` both use this one computation.

use super::change::{Appointment, Change, Effect};
use super::money::round_fen;
use super::month::Month;
use super::policy::{Proration, RulesConfig};
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// The status of one day of an appointment, with the change that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayStatus {
    /// Before or after the term.
    OutsideTerm,
    /// The appointment was revoked for fraud (change id): nothing is earned at all.
    Fraud(i64),
    /// Terminated by this change (on or before the day).
    Terminated(i64),
    /// In a period of another talent allowance (change id).
    OtherAllowance(i64),
    /// Suspended by this change.
    Suspended(i64),
    /// Meets every condition but no policy version covers the day (未覆盖).
    Uncovered,
    /// Earns the rate of policy version `n`.
    Eligible(usize),
}

impl DayStatus {
    /// The change behind the status, if any.
    pub fn change_id(self) -> Option<i64> {
        match self {
            DayStatus::Fraud(c)
            | DayStatus::Terminated(c)
            | DayStatus::OtherAllowance(c)
            | DayStatus::Suspended(c) => Some(c),
            _ => None,
        }
    }
}

/// A run of days of one month with the same status, `from..=to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub status: DayStatus,
}

impl Segment {
    pub fn days(&self) -> u32 {
        ((self.to - self.from).num_days() + 1) as u32
    }
}

/// One month of an appointment: its segments and the amount they earn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthBreakdown {
    pub month: Month,
    pub segments: Vec<Segment>,
    /// What the month earns as known now, rounded to the fen.
    pub amount: Decimal,
    /// Whether a day meets every condition except policy cover.
    pub uncovered: bool,
}

impl MonthBreakdown {
    /// Eligible days of the month.
    pub fn eligible_days(&self) -> u32 {
        self.segments
            .iter()
            .filter(|s| matches!(s.status, DayStatus::Eligible(_)))
            .map(Segment::days)
            .sum()
    }

    /// The policy version of a month that is eligible on every one of its days under that one
    /// version (nothing to explain but the rate), or None.
    pub fn whole_month_version(&self) -> Option<usize> {
        match self.segments.as_slice() {
            [s] if s.days() == self.month.days_in() => match s.status {
                DayStatus::Eligible(v) => Some(v),
                _ => None,
            },
            _ => None,
        }
    }
}

/// An appointment's changes folded into intervals.
#[derive(Debug, Clone)]
pub struct Timeline {
    start: NaiveDate,
    end: NaiveDate,
    fraud: Option<i64>,
    /// Earliest termination: (date, change id).
    termination: Option<(NaiveDate, i64)>,
    /// Suspensions: from, until (exclusive; None = open), change id.
    suspensions: Vec<(NaiveDate, Option<NaiveDate>, i64)>,
    /// Other allowance periods: from, to (inclusive; None = open), change id.
    others: Vec<(NaiveDate, Option<NaiveDate>, i64)>,
    /// Dates where the status may change (sorted, deduplicated).
    breaks: Vec<NaiveDate>,
}

impl Timeline {
    /// Builds the timeline of `appointment` from the person's recorded, non-voided changes
    /// (those of other appointments are ignored; other-allowance periods apply to all).
    pub fn new(appointment: &Appointment, changes: &[Change], cfg: &RulesConfig) -> Timeline {
        let mut own: Vec<&Change> = changes
            .iter()
            .filter(|c| c.applies_to(appointment.id))
            .collect();
        own.sort_by_key(|c| (c.effective, c.id));
        let mut t = Timeline {
            start: appointment.term_start(),
            end: appointment.term_end(),
            fraud: None,
            termination: None,
            suspensions: Vec::new(),
            others: Vec::new(),
            breaks: Vec::new(),
        };
        t.fold(&own, cfg);
        t.breaks = t.break_dates(cfg);
        t
    }

    /// Folds the appointment's own changes (in date order) into fraud, termination,
    /// suspension and other-allowance intervals.
    fn fold(&mut self, own: &[&Change], cfg: &RulesConfig) {
        let mut open: Option<(NaiveDate, i64)> = None;
        // Other allowance: the latest recorded row for a start date sets its end date.
        let mut other_latest: Vec<&Change> = Vec::new();
        for &c in own {
            match c.kind.effect(cfg) {
                Effect::Suspension => {
                    if open.is_none() {
                        open = Some((c.effective, c.id));
                    }
                }
                Effect::Restoration => {
                    if let Some((from, id)) = open.take() {
                        self.suspensions.push((from, Some(c.effective), id));
                    }
                }
                Effect::Termination => {
                    if self.termination.is_none_or(|(d, _)| c.effective < d) {
                        self.termination = Some((c.effective, c.id));
                    }
                }
                Effect::Fraud => {
                    if self.fraud.is_none() {
                        self.fraud = Some(c.id);
                    }
                }
                Effect::OtherAllowance => {
                    match other_latest.iter_mut().find(|o| o.effective == c.effective) {
                        Some(o) if o.id < c.id => *o = c,
                        Some(_) => {}
                        None => other_latest.push(c),
                    }
                }
                Effect::None => {}
            }
        }
        if let Some((from, id)) = open {
            self.suspensions.push((from, None, id));
        }
        self.others = other_latest
            .iter()
            .map(|c| (c.effective, c.end, c.id))
            .collect();
    }

    /// The dates where the status may change: term, termination, suspension, other-allowance
    /// and policy-version bounds (sorted, deduplicated).
    fn break_dates(&self, cfg: &RulesConfig) -> Vec<NaiveDate> {
        let mut breaks = vec![self.start, self.end.succ_opt().expect("date")];
        if let Some((d, _)) = self.termination {
            breaks.push(d);
        }
        for &(from, until, _) in &self.suspensions {
            breaks.push(from);
            breaks.extend(until);
        }
        for &(from, to, _) in &self.others {
            breaks.push(from);
            breaks.extend(to.and_then(|z| z.succ_opt()));
        }
        for v in cfg.policy.versions() {
            breaks.push(v.from);
            breaks.extend(v.to.succ_opt());
        }
        breaks.sort();
        breaks.dedup();
        breaks
    }

    /// The status of one day (docs/rules.md conditions 1–4, with the cause).
    pub fn status_at(&self, day: NaiveDate, cfg: &RulesConfig) -> DayStatus {
        if day < self.start || day > self.end {
            return DayStatus::OutsideTerm;
        }
        if let Some(id) = self.fraud {
            return DayStatus::Fraud(id);
        }
        if let Some((x, id)) = self.termination {
            if x <= day {
                return DayStatus::Terminated(id);
            }
        }
        if let Some(&(_, _, id)) = self
            .others
            .iter()
            .find(|(x, z, _)| *x <= day && z.is_none_or(|z| day <= z))
        {
            return DayStatus::OtherAllowance(id);
        }
        if let Some(&(_, _, id)) = self
            .suspensions
            .iter()
            .find(|(x, r, _)| *x <= day && r.is_none_or(|r| day < r))
        {
            return DayStatus::Suspended(id);
        }
        match cfg.policy.version_at(day) {
            Some(i) => DayStatus::Eligible(i),
            None => DayStatus::Uncovered,
        }
    }

    /// Splits `month` into segments of equal status and computes what it earns.
    pub fn month(&self, month: Month, cfg: &RulesConfig) -> MonthBreakdown {
        let first = month.first_day();
        let last = month.last_day();
        let mut starts = vec![first];
        let lo = self.breaks.partition_point(|d| *d <= first);
        starts.extend(
            self.breaks[lo..]
                .iter()
                .take_while(|d| **d <= last)
                .copied(),
        );
        let mut segments: Vec<Segment> = Vec::with_capacity(starts.len());
        for (i, &from) in starts.iter().enumerate() {
            let to = starts
                .get(i + 1)
                .map(|d| d.pred_opt().expect("date"))
                .unwrap_or(last);
            let status = self.status_at(from, cfg);
            match segments.last_mut() {
                Some(prev) if prev.status == status => prev.to = to,
                _ => segments.push(Segment { from, to, status }),
            }
        }
        let days_in = Decimal::from(month.days_in());
        let amount = match cfg.proration {
            Proration::Daily => {
                let numerator: Decimal = segments
                    .iter()
                    .filter_map(|s| match s.status {
                        DayStatus::Eligible(v) => {
                            Some(cfg.policy.versions()[v].monthly_rate * Decimal::from(s.days()))
                        }
                        _ => None,
                    })
                    .sum();
                round_fen(numerator / days_in)
            }
            Proration::FirstOfMonth => match segments[0].status {
                DayStatus::Eligible(v) => round_fen(cfg.policy.versions()[v].monthly_rate),
                _ => round_fen(Decimal::ZERO),
            },
        };
        let uncovered = segments.iter().any(|s| s.status == DayStatus::Uncovered);
        MonthBreakdown {
            month,
            segments,
            amount,
            uncovered,
        }
    }

    /// The first and last month of the term.
    pub fn term_months(&self) -> (Month, Month) {
        (Month::of(self.start), Month::of(self.end))
    }

    /// The days the title stands: the term's first day to its last, or to the day before a
    /// termination takes effect. None when revoked for fraud (the title never stood) or ended
    /// before it began. The selection asks whether a candidate is still in a term.
    pub fn standing_term(&self) -> Option<(NaiveDate, NaiveDate)> {
        if self.fraud.is_some() {
            return None;
        }
        let end = match self.termination {
            Some((x, _)) => self.end.min(x.pred_opt()?),
            None => self.end,
        };
        (end >= self.start).then_some((self.start, end))
    }

    /// Revoked for fraud (弄虚作假).
    pub fn revoked_for_fraud(&self) -> bool {
        self.fraud.is_some()
    }
}
