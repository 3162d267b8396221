//! What each year will cost (支出预测): the months due in each year of a window, from today's
//! roster and recorded changes, assuming no further changes, with what-if parameters for a
//! successor policy and for the number selected each year. Pure: today is a parameter.
//!
//! - **Cost of year `Y`** = what a run of `Y` would pay for the months due in `Y`
//!   ([`Appointment::due_year`], §9: cohort-year months are due the next year), each month's
//!   amount from the appointment's [`Timeline`] with the recorded changes (§3, §8). For a
//!   ledger whose changes were all recorded before the runs, this is each run's net.
//! - **Successor policy** (what-if `rate`, `policy_until`): a new policy version from the day
//!   after the last configured version ends until `policy_until` at `rate` (missing `rate`: the
//!   last version's; missing `policy_until`: the last day of the window).
//! - **Uncovered months** (§2) are not in the cost: they are listed by month with what they
//!   would earn at the last rate (the successor's when there is one).
//! - **New cohorts** (what-if `selected_per_year` = N, §4: about ten): N hypothetical
//!   appointments a year, each a full term with no changes, paid with deferral, approved on a
//!   typical day ([`typical_approval_day`]). They are modelled for every cohort year from the
//!   later of today's year and the year after the latest cohort on the roster, through the
//!   window's last year, and shown apart from the roster.

use super::change::{Appointment, Change};
use super::eligibility::{DayStatus, MonthBreakdown, Timeline};
use super::money::{round_fen, to_fen};
use super::month::Month;
use super::policy::{PolicySet, PolicyVersion, Proration, RulesConfig};
use super::unit::{unit_on, UnitMove};
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// The what-if parameters of a forecast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForecastParams {
    /// First and last year of the window (both included).
    pub from: i32,
    pub to: i32,
    /// A successor policy's monthly rate (yuan).
    pub rate: Option<Decimal>,
    /// The successor policy's last day.
    pub policy_until: Option<NaiveDate>,
    /// Hypothetical new appointments per cohort year (0: none).
    pub selected_per_year: u32,
    /// The approval day (month, day) of the hypothetical appointments; None: the median of
    /// the latest cohort on the roster, or 10-01 ([`typical_approval_day`]).
    pub approval_day: Option<(u32, u32)>,
}

impl ForecastParams {
    /// The window `from..=to`, nothing else changed.
    pub fn years(from: i32, to: i32) -> ForecastParams {
        ForecastParams {
            from,
            to,
            rate: None,
            policy_until: None,
            selected_per_year: 0,
            approval_day: None,
        }
    }
}

/// Parameters a forecast cannot be made with (a usage error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForecastError {
    #[error("--from {from} is after --to {to}")]
    Inverted { from: i32, to: i32 },
    #[error("{0} is not a plausible year (2000–2200)")]
    Year(i32),
    #[error("--rate must not be negative: {0}")]
    NegativeRate(Decimal),
    #[error(
        "--policy-until {until} must be after the last configured policy version ends ({last})"
    )]
    UntilTooEarly { until: NaiveDate, last: NaiveDate },
    #[error("there is no configured policy version to succeed")]
    NoPolicy,
    #[error("the approval day {0:02}-{1:02} is not a day of the year (MM-DD)")]
    ApprovalDay(u32, u32),
}

/// One person on the roster as the forecast reads it: the appointments not voided, each with
/// the roster's unit, the recorded (not voided) changes and 单位变更 moves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForecastPerson {
    pub appointments: Vec<(Appointment, Option<String>)>,
    pub changes: Vec<Change>,
    pub moves: Vec<UnitMove>,
}

/// Everything a forecast reads from the ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForecastInput {
    pub people: Vec<ForecastPerson>,
    /// The net of the lines of every approved run of a year (runs pay deltas: a later
    /// correction of an earlier month is in the year of the run that made it).
    pub paid_by_year: BTreeMap<i32, i64>,
}

/// A unit's cost in a year (the unit on the year's last day, §5a).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitCost {
    pub unit: String,
    /// People with a positive amount.
    pub people: usize,
    pub fen: i64,
}

/// A cohort's cost in a year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CohortCost {
    pub cohort_year: i32,
    /// Hypothetical new appointments (not on the roster).
    pub hypothetical: bool,
    pub people: usize,
    pub fen: i64,
}

/// One calendar month no policy covers, in the year it would be due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UncoveredMonth {
    pub due_year: i32,
    pub month: Month,
    pub hypothetical: bool,
    /// Appointments with uncovered days in the month.
    pub appointments: usize,
    /// What those days would earn at the last rate.
    pub fen: i64,
}

/// One year of the forecast.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct YearForecast {
    pub year: i32,
    /// The roster's cost and the people with a positive amount.
    pub roster_fen: i64,
    pub roster_people: usize,
    /// The hypothetical new cohorts' cost and people.
    pub new_fen: i64,
    pub new_people: usize,
    /// Appointment-months with uncovered days, and what they would earn at the last rate.
    pub uncovered_months: usize,
    pub uncovered_fen: i64,
    /// What approved runs of the year paid (None: no approved run).
    pub paid_by_runs: Option<i64>,
    pub by_unit: Vec<UnitCost>,
    pub by_cohort: Vec<CohortCost>,
}

impl YearForecast {
    /// The year's cost: the roster's and the new cohorts'.
    pub fn total_fen(&self) -> i64 {
        self.roster_fen + self.new_fen
    }
}

/// A forecast with the assumptions it was made on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forecast {
    pub from: i32,
    pub to: i32,
    pub today: NaiveDate,
    /// The policy versions used, the successor last.
    pub policies: Vec<PolicyVersion>,
    pub successor: Option<PolicyVersion>,
    pub proration: Proration,
    /// The rate uncovered months are valued at.
    pub last_rate: Decimal,
    pub selected_per_year: u32,
    /// The approval day of the hypothetical appointments (month, day).
    pub approval_day: (u32, u32),
    /// Cohort years modelled with hypothetical appointments.
    pub new_cohorts: Vec<i32>,
    pub years: Vec<YearForecast>,
    pub uncovered: Vec<UncoveredMonth>,
}

impl Forecast {
    /// Σ over the years of (roster, new cohorts, uncovered would-be) in fen.
    pub fn totals(&self) -> (i64, i64, i64) {
        self.years.iter().fold((0, 0, 0), |(r, n, u), y| {
            (r + y.roster_fen, n + y.new_fen, u + y.uncovered_fen)
        })
    }
}

/// The document name of a successor policy in the forecast.
pub const SUCCESSOR_DOCUMENT: &str = "后续政策（假设）";

/// The rules with the what-if successor policy added, and the successor.
pub fn with_successor(
    cfg: &RulesConfig,
    params: &ForecastParams,
) -> Result<(RulesConfig, Option<PolicyVersion>), ForecastError> {
    if params.rate.is_none() && params.policy_until.is_none() {
        return Ok((cfg.clone(), None));
    }
    let last = cfg
        .policy
        .versions()
        .iter()
        .max_by_key(|v| v.to)
        .ok_or(ForecastError::NoPolicy)?;
    let rate = params.rate.unwrap_or(last.monthly_rate);
    if rate.is_sign_negative() && !rate.is_zero() {
        return Err(ForecastError::NegativeRate(rate));
    }
    let until = params
        .policy_until
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(params.to, 12, 31).expect("date"));
    if until <= last.to {
        return Err(ForecastError::UntilTooEarly {
            until,
            last: last.to,
        });
    }
    let successor = PolicyVersion {
        document: SUCCESSOR_DOCUMENT.into(),
        from: last.to.succ_opt().expect("date"),
        to: until,
        monthly_rate: round_fen(rate),
    };
    let mut versions = cfg.policy.versions().to_vec();
    versions.push(successor.clone());
    let mut out = cfg.clone();
    out.policy = PolicySet::new(versions).map_err(|_| ForecastError::NoPolicy)?;
    Ok((out, Some(successor)))
}

/// Reads an approval day written `MM-DD` (`10-01`); 29 February is refused (not every year
/// has it). For `--approval-day`.
pub fn parse_approval_day(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("`{s}` is not a day of the year: expected MM-DD, for example 10-01");
    let (m, d) = s.trim().split_once('-').ok_or_else(bad)?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    let d: u32 = d.parse().map_err(|_| bad())?;
    NaiveDate::from_ymd_opt(2023, m, d).ok_or_else(bad)?;
    Ok((m, d))
}

/// The typical approval day (month, day) of new appointments: the median (the lower middle)
/// of the approval days of the latest cohort on the roster; 10-01 with an empty roster.
pub fn typical_approval_day(people: &[ForecastPerson]) -> (u32, u32) {
    let latest = people
        .iter()
        .flat_map(|p| p.appointments.iter().map(|(a, _)| a.cohort_year()))
        .max();
    let Some(latest) = latest else {
        return (10, 1);
    };
    let mut days: Vec<(u32, u32)> = people
        .iter()
        .flat_map(|p| p.appointments.iter())
        .filter(|(a, _)| a.cohort_year() == latest)
        .map(|(a, _)| (a.approval_date.month(), a.approval_date.day()))
        .collect();
    days.sort();
    days[(days.len() - 1) / 2]
}

/// The cohort years modelled with hypothetical appointments: from the later of today's year
/// and the year after the latest cohort on the roster, through `to` (none when N = 0).
pub fn new_cohort_years(
    people: &[ForecastPerson],
    params: &ForecastParams,
    today: NaiveDate,
) -> Vec<i32> {
    if params.selected_per_year == 0 {
        return Vec::new();
    }
    let after_roster = people
        .iter()
        .flat_map(|p| p.appointments.iter().map(|(a, _)| a.cohort_year() + 1))
        .max()
        .unwrap_or(i32::MIN);
    (after_roster.max(today.year())..=params.to).collect()
}

/// The forecast of `params`'s window (docs in the module's head).
pub fn forecast(
    input: &ForecastInput,
    params: &ForecastParams,
    cfg: &RulesConfig,
    today: NaiveDate,
) -> Result<Forecast, ForecastError> {
    check_params(params)?;
    let (cfg, successor) = with_successor(cfg, params)?;
    let last_rate = cfg
        .policy
        .versions()
        .last()
        .map(|v| v.monthly_rate)
        .unwrap_or_default();
    let approval_day = params
        .approval_day
        .unwrap_or_else(|| typical_approval_day(&input.people));
    let mut acc = Acc::new(params.from, params.to, last_rate);
    for p in &input.people {
        acc.person(p, &cfg);
    }
    let new_cohorts = new_cohort_years(&input.people, params, today);
    for &c in &new_cohorts {
        let a = hypothetical(c, approval_day);
        acc.hypothetical(&a, params.selected_per_year, &cfg);
    }
    Ok(Forecast {
        from: params.from,
        to: params.to,
        today,
        policies: cfg.policy.versions().to_vec(),
        successor,
        proration: cfg.proration,
        last_rate,
        selected_per_year: params.selected_per_year,
        approval_day,
        new_cohorts,
        years: acc.years(&input.paid_by_year),
        uncovered: acc.uncovered(),
    })
}

fn check_params(params: &ForecastParams) -> Result<(), ForecastError> {
    for y in [params.from, params.to] {
        if !(2000..=2200).contains(&y) {
            return Err(ForecastError::Year(y));
        }
    }
    if params.from > params.to {
        return Err(ForecastError::Inverted {
            from: params.from,
            to: params.to,
        });
    }
    if let Some((m, d)) = params.approval_day {
        // A day that exists in every year (29 February does not).
        if NaiveDate::from_ymd_opt(2023, m, d).is_none() {
            return Err(ForecastError::ApprovalDay(m, d));
        }
    }
    Ok(())
}

/// A hypothetical appointment of cohort `year`, approved on `day`.
fn hypothetical(year: i32, (m, d): (u32, u32)) -> Appointment {
    let approval_date = NaiveDate::from_ymd_opt(year, m, d)
        .or_else(|| NaiveDate::from_ymd_opt(year, m, 28))
        .expect("checked approval day");
    Appointment {
        id: 0,
        approval_date,
        approval_no: "新评选（假设）".into(),
    }
}

/// What one month of one appointment contributes: its amount, and whether it is uncovered
/// with what its uncovered days would earn at the last rate.
fn month_cost(b: &MonthBreakdown, cfg: &RulesConfig, last_rate: Decimal) -> (i64, Option<i64>) {
    let fen = to_fen(b.amount);
    if !b.uncovered {
        return (fen, None);
    }
    let rate_of = |s: DayStatus| match s {
        DayStatus::Eligible(v) => Some(cfg.policy.versions()[v].monthly_rate),
        DayStatus::Uncovered => Some(last_rate),
        _ => None,
    };
    let whole = match cfg.proration {
        Proration::Daily => {
            let numerator: Decimal = b
                .segments
                .iter()
                .filter_map(|s| rate_of(s.status).map(|r| r * Decimal::from(s.days())))
                .sum();
            round_fen(numerator / Decimal::from(b.month.days_in()))
        }
        Proration::FirstOfMonth => round_fen(rate_of(b.segments[0].status).unwrap_or_default()),
    };
    (fen, Some(to_fen(whole) - fen))
}

/// One person's amounts in a year: the total and by cohort.
#[derive(Default)]
struct PersonYear {
    fen: i64,
    by_cohort: BTreeMap<i32, i64>,
}

/// People with a positive amount, and the amount.
type Heads = (usize, i64);

/// Sums over people and hypothetical cohorts, by year.
struct Acc {
    from: i32,
    to: i32,
    last_rate: Decimal,
    years: BTreeMap<i32, YearForecast>,
    /// (unit) → (people, fen), by year.
    units: BTreeMap<i32, BTreeMap<String, Heads>>,
    /// (cohort, hypothetical) → (people, fen), by year.
    cohorts: BTreeMap<i32, BTreeMap<(i32, bool), Heads>>,
    /// (due year, month, hypothetical) → (appointments, fen).
    uncovered: BTreeMap<(i32, Month, bool), Heads>,
}

impl Acc {
    fn new(from: i32, to: i32, last_rate: Decimal) -> Acc {
        let years = (from..=to)
            .map(|y| {
                let f = YearForecast {
                    year: y,
                    ..YearForecast::default()
                };
                (y, f)
            })
            .collect();
        Acc {
            from,
            to,
            last_rate,
            years,
            units: BTreeMap::new(),
            cohorts: BTreeMap::new(),
            uncovered: BTreeMap::new(),
        }
    }

    /// Calls `f(due year, month amount)` for each month of `a`'s term due in the window,
    /// noting uncovered months (`weight` appointments alike).
    fn months(
        &mut self,
        a: &Appointment,
        changes: &[Change],
        cfg: &RulesConfig,
        weight: usize,
        hypothetical: bool,
        mut f: impl FnMut(i32, i64),
    ) {
        let timeline = Timeline::new(a, changes, cfg);
        let (first, last) = timeline.term_months();
        for m in first.through(last) {
            let due = a.due_year(m);
            if due < self.from || due > self.to {
                continue;
            }
            let (fen, uncovered) = month_cost(&timeline.month(m, cfg), cfg, self.last_rate);
            if let Some(extra) = uncovered {
                let e = self.uncovered.entry((due, m, hypothetical)).or_default();
                e.0 += weight;
                e.1 += extra * weight as i64;
            }
            f(due, fen);
        }
    }

    /// Adds a person of the roster.
    fn person(&mut self, p: &ForecastPerson, cfg: &RulesConfig) {
        let mut by_year: BTreeMap<i32, PersonYear> = BTreeMap::new();
        for (a, _) in &p.appointments {
            let cohort = a.cohort_year();
            self.months(a, &p.changes, cfg, 1, false, |due, fen| {
                let y = by_year.entry(due).or_default();
                y.fen += fen;
                *y.by_cohort.entry(cohort).or_default() += fen;
            });
        }
        for (year, py) in by_year {
            let last_day = NaiveDate::from_ymd_opt(year, 12, 31).expect("date");
            let unit = unit_on(last_day, &p.appointments, &p.moves).unwrap_or_default();
            let counted = usize::from(py.fen > 0);
            let y = self.years.get_mut(&year).expect("year in window");
            y.roster_fen += py.fen;
            y.roster_people += counted;
            let u = self.units.entry(year).or_default().entry(unit).or_default();
            u.0 += counted;
            u.1 += py.fen;
            for (cohort, fen) in py.by_cohort {
                let c = self.cohorts.entry(year).or_default();
                let c = c.entry((cohort, false)).or_default();
                c.0 += usize::from(fen > 0);
                c.1 += fen;
            }
        }
    }

    /// Adds `n` hypothetical appointments alike to `a`.
    fn hypothetical(&mut self, a: &Appointment, n: u32, cfg: &RulesConfig) {
        let mut by_year: BTreeMap<i32, i64> = BTreeMap::new();
        self.months(a, &[], cfg, n as usize, true, |due, fen| {
            *by_year.entry(due).or_default() += fen;
        });
        let n = n as usize;
        for (year, fen) in by_year {
            let people = if fen > 0 { n } else { 0 };
            let y = self.years.get_mut(&year).expect("year in window");
            y.new_fen += fen * n as i64;
            y.new_people += people;
            let c = self.cohorts.entry(year).or_default();
            let c = c.entry((a.cohort_year(), true)).or_default();
            c.0 += people;
            c.1 += fen * n as i64;
        }
    }

    /// The years, with their units, cohorts, uncovered months and what runs paid.
    fn years(&mut self, paid: &BTreeMap<i32, i64>) -> Vec<YearForecast> {
        let mut out = Vec::new();
        for (year, mut y) in std::mem::take(&mut self.years) {
            y.paid_by_runs = paid.get(&year).copied();
            y.by_unit = self
                .units
                .remove(&year)
                .unwrap_or_default()
                .into_iter()
                .map(|(unit, (people, fen))| UnitCost { unit, people, fen })
                .collect();
            y.by_cohort = self
                .cohorts
                .remove(&year)
                .unwrap_or_default()
                .into_iter()
                .map(|((cohort_year, hypothetical), (people, fen))| CohortCost {
                    cohort_year,
                    hypothetical,
                    people,
                    fen,
                })
                .collect();
            for ((due, _, _), (n, fen)) in &self.uncovered {
                if *due == year {
                    y.uncovered_months += n;
                    y.uncovered_fen += fen;
                }
            }
            out.push(y);
        }
        out
    }

    fn uncovered(&self) -> Vec<UncoveredMonth> {
        self.uncovered
            .iter()
            .map(
                |(&(due_year, month, hypothetical), &(appointments, fen))| UncoveredMonth {
                    due_year,
                    month,
                    hypothetical,
                    appointments,
                    fen,
                },
            )
            .collect()
    }
}

impl Forecast {
    /// The JSON of `chieftech forecast --json` (amounts as strings with two decimals).
    pub fn to_json(&self) -> serde_json::Value {
        use super::money::fen_str;
        use serde_json::json;
        let policy = |v: &PolicyVersion| {
            json!({
                "document": v.document,
                "from": v.from.to_string(),
                "to": v.to.to_string(),
                "monthly_rate": v.monthly_rate.to_string(),
            })
        };
        let years: Vec<serde_json::Value> = self.years.iter().map(year_json).collect();
        let (roster, new, uncovered) = self.totals();
        json!({
            "from": self.from,
            "to": self.to,
            "today": self.today.to_string(),
            "assumptions": {
                "policies": self.policies.iter().map(policy).collect::<Vec<_>>(),
                "successor": self.successor.as_ref().map(policy),
                "proration": match self.proration {
                    Proration::Daily => "daily",
                    Proration::FirstOfMonth => "first-of-month",
                },
                "uncovered_rate": self.last_rate.to_string(),
                "selected_per_year": self.selected_per_year,
                "approval_day": format!("{:02}-{:02}", self.approval_day.0, self.approval_day.1),
                "new_cohorts": self.new_cohorts,
            },
            "years": years,
            "uncovered": self.uncovered.iter().map(|u| json!({
                "due_year": u.due_year,
                "month": u.month.to_string(),
                "hypothetical": u.hypothetical,
                "appointments": u.appointments,
                "amount": fen_str(u.fen),
            })).collect::<Vec<_>>(),
            "totals": {
                "amount": fen_str(roster + new),
                "roster": fen_str(roster),
                "new": fen_str(new),
                "uncovered": fen_str(uncovered),
            },
        })
    }
}

/// One year of [`Forecast::to_json`].
fn year_json(y: &YearForecast) -> serde_json::Value {
    use super::money::fen_str;
    use serde_json::json;
    json!({
        "year": y.year,
        "total": fen_str(y.total_fen()),
        "roster": {"amount": fen_str(y.roster_fen), "people": y.roster_people},
        "new": {"amount": fen_str(y.new_fen), "people": y.new_people},
        "uncovered": {"months": y.uncovered_months, "amount": fen_str(y.uncovered_fen)},
        "paid_by_runs": y.paid_by_runs.map(fen_str),
        "by_unit": y.by_unit.iter().map(|u| json!({
            "unit": u.unit, "people": u.people, "amount": fen_str(u.fen),
        })).collect::<Vec<_>>(),
        "by_cohort": y.by_cohort.iter().map(|c| json!({
            "cohort_year": c.cohort_year,
            "hypothetical": c.hypothetical,
            "people": c.people,
            "amount": fen_str(c.fen),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::change::ChangeKind;
    use crate::rules::payrun::{compute_appointment, AppointmentInput, Paid};
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn appt(id: i64, approval: &str) -> Appointment {
        Appointment {
            id,
            approval_date: d(approval),
            approval_no: format!("张人社〔{id}〕号"),
        }
    }

    fn person(id: i64, approval: &str, unit: &str, changes: Vec<Change>) -> ForecastPerson {
        ForecastPerson {
            appointments: vec![(appt(id, approval), Some(unit.to_string()))],
            changes,
            moves: Vec::new(),
        }
    }

    fn input(people: Vec<ForecastPerson>) -> ForecastInput {
        ForecastInput {
            people,
            paid_by_year: BTreeMap::new(),
        }
    }

    fn what_if(from: i32, to: i32, rate: Option<i64>, until: Option<&str>) -> ForecastParams {
        ForecastParams {
            rate: rate.map(Decimal::from),
            policy_until: until.map(d),
            ..ForecastParams::years(from, to)
        }
    }

    /// (year, roster fen, uncovered appointment-months, uncovered fen) of every year.
    fn rows(f: &Forecast) -> Vec<(i32, i64, usize, i64)> {
        f.years
            .iter()
            .map(|y| (y.year, y.roster_fen, y.uncovered_months, y.uncovered_fen))
            .collect()
    }

    #[test]
    fn a_successor_at_600_pays_the_whole_term_of_a_2026_appointment() {
        // Approved 2026-10-15: term 2026-11-01 … 2029-10-31, cohort 2026. The policy ends
        // 2026-08-31; the successor pays 600.00 from 2026-09-01 to 2030-12-31.
        //   2026: nothing is due (2026-11 and 2026-12 are deferred).
        //   2027: 2026-11, 2026-12 deferred + 12 months = 14 × 600 = 8,400.00
        //   2028: 12 × 600 = 7,200.00
        //   2029: 2029-01 … 2029-10 = 10 × 600 = 6,000.00
        //   2030: nothing (the term has ended). Total 21,600.00 = 36 × 600.
        let i = input(vec![person(1, "2026-10-15", "甲公司", vec![])]);
        let p = what_if(2026, 2030, Some(600), Some("2030-12-31"));
        let f = forecast(&i, &p, &RulesConfig::default(), d("2026-12-20")).unwrap();
        assert_eq!(
            rows(&f),
            [
                (2026, 0, 0, 0),
                (2027, 840_000, 0, 0),
                (2028, 720_000, 0, 0),
                (2029, 600_000, 0, 0),
                (2030, 0, 0, 0),
            ]
        );
        let s = f.successor.as_ref().unwrap();
        assert_eq!((s.from, s.to), (d("2026-09-01"), d("2030-12-31")));
        assert_eq!(f.years[1].roster_people, 1);
        assert_eq!(f.years[1].by_unit[0].unit, "甲公司");
        assert_eq!(f.totals(), (2_160_000, 0, 0));
    }

    #[test]
    fn without_a_successor_every_month_is_uncovered_at_the_last_rate() {
        // The same person with the configured policy alone (ends 2026-08-31, 500.00): no day
        // of the term is covered. Valued at the last rate, 500.00:
        //   2027: 14 months, 7,000.00; 2028: 12 months, 6,000.00; 2029: 10 months, 5,000.00.
        let i = input(vec![person(1, "2026-10-15", "甲公司", vec![])]);
        let f = forecast(
            &i,
            &what_if(2027, 2029, None, None),
            &RulesConfig::default(),
            d("2026-12-20"),
        )
        .unwrap();
        assert_eq!(
            rows(&f),
            [
                (2027, 0, 14, 700_000),
                (2028, 0, 12, 600_000),
                (2029, 0, 10, 500_000)
            ]
        );
        assert_eq!(f.years[0].roster_people, 0, "nothing paid: nobody counted");
        let first = &f.uncovered[0];
        assert_eq!(
            (first.due_year, first.month.to_string(), first.fen),
            (2027, "2026-11".into(), 50_000)
        );
    }

    #[test]
    fn a_successor_ending_mid_month_splits_the_month() {
        // Successor 600.00 until 2028-06-15:
        //   2028: 2028-01 … 2028-05 = 3,000.00, June 15/30 × 600 = 300.00: 3,300.00 paid;
        //         uncovered: June (the other 15 days at the last rate, 600: 300.00) and
        //         July … December (6 × 600 = 3,600.00): 7 months, 3,900.00.
        //   2029: 2029-01 … 2029-10 uncovered: 10 × 600 = 6,000.00.
        let i = input(vec![person(1, "2026-10-15", "甲公司", vec![])]);
        let p = what_if(2027, 2029, Some(600), Some("2028-06-15"));
        let f = forecast(&i, &p, &RulesConfig::default(), d("2026-12-20")).unwrap();
        assert_eq!(
            rows(&f),
            [
                (2027, 840_000, 0, 0),
                (2028, 330_000, 7, 390_000),
                (2029, 0, 10, 600_000)
            ]
        );
        // First-of-month: June's first day is covered, so June pays 600.00 in full and is still
        // listed uncovered, with nothing more to pay.
        let cfg = RulesConfig {
            proration: Proration::FirstOfMonth,
            ..RulesConfig::default()
        };
        let f = forecast(&i, &p, &cfg, d("2026-12-20")).unwrap();
        assert_eq!(rows(&f)[1], (2028, 360_000, 7, 360_000));
    }

    #[test]
    fn ten_selected_a_year_from_2027() {
        // N = 10 approved each 10-01 from 2027 (the roster's latest cohort is 2026), successor
        // 600.00 to 2030-12-31. A cohort C pays nothing in C, 14 × 600 = 8,400.00 a head in
        // C + 1, 7,200.00 in C + 2, 6,000.00 in C + 3:
        //   2027: 0;  2028: 10 × 8,400 = 84,000.00;  2029: 84,000 + 72,000 = 156,000.00;
        //   2030: 84,000 + 72,000 + 60,000 = 216,000.00 (cohort 2030 is due from 2031).
        let i = input(vec![person(1, "2026-10-15", "甲公司", vec![])]);
        let p = ForecastParams {
            selected_per_year: 10,
            approval_day: Some((10, 1)),
            ..what_if(2027, 2030, Some(600), Some("2030-12-31"))
        };
        let f = forecast(&i, &p, &RulesConfig::default(), d("2026-12-20")).unwrap();
        assert_eq!(f.new_cohorts, [2027, 2028, 2029, 2030]);
        let new: Vec<(i64, usize)> = f.years.iter().map(|y| (y.new_fen, y.new_people)).collect();
        assert_eq!(
            new,
            [(0, 0), (8_400_000, 10), (15_600_000, 20), (21_600_000, 30)]
        );
        // The roster is unchanged by them, and the total adds both.
        assert_eq!(f.years[1].roster_fen, 720_000);
        assert_eq!(f.years[1].total_fen(), 9_120_000);
        let c2029: Vec<&CohortCost> = f.years[2]
            .by_cohort
            .iter()
            .filter(|c| c.hypothetical)
            .collect();
        assert_eq!(c2029.len(), 2);
        assert_eq!((c2029[0].cohort_year, c2029[0].fen), (2027, 7_200_000));
    }

    #[test]
    fn worked_example_e_with_its_uncovered_months() {
        // 陈刚 (docs/rules.md §11 E): 2024 6,500.00; 2025 3,000.00; 2026 4,000.00 and
        // 2026-09 … 2026-11 uncovered (3 × 500.00).
        let other = Change {
            id: 1,
            kind: ChangeKind::OtherAllowance,
            effective: d("2025-04-01"),
            end: Some(d("2025-09-30")),
            appointment_ids: vec![],
            by_unit: false,
        };
        let i = input(vec![person(5, "2023-11-10", "乙公司", vec![other])]);
        let f = forecast(
            &i,
            &what_if(2024, 2027, None, None),
            &RulesConfig::default(),
            d("2024-06-01"),
        )
        .unwrap();
        assert_eq!(
            rows(&f),
            [
                (2024, 650_000, 0, 0),
                (2025, 300_000, 0, 0),
                (2026, 400_000, 3, 150_000),
                (2027, 0, 0, 0)
            ]
        );
    }

    #[test]
    fn the_unit_is_the_one_on_the_years_last_day() {
        let mut p = person(1, "2021-10-15", "甲公司", vec![]);
        p.moves.push(UnitMove {
            id: 9,
            effective: d("2023-12-31"),
            new_unit: "乙公司".into(),
        });
        let f = forecast(
            &input(vec![p]),
            &ForecastParams::years(2022, 2024),
            &RulesConfig::default(),
            d("2025-01-01"),
        )
        .unwrap();
        let units: Vec<&str> = f.years.iter().map(|y| y.by_unit[0].unit.as_str()).collect();
        assert_eq!(units, ["甲公司", "乙公司", "乙公司"]);
    }

    #[test]
    fn typical_day_and_new_cohorts() {
        let people = vec![
            person(1, "2024-10-20", "甲", vec![]),
            person(2, "2025-11-02", "甲", vec![]),
            person(3, "2025-09-15", "甲", vec![]),
            person(4, "2025-10-08", "甲", vec![]),
            person(5, "2025-12-30", "甲", vec![]),
        ];
        // The 2025 cohort's days sorted: 09-15, 10-08, 11-02, 12-30: the lower middle.
        assert_eq!(typical_approval_day(&people), (10, 8));
        assert_eq!(typical_approval_day(&[]), (10, 1));
        let p = ForecastParams {
            selected_per_year: 3,
            ..ForecastParams::years(2025, 2029)
        };
        assert_eq!(
            new_cohort_years(&people, &p, d("2025-12-31")),
            [2026, 2027, 2028, 2029]
        );
        assert_eq!(
            new_cohort_years(&people, &p, d("2027-03-01")),
            [2027, 2028, 2029]
        );
        assert_eq!(
            new_cohort_years(&[], &p, d("2026-03-01")),
            [2026, 2027, 2028, 2029]
        );
        let none = ForecastParams::years(2025, 2029);
        assert!(new_cohort_years(&people, &none, d("2025-12-31")).is_empty());
    }

    #[test]
    fn approval_days_are_read() {
        assert_eq!(parse_approval_day("10-01"), Ok((10, 1)));
        assert_eq!(parse_approval_day(" 3-7 "), Ok((3, 7)));
        for bad in ["02-29", "13-01", "10", "x-y", "10-32"] {
            assert!(parse_approval_day(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_parameters_are_refused() {
        let cfg = RulesConfig::default();
        let today = d("2026-01-01");
        let f = |p: ForecastParams| forecast(&ForecastInput::default(), &p, &cfg, today);
        assert!(matches!(
            f(ForecastParams::years(2030, 2027)),
            Err(ForecastError::Inverted { .. })
        ));
        assert!(matches!(
            f(ForecastParams::years(1999, 2027)),
            Err(ForecastError::Year(1999))
        ));
        assert!(matches!(
            f(what_if(2027, 2030, Some(600), Some("2026-08-31"))),
            Err(ForecastError::UntilTooEarly { .. })
        ));
        assert!(matches!(
            f(what_if(2027, 2030, Some(-1), None)),
            Err(ForecastError::NegativeRate(_))
        ));
        let bad_day = ForecastParams {
            approval_day: Some((2, 29)),
            ..ForecastParams::years(2027, 2030)
        };
        assert!(matches!(f(bad_day), Err(ForecastError::ApprovalDay(2, 29))));
        // --rate alone: the successor runs to the window's end.
        let g = f(what_if(2027, 2030, Some(600), None)).unwrap();
        assert_eq!(g.successor.unwrap().to, d("2030-12-31"));
        // --policy-until alone: at the last rate.
        let g = f(what_if(2027, 2030, None, Some("2029-12-31"))).unwrap();
        assert_eq!(g.successor.unwrap().monthly_rate, Decimal::new(50000, 2));
    }

    #[test]
    fn json_amounts_are_strings_with_two_decimals() {
        let i = input(vec![person(1, "2026-10-15", "甲公司", vec![])]);
        let p = what_if(2027, 2027, Some(600), Some("2030-12-31"));
        let j = forecast(&i, &p, &RulesConfig::default(), d("2026-12-20"))
            .unwrap()
            .to_json();
        assert_eq!(j["years"][0]["total"], "8400.00");
        assert_eq!(j["years"][0]["roster"]["people"], 1);
        assert_eq!(j["years"][0]["by_cohort"][0]["cohort_year"], 2026);
        assert_eq!(j["assumptions"]["successor"]["monthly_rate"], "600.00");
        assert_eq!(j["totals"]["amount"], "8400.00");
        assert_eq!(j["years"][0]["paid_by_runs"], serde_json::Value::Null);
    }

    const KINDS: [ChangeKind; 6] = [
        ChangeKind::TransferredOut,
        ChangeKind::Restored,
        ChangeKind::Deceased,
        ChangeKind::OtherAllowance,
        ChangeKind::RevokedFraud,
        ChangeKind::Retired,
    ];

    /// People with one appointment each (approved 2021-09-02 … 2026-12-31) and a few changes.
    fn arb_people() -> impl Strategy<Value = Vec<ForecastPerson>> {
        let change = (0..KINDS.len(), 0u64..1800, prop::option::of(0u64..400));
        let one = (0u64..1947, prop::collection::vec(change, 0..4));
        prop::collection::vec(one, 1..6).prop_map(|ps| {
            ps.into_iter()
                .enumerate()
                .map(|(i, (approval, changes))| {
                    let id = i as i64 + 1;
                    let a = d("2021-09-02") + chrono::Days::new(approval);
                    let changes = changes
                        .into_iter()
                        .enumerate()
                        .map(|(j, (k, x, len))| {
                            let kind = KINDS[k];
                            let effective = a + chrono::Days::new(x);
                            let other = kind == ChangeKind::OtherAllowance;
                            Change {
                                id: id * 10 + j as i64,
                                kind,
                                effective,
                                end: len
                                    .filter(|_| other)
                                    .map(|l| effective + chrono::Days::new(l)),
                                appointment_ids: if other { vec![] } else { vec![id] },
                                by_unit: false,
                            }
                        })
                        .collect();
                    ForecastPerson {
                        appointments: vec![(
                            Appointment {
                                id,
                                approval_date: a,
                                approval_no: String::new(),
                            },
                            Some(format!("单位{}", i % 2)),
                        )],
                        changes,
                        moves: Vec::new(),
                    }
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// With every change recorded before the runs, the forecast of each year is the net of
        /// the run of that year, each run paying the deltas against the runs before it.
        #[test]
        fn the_forecast_of_each_year_is_what_its_run_pays(people in arb_people(), daily in any::<bool>()) {
            let cfg = RulesConfig {
                proration: if daily { Proration::Daily } else { Proration::FirstOfMonth },
                ..RulesConfig::default()
            };
            let f = forecast(&input(people.clone()), &ForecastParams::years(2021, 2031), &cfg, d("2032-01-01")).unwrap();
            let mut paid: BTreeMap<i64, BTreeMap<Month, Paid>> = BTreeMap::new();
            for y in &f.years {
                let mut net = 0;
                let mut uncovered = 0;
                for p in &people {
                    let (a, _) = &p.appointments[0];
                    let r = compute_appointment(y.year, &AppointmentInput {
                        appointment: a,
                        changes: &p.changes,
                        paid: paid.get(&a.id).unwrap_or(&BTreeMap::new()),
                        void: false,
                    }, &cfg);
                    uncovered += r.uncovered.iter().filter(|m| a.due_year(**m) == y.year).count();
                    for l in &r.lines {
                        let e = paid.entry(a.id).or_default().entry(l.month).or_default();
                        e.fen += l.fen;
                        e.has_line = true;
                    }
                    net += r.net();
                }
                prop_assert_eq!(y.roster_fen, net, "year {}", y.year);
                prop_assert_eq!(y.uncovered_months, uncovered, "year {}", y.year);
                prop_assert_eq!(y.by_unit.iter().map(|u| u.fen).sum::<i64>(), y.roster_fen);
                prop_assert_eq!(y.by_cohort.iter().map(|c| c.fen).sum::<i64>(), y.roster_fen);
            }
        }

        /// Without changes, whatever the successor's end, what is paid plus what the uncovered
        /// months would earn at the same rate is the whole term: 36 × 500.00 a head.
        #[test]
        fn paid_and_uncovered_make_the_whole_term(
            approvals in prop::collection::vec(0u64..1947, 1..5),
            until in 0u64..2500,
            daily in any::<bool>(),
            n in 0u32..4,
        ) {
            let people: Vec<ForecastPerson> = approvals.iter().enumerate().map(|(i, a)| {
                let day = d("2021-09-02") + chrono::Days::new(*a);
                person(i as i64 + 1, &day.to_string(), "甲", vec![])
            }).collect();
            let cfg = RulesConfig {
                proration: if daily { Proration::Daily } else { Proration::FirstOfMonth },
                ..RulesConfig::default()
            };
            let until = d("2026-09-01") + chrono::Days::new(until);
            let p = ForecastParams {
                rate: Some(Decimal::from(500)),
                policy_until: Some(until),
                selected_per_year: n,
                approval_day: Some((10, 1)),
                ..ForecastParams::years(2021, 2036)
            };
            let f = forecast(&input(people.clone()), &p, &cfg, d("2026-01-01")).unwrap();
            let part = |hypothetical: bool| -> i64 {
                f.uncovered.iter().filter(|u| u.hypothetical == hypothetical).map(|u| u.fen).sum()
            };
            let (roster, new, _) = f.totals();
            prop_assert_eq!(roster + part(false), 1_800_000 * people.len() as i64);
            // A cohort C approved C-10-01 is due from C + 1 to C + 3: the window (to 2036)
            // holds all of cohorts to 2033, 26 months of 2034's and 14 of 2035's.
            let per_head: i64 = f.new_cohorts.iter().map(|c| match c {
                ..=2033 => 1_800_000,
                2034 => 1_300_000,
                2035 => 700_000,
                _ => 0,
            }).sum();
            prop_assert_eq!(new + part(true), i64::from(n) * per_head);
        }
    }
}
