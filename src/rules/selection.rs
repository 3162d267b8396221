//! The selection of chief technicians (`docs/rules.md` §13; the policy's §8–9): a candidate's
//! stages from nomination to approval, the eligibility findings reported for each candidate,
//! objections during a public notice, the ranking of expert scores, the size of the proposed
//! list, and which selection reminders fall due on a day. Pure: no I/O, no clock.

use super::month::cn_date;
use super::workdays::{Calendar, CalendarError};
use super::IdNumber;
use chrono::{Datelike, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::BTreeMap;

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
        match self {
            Stage::Nominated => "nominated",
            Stage::NominationNotice => "nomination-notice",
            Stage::QualificationCheck => "qualification",
            Stage::Review => "review",
            Stage::InspectionNotice => "inspection-notice",
            Stage::Inspection => "inspection",
            Stage::Approved => "approved",
            Stage::Withdrawn => "withdrawn",
        }
    }

    /// The Chinese name (申报, 推荐公示, …).
    pub fn label(self) -> &'static str {
        match self {
            Stage::Nominated => "申报",
            Stage::NominationNotice => "推荐公示",
            Stage::QualificationCheck => "资格审查",
            Stage::Review => "评审",
            Stage::InspectionNotice => "考察公示",
            Stage::Inspection => "考察",
            Stage::Approved => "批准",
            Stage::Withdrawn => "退出",
        }
    }

    /// A code or a Chinese name.
    pub fn parse(text: &str) -> Option<Stage> {
        let text = text.trim();
        Stage::ORDER
            .into_iter()
            .chain([Stage::Withdrawn])
            .find(|s| s.code() == text || s.label() == text)
    }

    /// The stage after this one, None after 批准 and 退出.
    pub fn next(self) -> Option<Stage> {
        let at = Stage::ORDER.iter().position(|s| *s == self)?;
        Stage::ORDER.get(at + 1).copied()
    }

    /// 推荐公示 and 考察公示: stages that last a public notice.
    pub fn is_notice(self) -> bool {
        matches!(self, Stage::NominationNotice | Stage::InspectionNotice)
    }

    /// 批准 and 退出: nothing follows.
    pub fn is_final(self) -> bool {
        matches!(self, Stage::Approved | Stage::Withdrawn)
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
    /// `upheld` or `dismissed`.
    pub fn code(self) -> &'static str {
        match self {
            ObjectionOutcome::Upheld => "upheld",
            ObjectionOutcome::Dismissed => "dismissed",
        }
    }
    /// 属实 or 不属实.
    pub fn label(self) -> &'static str {
        match self {
            ObjectionOutcome::Upheld => "属实",
            ObjectionOutcome::Dismissed => "不属实",
        }
    }
    /// A code, a label, or 成立 / 不成立.
    pub fn parse(text: &str) -> Option<ObjectionOutcome> {
        match text.trim() {
            "upheld" | "属实" | "成立" => Some(ObjectionOutcome::Upheld),
            "dismissed" | "不属实" | "不成立" => Some(ObjectionOutcome::Dismissed),
            _ => None,
        }
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
///
/// An objection counts as open on `next.date` when it has no resolution or was resolved after
/// that day. Entering a notice stage also needs its notice's last day to be computable (its year
/// in the calendar), so that a notice is never opened that could not be closed.
pub fn check_step(
    history: &[Step],
    objections: &[Objection],
    next: &Step,
    cal: &Calendar,
) -> Result<(), StepError> {
    let Some(last) = history.last() else {
        return check_first_step(next);
    };
    check_not_ended(last, next)?;
    check_date_order(last, next)?;
    if next.stage == Stage::Withdrawn {
        return check_withdrawal_reason(next);
    }
    check_no_upheld_objection(objections, next)?;
    check_next_stage(last, next)?;
    check_notice_passed(last, objections, next, cal)?;
    notice_end_of(next, cal)?;
    Ok(())
}

/// Refuses a step as the clerk reads it.
fn refuse(message: String) -> Result<(), StepError> {
    Err(StepError::Refused(message))
}

/// Checks the first step of a candidate: only 申报.
fn check_first_step(next: &Step) -> Result<(), StepError> {
    if next.stage == Stage::Nominated {
        return Ok(());
    }
    refuse(format!(
        "尚无申报记录，第一步只能是申报，不能是{}",
        next.stage.label()
    ))
}

/// Checks that the selection has not ended (nothing after 批准 or 退出).
fn check_not_ended(last: &Step, next: &Step) -> Result<(), StepError> {
    if last.stage.is_final() {
        return refuse(format!(
            "当前阶段为{}（{}），评选已结束，不能再进入{}",
            last.stage.label(),
            cn_date(last.date),
            next.stage.label()
        ));
    }
    Ok(())
}

/// Checks that the step's date is not before the last step's.
fn check_date_order(last: &Step, next: &Step) -> Result<(), StepError> {
    if next.date < last.date {
        return refuse(format!(
            "{}的日期{}早于当前阶段{}的日期{}，日期不能倒退",
            next.stage.label(),
            cn_date(next.date),
            last.stage.label(),
            cn_date(last.date)
        ));
    }
    Ok(())
}

/// Checks that a withdrawal (退出) gives a reason.
fn check_withdrawal_reason(next: &Step) -> Result<(), StepError> {
    let has_reason = next.reason.as_deref().is_some_and(|r| !r.trim().is_empty());
    if !has_reason {
        return refuse("退出须写明原因".to_string());
    }
    Ok(())
}

/// Checks that no objection was upheld (after one only 退出).
fn check_no_upheld_objection(objections: &[Objection], next: &Step) -> Result<(), StepError> {
    if let Some(o) = objections.iter().find(|o| o.is_upheld()) {
        return refuse(format!(
            "{}期间的异议（编号{}，{}收到）经核实属实，只能退出，不能进入{}",
            o.stage.label(),
            o.id,
            cn_date(o.received),
            next.stage.label()
        ));
    }
    Ok(())
}

/// Checks that the step is the stage right after the last one.
fn check_next_stage(last: &Step, next: &Step) -> Result<(), StepError> {
    let Some(expected) = last.stage.next() else {
        // Only final stages have no next, and they were refused above.
        return refuse(format!("当前阶段为{}，只能退出", last.stage.label()));
    };
    if next.stage != expected {
        return refuse(format!(
            "当前阶段为{}，下一步只能是{}或退出，不能是{}",
            last.stage.label(),
            expected.label(),
            next.stage.label()
        ));
    }
    Ok(())
}

/// Checks that the last stage's notice, if any, is over and left no objection open.
fn check_notice_passed(
    last: &Step,
    objections: &[Objection],
    next: &Step,
    cal: &Calendar,
) -> Result<(), StepError> {
    let Some(end) = notice_end_of(last, cal)? else {
        return Ok(());
    };
    if next.date <= end {
        return refuse(format!(
            "{}期至{}结束，{}之后才能进入{}（所填日期为{}）",
            last.stage.label(),
            cn_date(end),
            cn_date(end),
            next.stage.label(),
            cn_date(next.date)
        ));
    }
    if let Some(o) = objections
        .iter()
        .find(|o| o.stage == last.stage && o.is_open_on(next.date))
    {
        return refuse(format!(
            "{}期间有未处理的异议（编号{}，{}收到），处理完毕前不能进入{}",
            last.stage.label(),
            o.id,
            cn_date(o.received),
            next.stage.label()
        ));
    }
    Ok(())
}

impl Objection {
    /// Resolved as 属实.
    pub fn is_upheld(&self) -> bool {
        matches!(self.resolution, Some((_, ObjectionOutcome::Upheld)))
    }

    /// Not yet resolved on `day` (no resolution, or one dated after `day`).
    pub fn is_open_on(&self, day: NaiveDate) -> bool {
        self.resolution.is_none_or(|(resolved, _)| resolved > day)
    }
}

/// Checks that an objection received on `received` may be recorded: the candidate is in a
/// notice stage and the day is within that notice (its first day to its last working day).
/// Returns the notice stage it belongs to.
pub fn check_objection(
    history: &[Step],
    received: NaiveDate,
    cal: &Calendar,
) -> Result<Stage, StepError> {
    let Some(last) = history.last() else {
        return Err(StepError::Refused(
            "尚无申报记录，当前不在公示期，不能登记异议".to_string(),
        ));
    };
    let Some(end) = notice_end_of(last, cal)? else {
        return Err(StepError::Refused(format!(
            "当前阶段为{}（{}起），当前不在公示期，不能登记异议",
            last.stage.label(),
            cn_date(last.date)
        )));
    };
    if received < last.date || received > end {
        return Err(StepError::Refused(format!(
            "异议收到日期{}不在{}期（{}至{}）内，不能登记为本次公示的异议",
            cn_date(received),
            last.stage.label(),
            cn_date(last.date),
            cn_date(end)
        )));
    }
    Ok(last.stage)
}

/// The last day of the notice a notice step opened (None for other stages).
pub fn notice_end_of(step: &Step, cal: &Calendar) -> Result<Option<NaiveDate>, CalendarError> {
    if !step.stage.is_notice() {
        return Ok(None);
    }
    cal.notice_end(step.date, NOTICE_WORKING_DAYS).map(Some)
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
    ///
    /// Spaces are ignored and full-width parentheses read as ASCII ones. The text is read left to
    /// right, taking the longest name at each place (高级技师 before 技师); every name and grade
    /// found must agree (技师（一级） names none).
    pub fn parse(text: &str) -> Option<Level> {
        let norm: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| match c {
                '（' => '(',
                '）' => ')',
                c => c,
            })
            .collect();
        let mut found: Option<Level> = None;
        let mut rest = norm.as_str();
        while let Some(c) = rest.chars().next() {
            match LEVEL_NAMES.iter().find(|(name, _)| rest.starts_with(name)) {
                Some((name, level)) => {
                    if found.is_some_and(|f| f != *level) {
                        return None;
                    }
                    found = Some(*level);
                    rest = &rest[name.len()..];
                }
                None => rest = &rest[c.len_utf8()..],
            }
        }
        found
    }
    /// 技师 or above.
    pub fn qualifies(self) -> bool {
        self >= Level::Technician
    }
    /// 初级工, 中级工, 高级工, 技师, 高级技师, 特级技师, 首席技师.
    pub fn label(self) -> &'static str {
        match self {
            Level::Elementary => "初级工",
            Level::Intermediate => "中级工",
            Level::Senior => "高级工",
            Level::Technician => "技师",
            Level::SeniorTechnician => "高级技师",
            Level::PrincipalTechnician => "特级技师",
            Level::ChiefTechnician => "首席技师",
        }
    }
}

/// The names and grades [`Level::parse`] knows, each longer name before any name it contains.
const LEVEL_NAMES: [(&str, Level); 12] = [
    ("首席技师", Level::ChiefTechnician),
    ("特级技师", Level::PrincipalTechnician),
    ("高级技师", Level::SeniorTechnician),
    ("技师", Level::Technician),
    ("高级工", Level::Senior),
    ("中级工", Level::Intermediate),
    ("初级工", Level::Elementary),
    ("一级", Level::SeniorTechnician),
    ("二级", Level::Technician),
    ("三级", Level::Senior),
    ("四级", Level::Intermediate),
    ("五级", Level::Elementary),
];

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
    let findings = [
        level_finding(c),
        unit_finding(c),
        age_finding(c, deadline),
        term_finding(c, approval),
        fraud_finding(c),
        notice_length_finding(c, cal)?,
        notice_late_finding(c),
    ];
    Ok(findings.into_iter().flatten().collect())
}

impl Finding {
    /// A finding of `code` and `kind` with the clerk's `message`.
    fn new(code: &'static str, kind: FindingKind, message: String) -> Self {
        Finding {
            code,
            kind,
            message,
        }
    }
}

/// The level finding: 职业资格等级 unreadable or below 技师.
fn level_finding(c: &Candidate<'_>) -> Option<Finding> {
    match Level::parse(c.level) {
        None => Some(Finding::new(
            "level",
            FindingKind::Disqualifying,
            format!(
                "职业资格等级“{}”无法识别；应为技师、高级技师、特级技师或首席技师",
                c.level.trim()
            ),
        )),
        Some(level) if !level.qualifies() => Some(Finding::new(
            "level",
            FindingKind::Disqualifying,
            format!("职业资格等级为{}，低于技师，不符合申报条件", level.label()),
        )),
        Some(_) => None,
    }
}

/// The unit finding: a 工作单位 the district's ledger does not know.
fn unit_finding(c: &Candidate<'_>) -> Option<Finding> {
    (!c.unit_known).then(|| {
        Finding::new(
            "unit-unknown",
            FindingKind::Flag,
            format!(
                "工作单位“{}”不在本区单位名录中，请核实是否为本区单位",
                c.unit.trim()
            ),
        )
    })
}

/// The age finding on the `deadline`: over 55 a flag, 45 or under 优先.
fn age_finding(c: &Candidate<'_>, deadline: NaiveDate) -> Option<Finding> {
    let age = age_on(c.id_number.birth_date(), deadline);
    if age > 55 {
        Some(Finding::new(
            "age-over-55",
            FindingKind::Flag,
            format!(
                "截至申报截止日{}年满{age}周岁，超过55周岁（一般不超过55周岁），由区人社局研究决定",
                cn_date(deadline)
            ),
        ))
    } else if age <= 45 {
        Some(Finding::new(
            "age-priority",
            FindingKind::Priority,
            format!(
                "截至申报截止日{}年满{age}周岁，45周岁及以下，同等条件下优先",
                cn_date(deadline)
            ),
        ))
    } else {
        None
    }
}

/// The term finding: a term that still runs on the expected `approval` day.
fn term_finding(c: &Candidate<'_>, approval: NaiveDate) -> Option<Finding> {
    let running = c
        .terms
        .iter()
        .filter(|(first, last)| *first <= approval && approval <= *last)
        .map(|(_, last)| *last)
        .max()?;
    Some(Finding::new(
        "term-running",
        FindingKind::Disqualifying,
        format!(
            "现任首席技师管理期至{}，批准时（预计{}）仍在管理期内",
            cn_date(running),
            cn_date(approval)
        ),
    ))
}

/// The fraud finding: an earlier appointment revoked for 弄虚作假.
fn fraud_finding(c: &Candidate<'_>) -> Option<Finding> {
    c.revoked_for_fraud.then(|| {
        Finding::new(
            "fraud-before",
            FindingKind::Flag,
            "曾因弄虚作假被撤销首席技师称号，由区人社局研究决定是否受理".to_string(),
        )
    })
}

/// The notice length finding: a 推荐公示 ending before it starts or too short.
fn notice_length_finding(
    c: &Candidate<'_>,
    cal: &Calendar,
) -> Result<Option<Finding>, CalendarError> {
    let (first, last) = c.notice;
    if last < first {
        return Ok(Some(Finding::new(
            "notice-short",
            FindingKind::Disqualifying,
            format!(
                "推荐公示结束日{}早于开始日{}，公示期有误",
                cn_date(last),
                cn_date(first)
            ),
        )));
    }
    let days = cal.working_days_between(first, last)?;
    Ok((days < NOTICE_WORKING_DAYS).then(|| {
        Finding::new(
            "notice-short",
            FindingKind::Disqualifying,
            format!(
                "推荐公示自{}至{}，仅{days}个工作日，少于{NOTICE_WORKING_DAYS}个工作日",
                cn_date(first),
                cn_date(last)
            ),
        )
    }))
}

/// The notice late finding: a 推荐公示 not over before the nomination was received.
fn notice_late_finding(c: &Candidate<'_>) -> Option<Finding> {
    let (_, last) = c.notice;
    (last >= c.received).then(|| {
        Finding::new(
            "notice-late",
            FindingKind::Disqualifying,
            format!(
                "推荐公示至{}结束，但推荐材料于{}报送区人社局；公示应在报送前结束",
                cn_date(last),
                cn_date(c.received)
            ),
        )
    })
}

/// Full years of age on `day` (0 before the birth). Born on 29 February: a year older on
/// 1 March in a year without one.
pub fn age_on(birth: NaiveDate, day: NaiveDate) -> u32 {
    let mut years = day.year() - birth.year();
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
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
/// Equal means are the rounded means.
pub fn rank(scores: &[(i64, Decimal)]) -> Vec<Ranked> {
    let mut sums: BTreeMap<i64, (Decimal, usize)> = BTreeMap::new();
    for (candidate, score) in scores {
        let entry = sums.entry(*candidate).or_insert((Decimal::ZERO, 0));
        entry.0 += *score;
        entry.1 += 1;
    }
    let mut out: Vec<Ranked> = sums
        .into_iter()
        .map(|(candidate, (sum, experts))| Ranked {
            candidate,
            mean: mean_of(sum, experts),
            experts,
            rank: 0,
        })
        .collect();
    out.sort_by(|a, b| b.mean.cmp(&a.mean).then(a.candidate.cmp(&b.candidate)));
    let mut previous: Option<(Decimal, u32)> = None;
    for (i, r) in out.iter_mut().enumerate() {
        let place = u32::try_from(i + 1).unwrap_or(u32::MAX);
        r.rank = match previous {
            Some((mean, rank)) if mean == r.mean => rank,
            _ => place,
        };
        previous = Some((r.mean, r.rank));
    }
    out
}

/// `sum / count` rounded half up to two decimals, always written with two (90.00).
fn mean_of(sum: Decimal, count: usize) -> Decimal {
    let mut mean = (sum / Decimal::from(count))
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    mean.rescale(2);
    mean
}

/// A warning when a proposed list of `proposed` is far from the `expected` (about ten a year,
/// §4): more than 30 % off, in Chinese. None when near.
///
/// Near means |proposed − expected| ≤ 30 % of expected, exactly (for 10: 7 to 13); with 0
/// expected, any proposed is far.
pub fn list_size_warning(proposed: usize, expected: usize) -> Option<String> {
    let off = proposed.abs_diff(expected) as u128;
    if off * 10 <= expected as u128 * 3 {
        return None;
    }
    Some(format!(
        "建议人选{proposed}人，与每年约{expected}人（办法第四条）相差较大，请核实"
    ))
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
    ///
    /// `selection-notice-end:{year}:{stage}:{opened}`, `selection-waiting:{candidate}:{stage}:
    /// {since}` (no year: a candidate's stage is entered once), `selection-deadline:{year}:{days}d`.
    pub fn key(&self, year: i32) -> String {
        match self {
            SelectionReminder::NoticeEnding { stage, opened, .. } => {
                format!("selection-notice-end:{year}:{}:{opened}", stage.code())
            }
            SelectionReminder::Waiting {
                candidate,
                stage,
                since,
                ..
            } => format!("selection-waiting:{candidate}:{}:{since}", stage.code()),
            SelectionReminder::DeadlineApproaching { days, .. } => {
                format!("selection-deadline:{year}:{days}d")
            }
        }
    }
}

/// The selection reminders due on `today` for a round with nomination `deadline` whose
/// candidates have these step histories (candidate id, steps in order). A notice whose end
/// cannot be computed (a year outside the calendar) is skipped, not guessed.
///
/// - A notice ends: on its last day, one reminder per (notice stage, opening day) of the
///   candidates whose last step is that notice, ids in order.
/// - A candidate waits: every day on which the candidate's last step (not final; a notice
///   counts too, as a candidate held in one long after it ended needs the bureau) is more than
///   `waiting_days` days old, so a missed day of the job loses nothing; the key
///   (candidate, stage, since) makes the outbox send it once.
/// - The deadline approaches: on the day `deadline` is exactly one of `deadline_days` away.
///
/// In that order: notices by stage and opening day, waiting by candidate id, deadline by days,
/// most first.
pub fn due_reminders(
    today: NaiveDate,
    deadline: NaiveDate,
    candidates: &[(i64, Vec<Step>)],
    cfg: &SelectionReminderConfig,
    cal: &Calendar,
) -> Vec<SelectionReminder> {
    let mut out = Vec::new();
    let mut notices: BTreeMap<(Stage, NaiveDate), Vec<i64>> = BTreeMap::new();
    let mut waiting = Vec::new();
    for (candidate, steps) in candidates {
        let Some(last) = steps.last() else { continue };
        if last.stage.is_notice() {
            notices
                .entry((last.stage, last.date))
                .or_default()
                .push(*candidate);
        }
        if !last.stage.is_final() {
            let days = (today - last.date).num_days();
            if days > i64::from(cfg.waiting_days) {
                waiting.push((
                    *candidate,
                    SelectionReminder::Waiting {
                        candidate: *candidate,
                        stage: last.stage,
                        since: last.date,
                        days,
                    },
                ));
            }
        }
    }
    for ((stage, opened), mut ids) in notices {
        let Ok(end) = cal.notice_end(opened, NOTICE_WORKING_DAYS) else {
            continue;
        };
        if end == today {
            ids.sort_unstable();
            ids.dedup();
            out.push(SelectionReminder::NoticeEnding {
                stage,
                opened,
                end,
                candidates: ids,
            });
        }
    }
    waiting.sort_by_key(|(candidate, _)| *candidate);
    out.extend(waiting.into_iter().map(|(_, w)| w));
    let to_go = (deadline - today).num_days();
    let mut days: Vec<u32> = cfg
        .deadline_days
        .iter()
        .copied()
        .filter(|d| i64::from(*d) == to_go)
        .collect();
    days.sort_unstable_by(|a, b| b.cmp(a));
    days.dedup();
    out.extend(
        days.into_iter()
            .map(|days| SelectionReminder::DeadlineApproaching { deadline, days }),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::id_number::make_id;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn cal() -> &'static Calendar {
        Calendar::built_in()
    }

    fn step(stage: Stage, date: &str) -> Step {
        Step {
            stage,
            date: d(date),
            reason: None,
        }
    }

    fn withdraw(date: &str, reason: &str) -> Step {
        Step {
            stage: Stage::Withdrawn,
            date: d(date),
            reason: Some(reason.to_string()),
        }
    }

    fn refused(r: Result<(), StepError>) -> String {
        match r {
            Err(StepError::Refused(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn objection(
        id: i64,
        stage: Stage,
        received: &str,
        resolution: Option<(&str, ObjectionOutcome)>,
    ) -> Objection {
        Objection {
            id,
            stage,
            received: d(received),
            resolution: resolution.map(|(day, o)| (d(day), o)),
        }
    }

    /// 申报 2026-09-01, 推荐公示 opened 2026-09-28 (over National Day: ends 2026-10-09).
    fn in_nomination_notice() -> Vec<Step> {
        vec![
            step(Stage::Nominated, "2026-09-01"),
            step(Stage::NominationNotice, "2026-09-28"),
        ]
    }

    // ---- Stage and ObjectionOutcome ----

    #[test]
    fn stage_codes_labels_and_parse() {
        let all = [
            (Stage::Nominated, "nominated", "申报"),
            (Stage::NominationNotice, "nomination-notice", "推荐公示"),
            (Stage::QualificationCheck, "qualification", "资格审查"),
            (Stage::Review, "review", "评审"),
            (Stage::InspectionNotice, "inspection-notice", "考察公示"),
            (Stage::Inspection, "inspection", "考察"),
            (Stage::Approved, "approved", "批准"),
            (Stage::Withdrawn, "withdrawn", "退出"),
        ];
        for (stage, code, label) in all {
            assert_eq!(stage.code(), code);
            assert_eq!(stage.label(), label);
            assert_eq!(Stage::parse(code), Some(stage));
            assert_eq!(Stage::parse(label), Some(stage));
            assert_eq!(Stage::parse(&format!("  {label}\t")), Some(stage));
            assert_eq!(Stage::parse(&format!(" {code} ")), Some(stage));
        }
        assert_eq!(Stage::parse("公示"), None);
        assert_eq!(Stage::parse(""), None);
        assert_eq!(Stage::parse("Approved"), None);
    }

    #[test]
    fn stage_next_notice_final() {
        for w in Stage::ORDER.windows(2) {
            assert_eq!(w[0].next(), Some(w[1]));
        }
        assert_eq!(Stage::Approved.next(), None);
        assert_eq!(Stage::Withdrawn.next(), None);
        let notices: Vec<Stage> = Stage::ORDER.into_iter().filter(|s| s.is_notice()).collect();
        assert_eq!(notices, [Stage::NominationNotice, Stage::InspectionNotice]);
        assert!(!Stage::Withdrawn.is_notice());
        let finals: Vec<Stage> = Stage::ORDER
            .into_iter()
            .chain([Stage::Withdrawn])
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(finals, [Stage::Approved, Stage::Withdrawn]);
    }

    #[test]
    fn objection_outcome_codes_labels_and_parse() {
        use ObjectionOutcome::*;
        assert_eq!((Upheld.code(), Upheld.label()), ("upheld", "属实"));
        assert_eq!(
            (Dismissed.code(), Dismissed.label()),
            ("dismissed", "不属实")
        );
        for (text, o) in [
            ("upheld", Upheld),
            ("属实", Upheld),
            (" 成立 ", Upheld),
            ("dismissed", Dismissed),
            ("不属实", Dismissed),
            ("不成立", Dismissed),
        ] {
            assert_eq!(ObjectionOutcome::parse(text), Some(o), "{text}");
        }
        assert_eq!(ObjectionOutcome::parse("待查"), None);
    }

    // ---- notices and the calendar ----

    #[test]
    fn notice_end_over_national_day_2026() {
        // 国庆 2026: 10-01…10-07 off; 10-10 (Saturday) a make-up working day.
        // 9-28 Mon, 9-29, 9-30 (3), holidays, 10-08 Thu (4), 10-09 Fri (5).
        let at = |date| notice_end_of(&step(Stage::NominationNotice, date), cal()).unwrap();
        assert_eq!(at("2026-09-28"), Some(d("2026-10-09")));
        // 9-30 (1), 10-08 (2), 10-09 (3), Saturday 10-10 (4), Monday 10-12 (5).
        assert_eq!(at("2026-09-30"), Some(d("2026-10-12")));
        // Opened on a holiday: starts on 10-08 → 10-08, 10-09, 10-10, 10-12, 10-13.
        assert_eq!(at("2026-10-03"), Some(d("2026-10-13")));
        // 中秋 9-25…9-27: 9-24 (1), 9-28, 9-29, 9-30 (4), 10-08 (5).
        assert_eq!(at("2026-09-24"), Some(d("2026-10-08")));
        // An ordinary week: Friday 10-30 → Thursday 11-05.
        let insp = step(Stage::InspectionNotice, "2026-10-30");
        assert_eq!(notice_end_of(&insp, cal()).unwrap(), Some(d("2026-11-05")));
        // Not a notice.
        let review = step(Stage::Review, "2026-10-30");
        assert_eq!(notice_end_of(&review, cal()).unwrap(), None);
        // Beyond the calendar.
        let late = step(Stage::NominationNotice, "2026-12-28");
        assert!(matches!(
            notice_end_of(&late, cal()),
            Err(CalendarError::YearNotCovered { year: 2027, .. })
        ));
    }

    // ---- check_step ----

    #[test]
    fn happy_path_through_every_stage_in_2026() {
        let path = [
            step(Stage::Nominated, "2026-09-01"),
            step(Stage::NominationNotice, "2026-09-28"),
            step(Stage::QualificationCheck, "2026-10-10"),
            step(Stage::Review, "2026-10-20"),
            step(Stage::InspectionNotice, "2026-10-30"),
            step(Stage::Inspection, "2026-11-06"),
            step(Stage::Approved, "2026-11-20"),
        ];
        for i in 0..path.len() {
            check_step(&path[..i], &[], &path[i], cal())
                .unwrap_or_else(|e| panic!("step {i}: {e}"));
        }
        let m = refused(check_step(
            &path,
            &[],
            &withdraw("2026-12-01", "调离"),
            cal(),
        ));
        assert!(
            m.contains("当前阶段为批准") && m.contains("不能再进入退出"),
            "{m}"
        );
        let m = refused(check_step(
            &path,
            &[],
            &step(Stage::Approved, "2026-12-01"),
            cal(),
        ));
        assert!(m.contains("评选已结束"), "{m}");
    }

    #[test]
    fn first_step_must_be_nomination() {
        let m = refused(check_step(
            &[],
            &[],
            &step(Stage::NominationNotice, "2026-09-01"),
            cal(),
        ));
        assert_eq!(m, "尚无申报记录，第一步只能是申报，不能是推荐公示");
        let m = refused(check_step(&[], &[], &withdraw("2026-09-01", "x"), cal()));
        assert!(m.contains("第一步只能是申报"), "{m}");
        assert!(check_step(&[], &[], &step(Stage::Nominated, "2026-09-01"), cal()).is_ok());
    }

    #[test]
    fn stages_one_at_a_time() {
        let h = vec![
            step(Stage::Nominated, "2026-09-01"),
            step(Stage::NominationNotice, "2026-09-28"),
            step(Stage::QualificationCheck, "2026-10-10"),
            step(Stage::Review, "2026-10-20"),
        ];
        let m = refused(check_step(
            &h,
            &[],
            &step(Stage::Approved, "2026-11-01"),
            cal(),
        ));
        assert_eq!(m, "当前阶段为评审，下一步只能是考察公示或退出，不能是批准");
        let m = refused(check_step(
            &h,
            &[],
            &step(Stage::Review, "2026-11-01"),
            cal(),
        ));
        assert!(m.contains("不能是评审"), "{m}");
        let m = refused(check_step(
            &h,
            &[],
            &step(Stage::Nominated, "2026-11-01"),
            cal(),
        ));
        assert!(m.contains("不能是申报"), "{m}");
    }

    #[test]
    fn a_date_before_the_last_step_is_refused() {
        let h = vec![step(Stage::Nominated, "2026-09-10")];
        let m = refused(check_step(
            &h,
            &[],
            &step(Stage::NominationNotice, "2026-09-09"),
            cal(),
        ));
        assert_eq!(
            m,
            "推荐公示的日期2026年9月9日早于当前阶段申报的日期2026年9月10日，日期不能倒退"
        );
        // The same day is fine; so is 退出 the same day, but not before.
        assert!(check_step(&h, &[], &step(Stage::NominationNotice, "2026-09-10"), cal()).is_ok());
        assert!(check_step(&h, &[], &withdraw("2026-09-10", "本人申请"), cal()).is_ok());
        assert!(check_step(&h, &[], &withdraw("2026-09-09", "本人申请"), cal()).is_err());
    }

    #[test]
    fn a_notice_is_left_only_after_its_last_day() {
        let h = in_nomination_notice();
        let m = refused(check_step(
            &h,
            &[],
            &step(Stage::QualificationCheck, "2026-10-09"),
            cal(),
        ));
        assert_eq!(
            m,
            "推荐公示期至2026年10月9日结束，2026年10月9日之后才能进入资格审查（所填日期为2026年10月9日）"
        );
        assert!(check_step(
            &h,
            &[],
            &step(Stage::QualificationCheck, "2026-10-01"),
            cal()
        )
        .is_err());
        assert!(check_step(
            &h,
            &[],
            &step(Stage::QualificationCheck, "2026-10-10"),
            cal()
        )
        .is_ok());
        // The inspection notice likewise: 10-30 → 11-05.
        let mut h = h;
        h.push(step(Stage::QualificationCheck, "2026-10-10"));
        h.push(step(Stage::Review, "2026-10-20"));
        h.push(step(Stage::InspectionNotice, "2026-10-30"));
        let m = refused(check_step(
            &h,
            &[],
            &step(Stage::Inspection, "2026-11-05"),
            cal(),
        ));
        assert!(m.starts_with("考察公示期至2026年11月5日结束"), "{m}");
        assert!(check_step(&h, &[], &step(Stage::Inspection, "2026-11-06"), cal()).is_ok());
    }

    #[test]
    fn withdrawal_any_time_with_a_reason() {
        let h = in_nomination_notice();
        let open = [objection(1, Stage::NominationNotice, "2026-09-29", None)];
        // During the notice, with an objection open.
        assert!(check_step(&h, &open, &withdraw("2026-09-30", "本人申请退出"), cal()).is_ok());
        // Without a reason, or a blank one.
        let mut w = withdraw("2026-09-30", "  ");
        assert_eq!(refused(check_step(&h, &open, &w, cal())), "退出须写明原因");
        w.reason = None;
        assert_eq!(refused(check_step(&h, &[], &w, cal())), "退出须写明原因");
        // After every non-final stage.
        for i in 1..Stage::ORDER.len() {
            let h: Vec<Step> = Stage::ORDER[..i]
                .iter()
                .map(|s| step(*s, "2026-06-01"))
                .collect();
            assert!(check_step(&h, &[], &withdraw("2026-06-01", "x"), cal()).is_ok());
        }
        // Nothing after 退出.
        let mut h = h;
        h.push(withdraw("2026-09-30", "本人申请退出"));
        let m = refused(check_step(&h, &[], &withdraw("2026-10-01", "再退"), cal()));
        assert!(m.contains("当前阶段为退出"), "{m}");
    }

    #[test]
    fn an_open_objection_holds_the_candidate_in_the_notice() {
        let h = in_nomination_notice();
        let next = step(Stage::QualificationCheck, "2026-10-12");
        let open = [objection(3, Stage::NominationNotice, "2026-10-08", None)];
        assert_eq!(
            refused(check_step(&h, &open, &next, cal())),
            "推荐公示期间有未处理的异议（编号3，2026年10月8日收到），处理完毕前不能进入资格审查"
        );
        // Resolved after the step's day: still open on that day.
        let late = [objection(
            3,
            Stage::NominationNotice,
            "2026-10-08",
            Some(("2026-10-15", ObjectionOutcome::Dismissed)),
        )];
        assert!(refused(check_step(&h, &late, &next, cal())).contains("有未处理的异议"));
        // Dismissed by then: the candidate goes on.
        let dismissed = [objection(
            3,
            Stage::NominationNotice,
            "2026-10-08",
            Some(("2026-10-12", ObjectionOutcome::Dismissed)),
        )];
        assert!(check_step(&h, &dismissed, &next, cal()).is_ok());
        // An objection of the other notice does not hold this one.
        let other = [objection(4, Stage::InspectionNotice, "2026-10-08", None)];
        assert!(check_step(&h, &other, &next, cal()).is_ok());
    }

    #[test]
    fn an_upheld_objection_leaves_only_withdrawal() {
        let h = in_nomination_notice();
        let upheld = [objection(
            5,
            Stage::NominationNotice,
            "2026-09-30",
            Some(("2026-10-09", ObjectionOutcome::Upheld)),
        )];
        let m = refused(check_step(
            &h,
            &upheld,
            &step(Stage::QualificationCheck, "2026-10-12"),
            cal(),
        ));
        assert_eq!(
            m,
            "推荐公示期间的异议（编号5，2026年9月30日收到）经核实属实，只能退出，不能进入资格审查"
        );
        assert!(check_step(&h, &upheld, &withdraw("2026-10-12", "异议属实"), cal()).is_ok());
        // Upheld in an earlier notice, even once past it: only 退出.
        let mut later = h.clone();
        later.push(step(Stage::QualificationCheck, "2026-10-12"));
        let m = refused(check_step(
            &later,
            &upheld,
            &step(Stage::Review, "2026-10-20"),
            cal(),
        ));
        assert!(m.contains("只能退出"), "{m}");
    }

    #[test]
    fn dates_beyond_the_calendar_are_errors() {
        let h = vec![
            step(Stage::Nominated, "2026-12-01"),
            step(Stage::NominationNotice, "2026-12-28"),
        ];
        let r = check_step(
            &h,
            &[],
            &step(Stage::QualificationCheck, "2027-01-10"),
            cal(),
        );
        assert!(
            matches!(
                r,
                Err(StepError::Calendar(CalendarError::YearNotCovered {
                    year: 2027,
                    ..
                }))
            ),
            "{r:?}"
        );
        // Opening a notice that could not be closed.
        let h = vec![step(Stage::Nominated, "2026-12-01")];
        let r = check_step(&h, &[], &step(Stage::NominationNotice, "2027-01-04"), cal());
        assert!(matches!(r, Err(StepError::Calendar(_))), "{r:?}");
        // Steps that need no calendar are fine.
        assert!(check_step(&h, &[], &withdraw("2027-01-04", "x"), cal()).is_ok());
    }

    // ---- check_objection ----

    #[test]
    fn objections_only_within_a_notice() {
        let h = in_nomination_notice();
        for day in ["2026-09-28", "2026-10-03", "2026-10-09"] {
            assert_eq!(
                check_objection(&h, d(day), cal()).unwrap(),
                Stage::NominationNotice,
                "{day}"
            );
        }
        for day in ["2026-09-27", "2026-10-10"] {
            match check_objection(&h, d(day), cal()) {
                Err(StepError::Refused(m)) => assert!(
                    m.contains("不在推荐公示期（2026年9月28日至2026年10月9日）内"),
                    "{m}"
                ),
                other => panic!("{other:?}"),
            }
        }
        let mut past = h.clone();
        past.push(step(Stage::QualificationCheck, "2026-10-12"));
        match check_objection(&past, d("2026-10-12"), cal()) {
            Err(StepError::Refused(m)) => assert!(m.contains("当前不在公示期"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check_objection(&[], d("2026-10-12"), cal()),
            Err(StepError::Refused(_))
        ));
        let h = vec![
            step(Stage::Nominated, "2026-12-01"),
            step(Stage::InspectionNotice, "2026-12-29"),
        ];
        assert!(matches!(
            check_objection(&h, d("2026-12-30"), cal()),
            Err(StepError::Calendar(_))
        ));
    }

    // ---- Level ----

    #[test]
    fn level_parse() {
        use Level::*;
        let cases = [
            ("初级工", Some(Elementary)),
            ("五级", Some(Elementary)),
            ("中级工", Some(Intermediate)),
            ("四级", Some(Intermediate)),
            ("高级工", Some(Senior)),
            ("国家职业资格三级", Some(Senior)),
            ("技师", Some(Technician)),
            (" 技 师 ", Some(Technician)),
            ("二级", Some(Technician)),
            ("国家职业资格二级", Some(Technician)),
            ("二级/技师", Some(Technician)),
            ("技师（国家职业资格二级）", Some(Technician)),
            ("技师(二级)", Some(Technician)),
            ("高级技师", Some(SeniorTechnician)),
            ("一级", Some(SeniorTechnician)),
            ("高级技师（一级）", Some(SeniorTechnician)),
            ("高级技师 ( 一级 )", Some(SeniorTechnician)),
            ("国家职业资格一级/高级技师", Some(SeniorTechnician)),
            ("特级技师", Some(PrincipalTechnician)),
            ("首席技师", Some(ChiefTechnician)),
            ("", None),
            ("工程师", None),
            ("高级", None),
            ("技师（一级）", None),
            ("高级工/技师", None),
        ];
        for (text, want) in cases {
            assert_eq!(Level::parse(text), want, "{text:?}");
        }
    }

    #[test]
    fn level_labels_and_qualifies() {
        use Level::*;
        let all = [
            Elementary,
            Intermediate,
            Senior,
            Technician,
            SeniorTechnician,
            PrincipalTechnician,
            ChiefTechnician,
        ];
        let labels: Vec<&str> = all.iter().map(|l| l.label()).collect();
        assert_eq!(
            labels,
            [
                "初级工",
                "中级工",
                "高级工",
                "技师",
                "高级技师",
                "特级技师",
                "首席技师"
            ]
        );
        for l in all {
            assert_eq!(Level::parse(l.label()), Some(l));
            assert_eq!(l.qualifies(), l >= Technician);
        }
        assert!(!Senior.qualifies());
        assert!(Technician.qualifies());
    }

    // ---- age ----

    #[test]
    fn age_in_full_years() {
        assert_eq!(age_on(d("1980-05-31"), d("2026-05-30")), 45);
        assert_eq!(age_on(d("1980-05-31"), d("2026-05-31")), 46);
        assert_eq!(age_on(d("1980-05-31"), d("1980-05-31")), 0);
        assert_eq!(age_on(d("1980-05-31"), d("1979-01-01")), 0);
        // Born on 29 February.
        let leap = d("1972-02-29");
        assert_eq!(age_on(leap, d("2025-02-28")), 52);
        assert_eq!(age_on(leap, d("2025-03-01")), 53);
        assert_eq!(age_on(leap, d("2024-02-28")), 51);
        assert_eq!(age_on(leap, d("2024-02-29")), 52);
    }

    // ---- eligibility ----

    struct Nom {
        id: IdNumber,
        level: &'static str,
        unit_known: bool,
        terms: Vec<(NaiveDate, NaiveDate)>,
        fraud: bool,
        notice: (NaiveDate, NaiveDate),
        received: NaiveDate,
    }

    impl Nom {
        /// Eligible, no flag: 50 on the deadline, a 5-working-day notice 2026-05-06…05-11
        /// (Saturday 05-09 a make-up working day), received 2026-05-20.
        fn fine() -> Nom {
            Nom {
                id: make_id("370303", d("1976-03-10"), 11),
                level: "技师",
                unit_known: true,
                terms: vec![],
                fraud: false,
                notice: (d("2026-05-06"), d("2026-05-11")),
                received: d("2026-05-20"),
            }
        }
        fn born(mut self, birth: &str) -> Nom {
            self.id = make_id("370303", d(birth), 11);
            self
        }
        fn check(&self, deadline: &str) -> Result<Vec<Finding>, CalendarError> {
            let c = Candidate {
                id_number: &self.id,
                level: self.level,
                unit_known: self.unit_known,
                unit: "某某机械有限公司",
                terms: &self.terms,
                revoked_for_fraud: self.fraud,
                notice: self.notice,
                received: self.received,
            };
            eligibility(&c, d(deadline), d("2026-11-30"), cal())
        }
        fn codes(&self, deadline: &str) -> Vec<&'static str> {
            self.check(deadline)
                .unwrap()
                .iter()
                .map(|f| f.code)
                .collect()
        }
    }

    const DEADLINE: &str = "2026-05-31";

    #[test]
    fn an_eligible_candidate_has_no_finding() {
        assert_eq!(Nom::fine().check(DEADLINE).unwrap(), []);
    }

    #[test]
    fn level_findings() {
        let mut n = Nom::fine();
        n.level = "高级工";
        let f = n.check(DEADLINE).unwrap();
        assert_eq!(
            f,
            [Finding {
                code: "level",
                kind: FindingKind::Disqualifying,
                message: "职业资格等级为高级工，低于技师，不符合申报条件".to_string(),
            }]
        );
        n.level = " 工程师 ";
        let f = n.check(DEADLINE).unwrap();
        assert_eq!(f[0].kind, FindingKind::Disqualifying);
        assert_eq!(
            f[0].message,
            "职业资格等级“工程师”无法识别；应为技师、高级技师、特级技师或首席技师"
        );
        n.level = "高级技师（一级）";
        assert_eq!(n.check(DEADLINE).unwrap(), []);
    }

    #[test]
    fn unit_and_fraud_flags() {
        let mut n = Nom::fine();
        n.unit_known = false;
        let f = n.check(DEADLINE).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].code, f[0].kind), ("unit-unknown", FindingKind::Flag));
        assert_eq!(
            f[0].message,
            "工作单位“某某机械有限公司”不在本区单位名录中，请核实是否为本区单位"
        );
        let mut n = Nom::fine();
        n.fraud = true;
        let f = n.check(DEADLINE).unwrap();
        assert_eq!((f[0].code, f[0].kind), ("fraud-before", FindingKind::Flag));
        assert!(f[0].message.starts_with("曾因弄虚作假被撤销首席技师称号"));
    }

    #[test]
    fn age_boundaries_with_birthdays_on_the_deadline() {
        // 45 on the deadline day itself: priority.
        let f = Nom::fine().born("1981-05-31").check(DEADLINE).unwrap();
        assert_eq!(
            f,
            [Finding {
                code: "age-priority",
                kind: FindingKind::Priority,
                message: "截至申报截止日2026年5月31日年满45周岁，45周岁及以下，同等条件下优先"
                    .to_string(),
            }]
        );
        // 46 on the deadline day: nothing; a day younger is still 45.
        assert_eq!(
            Nom::fine().born("1980-05-31").codes(DEADLINE),
            [] as [&str; 0]
        );
        assert_eq!(
            Nom::fine().born("1980-06-01").codes(DEADLINE),
            ["age-priority"]
        );
        // 55 on the deadline day: nothing; 56: a flag.
        assert_eq!(
            Nom::fine().born("1971-05-31").codes(DEADLINE),
            [] as [&str; 0]
        );
        let f = Nom::fine().born("1970-05-31").check(DEADLINE).unwrap();
        assert_eq!(
            f,
            [Finding {
                code: "age-over-55",
                kind: FindingKind::Flag,
                message: "截至申报截止日2026年5月31日年满56周岁，超过55周岁（一般不超过55周岁），由区人社局研究决定"
                    .to_string(),
            }]
        );
        assert_eq!(
            Nom::fine().born("1970-06-01").codes(DEADLINE),
            [] as [&str; 0]
        );
    }

    #[test]
    fn born_on_29_february() {
        // 46 only on 1 March in 2026.
        let n = Nom::fine().born("1980-02-29");
        assert_eq!(n.codes("2026-02-28"), ["age-priority"]);
        assert_eq!(n.codes("2026-03-01"), [] as [&str; 0]);
        // A 56th birthday always falls in a leap year: 29 February 2024.
        let n = Nom::fine().born("1968-02-29");
        assert_eq!(n.codes("2024-02-28"), [] as [&str; 0]);
        assert_eq!(n.codes("2024-02-29"), ["age-over-55"]);
    }

    #[test]
    fn a_running_term_disqualifies() {
        let mut n = Nom::fine();
        n.terms = vec![
            (d("2020-01-01"), d("2022-12-31")),
            (d("2023-12-01"), d("2026-11-30")),
        ];
        let f = n.check(DEADLINE).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].code, f[0].kind),
            ("term-running", FindingKind::Disqualifying)
        );
        assert_eq!(
            f[0].message,
            "现任首席技师管理期至2026年11月30日，批准时（预计2026年11月30日）仍在管理期内"
        );
        n.terms = vec![(d("2023-12-01"), d("2026-11-29"))];
        assert_eq!(n.codes(DEADLINE), [] as [&str; 0]);
        n.terms = vec![(d("2026-12-01"), d("2029-11-30"))];
        assert_eq!(n.codes(DEADLINE), [] as [&str; 0]);
    }

    #[test]
    fn the_nominating_bodys_notice() {
        let mut n = Nom::fine();
        // 9-28, 9-29, 9-30, 10-08: four working days over National Day.
        n.notice = (d("2026-09-28"), d("2026-10-08"));
        n.received = d("2026-10-20");
        let f = n.check(DEADLINE).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].code, f[0].kind),
            ("notice-short", FindingKind::Disqualifying)
        );
        assert_eq!(
            f[0].message,
            "推荐公示自2026年9月28日至2026年10月8日，仅4个工作日，少于5个工作日"
        );
        n.notice = (d("2026-09-28"), d("2026-10-09"));
        assert_eq!(n.codes(DEADLINE), [] as [&str; 0]);
        // Saturday 10-10 is a make-up working day: 10-08, 10-09, 10-10, 10-12, 10-13 are five.
        n.notice = (d("2026-10-08"), d("2026-10-12"));
        assert_eq!(n.codes(DEADLINE), ["notice-short"]);
        n.notice = (d("2026-10-08"), d("2026-10-13"));
        assert_eq!(n.codes(DEADLINE), [] as [&str; 0]);
        // Reversed.
        n.notice = (d("2026-10-09"), d("2026-09-28"));
        assert_eq!(n.codes(DEADLINE), ["notice-short"]);
        // Ends on the day the bureau received the nomination: late.
        let mut n = Nom::fine();
        n.received = d("2026-05-11");
        let f = n.check(DEADLINE).unwrap();
        assert_eq!(
            (f[0].code, f[0].kind),
            ("notice-late", FindingKind::Disqualifying)
        );
        assert_eq!(
            f[0].message,
            "推荐公示至2026年5月11日结束，但推荐材料于2026年5月11日报送区人社局；公示应在报送前结束"
        );
        n.received = d("2026-05-12");
        assert_eq!(n.codes(DEADLINE), [] as [&str; 0]);
    }

    #[test]
    fn a_notice_beyond_the_calendar_is_an_error() {
        let mut n = Nom::fine();
        n.notice = (d("2026-12-28"), d("2027-01-05"));
        n.received = d("2027-01-10");
        assert!(matches!(
            n.check(DEADLINE),
            Err(CalendarError::YearNotCovered { year: 2027, .. })
        ));
    }

    #[test]
    fn findings_in_order() {
        let mut n = Nom::fine().born("1960-01-01");
        n.level = "三级";
        n.unit_known = false;
        n.terms = vec![(d("2024-01-01"), d("2026-12-31"))];
        n.fraud = true;
        n.notice = (d("2026-05-06"), d("2026-05-08"));
        n.received = d("2026-05-08");
        assert_eq!(
            n.codes(DEADLINE),
            [
                "level",
                "unit-unknown",
                "age-over-55",
                "term-running",
                "fraud-before",
                "notice-short",
                "notice-late"
            ]
        );
    }

    // ---- rank and list size ----

    #[test]
    fn rank_by_mean_with_shared_places() {
        let scores = [
            (7, dec!(90)),
            (2, dec!(80)),
            (3, dec!(89)),
            (1, dec!(95)),
            (3, dec!(91)),
            (1, dec!(95)),
        ];
        let r = rank(&scores);
        let got: Vec<(i64, Decimal, usize, u32)> = r
            .iter()
            .map(|x| (x.candidate, x.mean, x.experts, x.rank))
            .collect();
        assert_eq!(
            got,
            [
                (1, dec!(95.00), 2, 1),
                (3, dec!(90.00), 2, 2),
                (7, dec!(90.00), 1, 2),
                (2, dec!(80.00), 1, 4),
            ]
        );
        assert_eq!(rank(&[]), []);
    }

    #[test]
    fn rank_rounds_half_up_and_ties_on_the_rounded_mean() {
        let r = rank(&[(1, dec!(85.125)), (2, dec!(85.12)), (2, dec!(85.13))]);
        // 85.125 → 85.13 (half up, not to even); 2: 85.125 → 85.13: a tie.
        assert_eq!(r[0].mean, dec!(85.13));
        assert_eq!(r[1].mean, dec!(85.13));
        assert_eq!((r[0].candidate, r[0].rank, r[1].rank), (1, 1, 1));
        // 88.004 → 88.00 ties with 88.
        let r = rank(&[(9, dec!(88.004)), (8, dec!(88)), (4, dec!(70.665))]);
        let got: Vec<(i64, Decimal, u32)> =
            r.iter().map(|x| (x.candidate, x.mean, x.rank)).collect();
        assert_eq!(
            got,
            [
                (8, dec!(88.00), 1),
                (9, dec!(88.00), 1),
                (4, dec!(70.67), 3)
            ]
        );
        // A mean of three: 256/3 = 85.333… → 85.33.
        let r = rank(&[(1, dec!(85)), (1, dec!(85)), (1, dec!(86))]);
        assert_eq!(r[0].mean, dec!(85.33));
    }

    #[test]
    fn list_size_near_ten() {
        assert_eq!(
            list_size_warning(6, 10).as_deref(),
            Some("建议人选6人，与每年约10人（办法第四条）相差较大，请核实")
        );
        assert_eq!(list_size_warning(7, 10), None);
        assert_eq!(list_size_warning(10, 10), None);
        assert_eq!(list_size_warning(13, 10), None);
        assert_eq!(
            list_size_warning(14, 10).as_deref(),
            Some("建议人选14人，与每年约10人（办法第四条）相差较大，请核实")
        );
        assert_eq!(list_size_warning(0, 0), None);
        assert!(list_size_warning(1, 0).is_some());
        assert!(list_size_warning(0, 10).is_some());
    }

    // ---- reminders ----

    fn cfg() -> SelectionReminderConfig {
        SelectionReminderConfig::default()
    }

    fn through(stages: &[(Stage, &str)]) -> Vec<Step> {
        stages.iter().map(|(s, day)| step(*s, day)).collect()
    }

    fn round() -> Vec<(i64, Vec<Step>)> {
        let notice_0928 = [
            (Stage::Nominated, "2026-09-01"),
            (Stage::NominationNotice, "2026-09-28"),
        ];
        vec![
            (2, through(&notice_0928)),
            (
                4,
                through(&[
                    (Stage::Nominated, "2026-09-01"),
                    (Stage::NominationNotice, "2026-09-30"),
                ]),
            ),
            (1, through(&notice_0928)),
            (
                3,
                through(&[
                    (Stage::Nominated, "2026-09-01"),
                    (Stage::NominationNotice, "2026-09-28"),
                    (Stage::QualificationCheck, "2026-10-10"),
                ]),
            ),
            (
                5,
                through(&[
                    (Stage::Nominated, "2026-09-01"),
                    (Stage::NominationNotice, "2026-12-28"),
                ]),
            ),
            (
                6,
                vec![
                    step(Stage::Nominated, "2026-01-05"),
                    withdraw("2026-01-06", "本人申请"),
                ],
            ),
            (7, vec![]),
        ]
    }

    const ROUND_DEADLINE: &str = "2026-05-31";

    fn due(today: &str) -> Vec<SelectionReminder> {
        due_reminders(d(today), d(ROUND_DEADLINE), &round(), &cfg(), cal())
    }

    #[test]
    fn a_notice_ending_today() {
        assert_eq!(due("2026-10-08"), []);
        let r = due("2026-10-09");
        assert_eq!(
            r,
            [SelectionReminder::NoticeEnding {
                stage: Stage::NominationNotice,
                opened: d("2026-09-28"),
                end: d("2026-10-09"),
                candidates: vec![1, 2],
            }]
        );
        assert_eq!(
            r[0].key(2026),
            "selection-notice-end:2026:nomination-notice:2026-09-28"
        );
        let r = due("2026-10-12");
        assert_eq!(r.len(), 1);
        assert!(matches!(
            &r[0],
            SelectionReminder::NoticeEnding { candidates, end, .. }
                if candidates == &[4] && *end == d("2026-10-12")
        ));
        // 5's notice ends in 2027: skipped, not guessed (only the long waits are due then).
        let r = due("2027-01-05");
        assert!(
            r.iter()
                .all(|x| matches!(x, SelectionReminder::Waiting { .. })),
            "{r:?}"
        );
        assert!(!r
            .iter()
            .any(|x| matches!(x, SelectionReminder::Waiting { candidate: 5, .. })));
    }

    #[test]
    fn waiting_past_the_limit() {
        let of = |who: i64, r: Vec<SelectionReminder>| -> Vec<SelectionReminder> {
            r.into_iter()
                .filter(|x| matches!(x, SelectionReminder::Waiting { candidate, .. } if *candidate == who))
                .collect()
        };
        // 3 entered 资格审查 on 10-10; the limit is 30 days.
        assert_eq!(of(3, due("2026-11-09")), []);
        let r = of(3, due("2026-11-10"));
        assert_eq!(
            r,
            [SelectionReminder::Waiting {
                candidate: 3,
                stage: Stage::QualificationCheck,
                since: d("2026-10-10"),
                days: 31,
            }]
        );
        assert_eq!(
            r[0].key(2026),
            "selection-waiting:3:qualification:2026-10-10"
        );
        // Every later day too, under the same key: a missed day loses nothing.
        let later = of(3, due("2026-11-20"));
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].key(2026), r[0].key(2026));
        // A candidate held in a notice long after it ended waits too: 1 opened its 推荐公示 on
        // 09-28 and is still in it 31 days later.
        assert_eq!(of(1, due("2026-10-28")), []);
        assert_eq!(
            of(1, due("2026-10-29")),
            [SelectionReminder::Waiting {
                candidate: 1,
                stage: Stage::NominationNotice,
                since: d("2026-09-28"),
                days: 31,
            }]
        );
        // Nothing final waits: 6 withdrew in January.
        assert_eq!(of(6, due("2026-12-31")), []);
    }

    #[test]
    fn the_deadline_approaching() {
        let r = due("2026-05-17");
        assert_eq!(
            r,
            [SelectionReminder::DeadlineApproaching {
                deadline: d(ROUND_DEADLINE),
                days: 14,
            }]
        );
        assert_eq!(r[0].key(2026), "selection-deadline:2026:14d");
        assert_eq!(
            due("2026-05-28"),
            [SelectionReminder::DeadlineApproaching {
                deadline: d(ROUND_DEADLINE),
                days: 3,
            }]
        );
        for day in [
            "2026-05-16",
            "2026-05-18",
            "2026-05-29",
            "2026-05-31",
            "2026-06-14",
        ] {
            assert_eq!(due(day), [], "{day}");
        }
    }

    #[test]
    fn reminders_in_order_on_one_day() {
        let mut candidates = round();
        candidates.push((9, through(&[(Stage::Nominated, "2026-09-01")])));
        candidates.push((8, through(&[(Stage::Review, "2026-08-01")])));
        let cfg = SelectionReminderConfig {
            waiting_days: 30,
            deadline_days: vec![3, 14, 3],
        };
        let r = due_reminders(d("2026-10-09"), d("2026-10-12"), &candidates, &cfg, cal());
        let keys: Vec<String> = r.iter().map(|x| x.key(2026)).collect();
        assert_eq!(
            keys,
            [
                "selection-notice-end:2026:nomination-notice:2026-09-28",
                "selection-waiting:8:review:2026-08-01",
                "selection-waiting:9:nominated:2026-09-01",
                "selection-deadline:2026:3d",
            ]
        );
        // Inspection notices after nomination notices.
        let two = vec![
            (1, through(&[(Stage::InspectionNotice, "2026-09-28")])),
            (2, through(&[(Stage::NominationNotice, "2026-09-28")])),
        ];
        let r = due_reminders(d("2026-10-09"), d("2026-05-31"), &two, &cfg, cal());
        let stages: Vec<Stage> = r
            .iter()
            .map(|x| match x {
                SelectionReminder::NoticeEnding { stage, .. } => *stage,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(stages, [Stage::NominationNotice, Stage::InspectionNotice]);
    }

    // ---- properties ----

    fn stage_of(i: u8) -> Stage {
        match i % 8 {
            7 => Stage::Withdrawn,
            i => Stage::ORDER[usize::from(i)],
        }
    }

    fn objection_strategy() -> impl Strategy<Value = Objection> {
        (
            any::<bool>(),
            0u64..400,
            prop::option::of((0u64..60, any::<bool>())),
        )
            .prop_map(|(nomination, received, resolution)| {
                let start = d("2022-01-10");
                let received = start + chrono::Days::new(received);
                Objection {
                    id: 1,
                    stage: if nomination {
                        Stage::NominationNotice
                    } else {
                        Stage::InspectionNotice
                    },
                    received,
                    resolution: resolution.map(|(after, upheld)| {
                        (
                            received + chrono::Days::new(after),
                            if upheld {
                                ObjectionOutcome::Upheld
                            } else {
                                ObjectionOutcome::Dismissed
                            },
                        )
                    }),
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever is tried, the accepted stages are a prefix of ORDER, perhaps followed by 退出;
        /// dates never go back; a notice is left only after its last day with none of its
        /// objections open on that day; after an upheld objection only 退出 follows 申报.
        #[test]
        fn accepted_steps_follow_the_order(
            tries in prop::collection::vec((0u8..8, 0u64..20, any::<bool>()), 1..40),
            objections in prop::collection::vec(objection_strategy(), 0..3),
        ) {
            let mut history: Vec<Step> = Vec::new();
            let mut day = d("2022-01-10");
            for (stage, gap, reason) in tries {
                day = day + chrono::Days::new(gap);
                let next = Step {
                    stage: stage_of(stage),
                    date: day,
                    reason: reason.then(|| "原因".to_string()),
                };
                if check_step(&history, &objections, &next, cal()).is_ok() {
                    if let Some(last) = history.last() {
                        if let Some(end) = notice_end_of(last, cal()).unwrap() {
                            if next.stage != Stage::Withdrawn {
                                prop_assert!(next.date > end);
                                prop_assert!(!objections
                                    .iter()
                                    .any(|o| o.stage == last.stage && o.is_open_on(next.date)));
                            }
                        }
                    }
                    history.push(next);
                }
            }
            let stages: Vec<Stage> = history.iter().map(|s| s.stage).collect();
            let body = match stages.split_last() {
                Some((Stage::Withdrawn, body)) => body,
                _ => &stages[..],
            };
            prop_assert_eq!(body, &Stage::ORDER[..body.len()]);
            prop_assert!(history.windows(2).all(|w| w[0].date <= w[1].date));
            if objections.iter().any(Objection::is_upheld) {
                prop_assert!(body.len() <= 1, "{:?}", stages);
            }
        }

        /// Ranks go 1, …, never down; means never up; equal means share a rank and a new mean
        /// takes its place in the list.
        #[test]
        fn ranks_and_means_are_ordered(
            scores in prop::collection::vec((0i64..8, 0i64..10_000), 0..40),
        ) {
            let scores: Vec<(i64, Decimal)> =
                scores.into_iter().map(|(c, s)| (c, Decimal::new(s, 2))).collect();
            let r = rank(&scores);
            let mut ids: Vec<i64> = scores.iter().map(|s| s.0).collect();
            ids.sort_unstable();
            ids.dedup();
            prop_assert_eq!(r.len(), ids.len());
            prop_assert_eq!(r.iter().map(|x| x.experts).sum::<usize>(), scores.len());
            if let Some(first) = r.first() {
                prop_assert_eq!(first.rank, 1);
            }
            for (i, w) in r.windows(2).enumerate() {
                prop_assert!(w[0].mean >= w[1].mean);
                prop_assert!(w[0].rank <= w[1].rank);
                if w[0].mean == w[1].mean {
                    prop_assert_eq!(w[0].rank, w[1].rank);
                    prop_assert!(w[0].candidate < w[1].candidate);
                } else {
                    prop_assert_eq!(w[1].rank as usize, i + 2);
                }
            }
            for x in &r {
                prop_assert_eq!(x.mean.scale(), 2);
            }
        }

        /// Age never goes down as the day goes on, and is n on the n-th birthday.
        #[test]
        fn age_is_monotone(
            birth in 0u64..40_000,
            a in 0u64..40_000,
            b in 0u64..40_000,
            n in 0u32..100,
        ) {
            let origin = d("1900-01-01");
            let birth = origin + chrono::Days::new(birth);
            let (a, b) = (origin + chrono::Days::new(a.min(b)), origin + chrono::Days::new(a.max(b)));
            prop_assert!(age_on(birth, a) <= age_on(birth, b));
            if let Some(day) = birth.checked_add_months(chrono::Months::new(12 * n)) {
                // 29 February lands on 28 February: a year older only on 1 March.
                let want = if (birth.month(), birth.day()) == (2, 29) && day.day() == 28 {
                    n.saturating_sub(1)
                } else {
                    n
                };
                prop_assert_eq!(age_on(birth, day), want);
                prop_assert_eq!(age_on(birth, day.succ_opt().unwrap()), n);
            }
        }

        /// Near means at most 30 % of the expected size off.
        #[test]
        fn list_size_near_means_thirty_percent(proposed in 0usize..200, expected in 0usize..100) {
            let off = Decimal::from(proposed.abs_diff(expected));
            let near = off <= Decimal::from(expected) * dec!(0.3);
            prop_assert_eq!(list_size_warning(proposed, expected).is_none(), near);
        }

        /// A notice lasts five working days and ends on one; objections are taken on its first
        /// to last day only.
        #[test]
        fn a_notice_is_five_working_days(offset in 0u64..1_800, inspection in any::<bool>()) {
            let opened = d("2021-01-04") + chrono::Days::new(offset);
            let stage = if inspection { Stage::InspectionNotice } else { Stage::NominationNotice };
            let s = Step { stage, date: opened, reason: None };
            let end = notice_end_of(&s, cal()).unwrap().unwrap();
            prop_assert!(cal().is_working_day(end).unwrap());
            prop_assert_eq!(cal().working_days_between(opened, end).unwrap(), NOTICE_WORKING_DAYS);
            let h = vec![step(Stage::Nominated, "2021-01-01"), s];
            prop_assert_eq!(check_objection(&h, end, cal()).unwrap(), stage);
            prop_assert_eq!(check_objection(&h, opened, cal()).unwrap(), stage);
            prop_assert!(check_objection(&h, end.succ_opt().unwrap(), cal()).is_err());
        }
    }
}
