//! The selection of chief technicians (`docs/rules.md` §11; the policy's §8–9): a candidate's
//! stages from nomination to approval, the eligibility findings reported for each candidate,
//! objections during a public notice, the ranking of expert scores, the size of the proposed
//! list, and which selection reminders fall due on a day. Pure: no I/O, no clock.

use super::workdays::{Calendar, CalendarError};
use super::IdNumber;
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// Working days of a public notice (公示): the policy's five.
pub const NOTICE_WORKING_DAYS: u32 = 5;

/// A candidate's stage. Steps go through [`Stage::ORDER`] one at a time; [`Stage::Withdrawn`]
/// (退出) may follow any stage but [`Stage::Approved`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// 申报
    Nominated,
    /// 推荐公示
    NominationNotice,
    /// 资格审查
    QualificationCheck,
    /// 评审
    Review,
    /// 考察公示
    InspectionNotice,
    /// 考察
    Inspection,
    /// 批准
    Approved,
    /// 退出
    Withdrawn,
}

impl Stage {
    /// The stages in order (退出 is not among them).
    pub const ORDER: [Stage; 7] = [
        Stage::Nominated,
        Stage::NominationNotice,
        Stage::QualificationCheck,
        Stage::Review,
        Stage::InspectionNotice,
        Stage::Inspection,
        Stage::Approved,
    ];

    /// The stable code stored in the ledger and accepted on the command line.
    pub fn code(self) -> &'static str {
        todo!()
    }

    /// The Chinese name (申报, 推荐公示, …).
    pub fn label(self) -> &'static str {
        todo!()
    }

    /// A code or a Chinese name.
    pub fn parse(text: &str) -> Option<Stage> {
        let _ = text;
        todo!()
    }

    /// The stage after this one, None after 批准 and 退出.
    pub fn next(self) -> Option<Stage> {
        todo!()
    }

    /// 推荐公示 and 考察公示: stages that last a public notice.
    pub fn is_notice(self) -> bool {
        todo!()
    }

    /// 批准 and 退出: nothing follows.
    pub fn is_final(self) -> bool {
        todo!()
    }
}

/// One recorded step: the candidate entered `stage` on `date`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub stage: Stage,
    pub date: NaiveDate,
    /// Why (退出 needs one).
    pub reason: Option<String>,
}

/// How an objection (异议) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectionOutcome {
    /// 属实: the candidate must withdraw (退出).
    Upheld,
    /// 不属实: the candidate goes on.
    Dismissed,
}

impl ObjectionOutcome {
    pub fn code(self) -> &'static str {
        todo!()
    }
    pub fn label(self) -> &'static str {
        todo!()
    }
    pub fn parse(text: &str) -> Option<ObjectionOutcome> {
        let _ = text;
        todo!()
    }
}

/// An objection received during one of the candidate's notices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Objection {
    pub id: i64,
    /// The notice stage it was received in.
    pub stage: Stage,
    pub received: NaiveDate,
    /// When and how it was resolved; None while open.
    pub resolution: Option<(NaiveDate, ObjectionOutcome)>,
}

/// Why a step or an objection was refused (messages in Chinese: the clerk reads them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

/// Checks that `next` may follow `history` (the candidate's steps in order): stages in order
/// only, one at a time; 退出 (with a reason) after any stage but 批准; nothing after 批准 or
/// 退出; a date not before the last step's; a notice stage left only after its notice's last
/// day ([`Calendar::notice_end`] of the step's date, [`NOTICE_WORKING_DAYS`]) and only when no
/// objection is open; after an upheld objection only 退出.
pub fn check_step(
    history: &[Step],
    objections: &[Objection],
    next: &Step,
    cal: &Calendar,
) -> Result<(), StepError> {
    let _ = (history, objections, next, cal);
    todo!()
}

/// Checks that an objection received on `received` may be recorded: the candidate is in a
/// notice stage and the day is within that notice (its first day to its last working day).
/// Returns the notice stage it belongs to.
pub fn check_objection(
    history: &[Step],
    received: NaiveDate,
    cal: &Calendar,
) -> Result<Stage, StepError> {
    let _ = (history, received, cal);
    todo!()
}

/// The last day of the notice a notice step opened (None for other stages).
pub fn notice_end_of(step: &Step, cal: &Calendar) -> Result<Option<NaiveDate>, CalendarError> {
    let _ = (step, cal);
    todo!()
}

/// A 职业资格等级 as read from a nomination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// 初级工 (五级)
    Elementary,
    /// 中级工 (四级)
    Intermediate,
    /// 高级工 (三级)
    Senior,
    /// 技师 (二级)
    Technician,
    /// 高级技师 (一级)
    SeniorTechnician,
    /// 特级技师
    PrincipalTechnician,
    /// 首席技师
    ChiefTechnician,
}

impl Level {
    /// The level a text names (技师, 二级/技师, 国家职业资格二级, 高级技师（一级）, …); None when it
    /// names none.
    pub fn parse(text: &str) -> Option<Level> {
        let _ = text;
        todo!()
    }
    /// 技师 or above.
    pub fn qualifies(self) -> bool {
        todo!()
    }
    pub fn label(self) -> &'static str {
        todo!()
    }
}

/// How a finding weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FindingKind {
    /// Not eligible as nominated (不符合条件): the bureau withdraws the candidate or corrects it.
    Disqualifying,
    /// For the bureau to decide (提示): over 55, an earlier appointment revoked for fraud, …
    Flag,
    /// 优先: 45 or under.
    Priority,
}

/// One eligibility finding of a candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable code (`level`, `age-over-55`, `age-priority`, `unit-unknown`, `term-running`,
    /// `fraud-before`, `notice-short`, `notice-late`).
    pub code: &'static str,
    pub kind: FindingKind,
    /// What a clerk reads, in Chinese.
    pub message: String,
}

/// What the eligibility check knows of a candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate<'a> {
    pub id_number: &'a IdNumber,
    pub level: &'a str,
    /// The 工作单位 is a unit the ledger knows in the district.
    pub unit_known: bool,
    pub unit: &'a str,
    /// The person's recorded terms (first day, last day as it stands after changes).
    pub terms: &'a [(NaiveDate, NaiveDate)],
    /// An earlier appointment was revoked for fraud (弄虚作假).
    pub revoked_for_fraud: bool,
    /// The nominating body's own 推荐公示, first and last day.
    pub notice: (NaiveDate, NaiveDate),
    /// The day the nomination reached the bureau.
    pub received: NaiveDate,
}

/// The eligibility findings of a candidate (none: eligible, no flag), checked against the
/// round's nomination `deadline` (age) and the expected `approval` day (a term that still runs
/// then). Ages are full years on the deadline: over 55 a flag (一般不超过55周岁), 45 or under
/// 优先. The nominating body's notice must have at least [`NOTICE_WORKING_DAYS`] working days
/// and end before `received`. A notice date outside the calendar is an error, never guessed.
pub fn eligibility(
    c: &Candidate<'_>,
    deadline: NaiveDate,
    approval: NaiveDate,
    cal: &Calendar,
) -> Result<Vec<Finding>, CalendarError> {
    let _ = (c, deadline, approval, cal);
    todo!()
}

/// Full years of age on `day`.
pub fn age_on(birth: NaiveDate, day: NaiveDate) -> u32 {
    let _ = (birth, day);
    todo!()
}

/// A candidate's place in the ranked list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    pub candidate: i64,
    /// Mean of the experts' scores, rounded half up to two decimals.
    pub mean: Decimal,
    pub experts: usize,
    /// 1-based; equal means share a rank (1, 2, 2, 4).
    pub rank: u32,
}

/// Ranks candidates by the mean of their experts' scores, highest first; ties by candidate id.
pub fn rank(scores: &[(i64, Decimal)]) -> Vec<Ranked> {
    let _ = scores;
    todo!()
}

/// A warning when a proposed list of `proposed` is far from the `expected` (about ten a year,
/// §4): more than 30 % off, in Chinese. None when near.
pub fn list_size_warning(proposed: usize, expected: usize) -> Option<String> {
    let _ = (proposed, expected);
    todo!()
}

/// When selection reminders fall due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectionReminderConfig {
    /// A candidate waiting at a stage that is not a notice for more than this many days.
    pub waiting_days: u32,
    /// Days before the nomination deadline the units that have not nominated are reminded.
    pub deadline_days: Vec<u32>,
}

impl Default for SelectionReminderConfig {
    fn default() -> Self {
        SelectionReminderConfig {
            waiting_days: 30,
            deadline_days: vec![14, 3],
        }
    }
}

/// A selection reminder due on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectionReminder {
    /// A notice opened on `opened` for `stage` ends today (`end`): to the bureau. One per
    /// (stage, opened day), listing its candidates.
    NoticeEnding {
        stage: Stage,
        opened: NaiveDate,
        end: NaiveDate,
        candidates: Vec<i64>,
    },
    /// `candidate` has waited at `stage` since `since`, more than the configured days: to the
    /// bureau, once per stage entered.
    Waiting {
        candidate: i64,
        stage: Stage,
        since: NaiveDate,
        days: i64,
    },
    /// The nomination deadline is `days` days away: to every unit that has not nominated.
    DeadlineApproaching { deadline: NaiveDate, days: u32 },
}

impl SelectionReminder {
    /// The stable part of the outbox key (the job appends the recipient).
    pub fn key(&self, year: i32) -> String {
        let _ = year;
        todo!()
    }
}

/// The selection reminders due on `today` for a round with nomination `deadline` whose
/// candidates have these step histories (candidate id, steps in order). A notice whose end
/// cannot be computed (a year outside the calendar) is skipped, not guessed.
pub fn due_reminders(
    today: NaiveDate,
    deadline: NaiveDate,
    candidates: &[(i64, Vec<Step>)],
    cfg: &SelectionReminderConfig,
    cal: &Calendar,
) -> Vec<SelectionReminder> {
    let _ = (today, deadline, candidates, cfg, cal);
    todo!()
}
