//! The allowance rules as pure functions: no I/O, no clock (today's date is a parameter).
//!
//! The rules themselves, in words with the policy's Chinese terms and the worked examples, are in
//! `docs/rules.md` at the top of the repository; each rule there names the module below that
//! implements it, and each module's documentation names the section of `docs/rules.md` it follows.
//!
//! - [`month`]: calendar months;
//! - [`id_number`]: resident ID numbers and bank accounts;
//! - [`money`]: fen, rounding, formats, Chinese capitals;
//! - [`policy`]: policy versions and configurable choices;
//! - [`change`]: appointments, terms, status changes and their checks;
//! - [`eligibility`]: which days earn, and each month's amount;
//! - [`payrun`]: a run's deltas, line kinds and netting;
//! - [`unit`](mod@unit): which unit a technician belongs to on a day;
//! - [`reminders`]: which notices fall due on a day;
//! - [`workdays`]: the working-day calendar (holidays, 调休) and public-notice (公示) periods.
//! - [`selection`]: the selection round: stages, eligibility, objections, ranking.

pub mod change;
pub mod eligibility;
pub mod forecast;
pub mod id_number;
pub mod money;
pub mod month;
pub mod payrun;
pub mod policy;
pub mod reconcile;
pub mod recovery;
pub mod reminders;
pub mod selection;
pub mod unit;
pub mod workdays;

pub use change::{
    appointments_for, check_change, Appointment, Change, ChangeKind, Effect, ProposedChange,
    Rejection, Reporter, Verdict,
};
pub use eligibility::{DayStatus, MonthBreakdown, Segment, Timeline};
pub use id_number::{IdNumber, IdNumberError};
pub use month::Month;
pub use payrun::{compute_appointment, net_person, AppointmentInput, Line, LineKind, Net, Paid};
pub use policy::{PolicySet, PolicyVersion, Proration, ReportEffect, RulesConfig};

#[cfg(test)]
mod tests;
