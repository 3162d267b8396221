//! Appointments, terms and status changes (变动), and the checks a change must pass before
//! it is recorded: `docs/rules.md` §1 (appointments, terms), §4 (status changes), §5 (which
//! appointment) and §6 (order and checks).

use super::month::{add_months, Month};
use super::policy::{ReportEffect, RulesConfig};
use chrono::NaiveDate;
use std::fmt;

/// One award of the title, as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appointment {
    /// Database id.
    pub id: i64,
    /// 批准日期.
    pub approval_date: NaiveDate,
    /// 批准文号.
    pub approval_no: String,
}

impl Appointment {
    /// First day of the term: the first day of the month after approval.
    pub fn term_start(&self) -> NaiveDate {
        Month::of(self.approval_date).next().first_day()
    }

    /// Last day of the term: 36 calendar months after its start, less a day.
    pub fn term_end(&self) -> NaiveDate {
        add_months(self.term_start(), 36).pred_opt().expect("date")
    }

    /// The first and last month of the term.
    pub fn term_months(&self) -> (Month, Month) {
        (Month::of(self.term_start()), Month::of(self.term_end()))
    }

    /// 评选年度: the year of the approval date.
    pub fn cohort_year(&self) -> i32 {
        chrono::Datelike::year(&self.approval_date)
    }

    /// Whether `day` lies in the term.
    pub fn term_holds(&self, day: NaiveDate) -> bool {
        self.term_start() <= day && day <= self.term_end()
    }

    /// The year a month is due (new-year deferral: cohort-year months are due the next year).
    pub fn due_year(&self, month: Month) -> i32 {
        if month.year() == self.cohort_year() {
            month.year() + 1
        } else {
            month.year()
        }
    }
}

/// The type of a status change, with its Chinese label in files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeKind {
    TransferredOut,
    LeftSkilledWork,
    Retired,
    LeftPost,
    Restored,
    Deceased,
    RevokedMisconduct,
    RevokedFraud,
    PromotedCity,
    PromotedProvince,
    OtherAllowance,
    UnitChange,
}

impl ChangeKind {
    /// Every kind, in the order of docs/rules.md.
    pub const ALL: [ChangeKind; 12] = [
        ChangeKind::TransferredOut,
        ChangeKind::LeftSkilledWork,
        ChangeKind::Retired,
        ChangeKind::LeftPost,
        ChangeKind::Restored,
        ChangeKind::Deceased,
        ChangeKind::RevokedMisconduct,
        ChangeKind::RevokedFraud,
        ChangeKind::PromotedCity,
        ChangeKind::PromotedProvince,
        ChangeKind::OtherAllowance,
        ChangeKind::UnitChange,
    ];

    /// The label used in workbooks and shown to clerks.
    pub fn label(self) -> &'static str {
        match self {
            ChangeKind::TransferredOut => "调往区外",
            ChangeKind::LeftSkilledWork => "不再从事技能或技术岗位",
            ChangeKind::Retired => "退休",
            ChangeKind::LeftPost => "离岗",
            ChangeKind::Restored => "恢复待遇",
            ChangeKind::Deceased => "死亡",
            ChangeKind::RevokedMisconduct => "违纪撤销",
            ChangeKind::RevokedFraud => "弄虚作假撤销",
            ChangeKind::PromotedCity => "晋升市级首席技师",
            ChangeKind::PromotedProvince => "晋升齐鲁首席技师",
            ChangeKind::OtherAllowance => "享受其他人才津贴",
            ChangeKind::UnitChange => "单位变更",
        }
    }

    /// The stable code stored in the database.
    pub fn code(self) -> &'static str {
        match self {
            ChangeKind::TransferredOut => "transferred_out",
            ChangeKind::LeftSkilledWork => "left_skilled_work",
            ChangeKind::Retired => "retired",
            ChangeKind::LeftPost => "left_post",
            ChangeKind::Restored => "restored",
            ChangeKind::Deceased => "deceased",
            ChangeKind::RevokedMisconduct => "revoked_misconduct",
            ChangeKind::RevokedFraud => "revoked_fraud",
            ChangeKind::PromotedCity => "promoted_city",
            ChangeKind::PromotedProvince => "promoted_province",
            ChangeKind::OtherAllowance => "other_allowance",
            ChangeKind::UnitChange => "unit_change",
        }
    }

    /// Inverse of [`ChangeKind::code`].
    pub fn from_code(code: &str) -> Option<ChangeKind> {
        ChangeKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Reads a label from a workbook; spaces are ignored and the aliases of docs/rules.md accepted.
    pub fn from_label(label: &str) -> Option<ChangeKind> {
        let l: String = label.chars().filter(|c| !c.is_whitespace()).collect();
        if l == "不再从事技能岗位" || l == "不再从事技术岗位" {
            return Some(ChangeKind::LeftSkilledWork);
        }
        ChangeKind::ALL
            .into_iter()
            .find(|k| k.label() == l || k.code() == l)
    }

    /// What the change does to benefits under `cfg`.
    pub fn effect(self, cfg: &RulesConfig) -> Effect {
        let configured = |e: ReportEffect| match e {
            ReportEffect::Suspension => Effect::Suspension,
            ReportEffect::Termination => Effect::Termination,
            ReportEffect::None => Effect::None,
        };
        match self {
            ChangeKind::TransferredOut | ChangeKind::LeftSkilledWork => Effect::Suspension,
            ChangeKind::Retired => configured(cfg.retired),
            ChangeKind::LeftPost => configured(cfg.left_post),
            ChangeKind::Restored => Effect::Restoration,
            ChangeKind::Deceased
            | ChangeKind::RevokedMisconduct
            | ChangeKind::PromotedCity
            | ChangeKind::PromotedProvince => Effect::Termination,
            ChangeKind::RevokedFraud => Effect::Fraud,
            ChangeKind::OtherAllowance => Effect::OtherAllowance,
            ChangeKind::UnitChange => Effect::None,
        }
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What a change does to the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Suspension,
    Restoration,
    Termination,
    /// Termination and full clawback.
    Fraud,
    /// A period of another talent allowance (person-wide).
    OtherAllowance,
    None,
}

impl Effect {
    /// Whether this ends the appointment's benefits for good.
    pub fn terminates(self) -> bool {
        matches!(self, Effect::Termination | Effect::Fraud)
    }
}

/// A status change as recorded (and not voided).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Database id; also the order in which changes were recorded.
    pub id: i64,
    pub kind: ChangeKind,
    /// 生效日期 `x`.
    pub effective: NaiveDate,
    /// 结束日期 `z`, only for 享受其他人才津贴 (None: open-ended).
    pub end: Option<NaiveDate>,
    /// The appointments it applies to, as decided when it was recorded ([`appointments_for`]
    /// and the checks of [`check_change`]); empty for 享受其他人才津贴, which is person-wide.
    pub appointment_ids: Vec<i64>,
    /// Reported by a unit (its e-mailed report or `import changes --from-unit`), not by the
    /// bureau: a unit may never amend a row the bureau recorded.
    pub by_unit: bool,
}

impl Change {
    /// Whether this change applies to the appointment: person-wide other allowances apply to
    /// every appointment, every other change to the appointments it was recorded for.
    pub fn applies_to(&self, appointment_id: i64) -> bool {
        self.kind == ChangeKind::OtherAllowance || self.appointment_ids.contains(&appointment_id)
    }
}

/// Who reports a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reporter {
    /// The bureau's own import or entry.
    Bureau,
    /// A unit's report (变动情况报告表).
    Unit,
}

/// A change row to be checked before it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedChange {
    pub kind: ChangeKind,
    pub effective: NaiveDate,
    pub end: Option<NaiveDate>,
    /// 称号批准文号: picks the appointment when given.
    pub title_no: Option<String>,
}

/// Outcome of checking a proposed change against what is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Record it, for these appointments (empty: person-wide, an other allowance).
    Apply {
        appointment_ids: Vec<i64>,
        /// For an other allowance with the start of a recorded one: the change it amends.
        amends: Option<i64>,
    },
    /// Same person, type, date and end date as recorded change `existing`: skipped.
    Duplicate { existing: i64 },
    /// Not applied, with the reason.
    Reject(Rejection),
}

/// Why a change is not applied; the text is for a clerk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("称号批准文号“{0}”不是此人的称号批准文号")]
    UnknownTitle(String),
    #[error("生效日期{effective}早于称号批准日期{approval}")]
    BeforeApproval {
        effective: NaiveDate,
        approval: NaiveDate,
    },
    #[error("该称号已于{date}因“{kind}”终止，不能再登记{effective}生效的变动")]
    AfterTermination {
        date: NaiveDate,
        kind: ChangeKind,
        effective: NaiveDate,
    },
    #[error("{0}时没有停发中的待遇，不能恢复待遇")]
    NothingToRestore(NaiveDate),
    #[error("恢复待遇由区人力资源和社会保障局决定，单位不能报告")]
    RestoreFromUnit,
    #[error("区人力资源和社会保障局已登记{effective}起的其他人才津贴（变动#{id}），单位不能更改或缩短；如有出入，请与区人社局联系")]
    BureauRecord { effective: NaiveDate, id: i64 },
    #[error("其他人才津贴期间{from}至{to}与此人任何一届管理期都不重叠")]
    OutsideTerms { from: NaiveDate, to: String },
    #[error("结束日期{end}早于生效日期{effective}")]
    EndBeforeStart {
        effective: NaiveDate,
        end: NaiveDate,
    },
    #[error("只有“享受其他人才津贴”可以填写结束日期")]
    EndNotAllowed,
}

/// Checks a proposed change for one person against the changes recorded before it.
///
/// `appointments` are the person's appointments; `recorded` the person's recorded,
/// non-voided changes, in recording order.
pub fn check_change(
    appointments: &[Appointment],
    recorded: &[Change],
    proposed: &ProposedChange,
    reporter: Reporter,
    cfg: &RulesConfig,
) -> Verdict {
    let x = proposed.effective;
    if let Some(r) = row_rejection(proposed, reporter) {
        return Verdict::Reject(r);
    }
    // For another allowance only the latest row of a start date counts (it amends the others),
    // so a correction back to an earlier end date is applied, not skipped.
    let latest_other = recorded
        .iter()
        .filter(|c| c.kind == ChangeKind::OtherAllowance && c.effective == x)
        .max_by_key(|c| c.id);
    if let Some(dup) = duplicate_of(recorded, proposed, latest_other) {
        return Verdict::Duplicate { existing: dup.id };
    }
    if proposed.kind == ChangeKind::OtherAllowance {
        return check_other_allowance(appointments, proposed, reporter, latest_other);
    }
    check_per_appointment(appointments, recorded, proposed, cfg)
}

/// What is wrong with the row itself, before anything recorded is looked at: an end date
/// where none belongs or before the start, or a restoration reported by a unit.
fn row_rejection(proposed: &ProposedChange, reporter: Reporter) -> Option<Rejection> {
    let x = proposed.effective;
    if proposed.kind != ChangeKind::OtherAllowance && proposed.end.is_some() {
        return Some(Rejection::EndNotAllowed);
    }
    if let Some(end) = proposed.end {
        if end < x {
            return Some(Rejection::EndBeforeStart { effective: x, end });
        }
    }
    if proposed.kind == ChangeKind::Restored && reporter == Reporter::Unit {
        return Some(Rejection::RestoreFromUnit);
    }
    None
}

/// The recorded change the proposed one repeats: same type, date and end date (for another
/// allowance, the latest row of its start date).
fn duplicate_of<'a>(
    recorded: &'a [Change],
    proposed: &ProposedChange,
    latest_other: Option<&'a Change>,
) -> Option<&'a Change> {
    let x = proposed.effective;
    if proposed.kind == ChangeKind::OtherAllowance {
        latest_other.filter(|c| c.end == proposed.end)
    } else {
        recorded
            .iter()
            .find(|c| c.kind == proposed.kind && c.effective == x && c.end == proposed.end)
    }
}

/// An other-allowance period: person-wide, it must overlap a term, and a unit may not amend
/// the bureau's row of the same start date.
fn check_other_allowance(
    appointments: &[Appointment],
    proposed: &ProposedChange,
    reporter: Reporter,
    latest_other: Option<&Change>,
) -> Verdict {
    let x = proposed.effective;
    let overlaps = appointments
        .iter()
        .any(|a| a.term_end() >= x && proposed.end.is_none_or(|z| z >= a.term_start()));
    if !overlaps {
        return Verdict::Reject(Rejection::OutsideTerms {
            from: x,
            to: proposed
                .end
                .map(|d| d.to_string())
                .unwrap_or_else(|| "无结束日期".into()),
        });
    }
    if reporter == Reporter::Unit {
        if let Some(c) = latest_other.filter(|c| !c.by_unit) {
            return Verdict::Reject(Rejection::BureauRecord {
                effective: x,
                id: c.id,
            });
        }
    }
    Verdict::Apply {
        appointment_ids: Vec::new(),
        amends: latest_other.map(|c| c.id),
    }
}

/// Any other change: applied to the target appointments it passes the checks for, or
/// rejected with the first reason when it passes for none.
fn check_per_appointment(
    appointments: &[Appointment],
    recorded: &[Change],
    proposed: &ProposedChange,
    cfg: &RulesConfig,
) -> Verdict {
    let x = proposed.effective;
    let targets =
        match appointments_for(proposed.kind, x, proposed.title_no.as_deref(), appointments) {
            Ok(t) => t,
            Err(r) => return Verdict::Reject(r),
        };
    // The checks are per appointment: the row applies to those it passes for.
    let mut passed = Vec::new();
    let mut first_rejection = None;
    for appointment in targets {
        match check_for_appointment(appointment, recorded, proposed, cfg) {
            Ok(()) => passed.push(appointment.id),
            Err(r) => {
                first_rejection.get_or_insert(r);
            }
        }
    }
    match (passed.is_empty(), first_rejection) {
        (true, Some(r)) => Verdict::Reject(r),
        _ => Verdict::Apply {
            appointment_ids: passed,
            amends: None,
        },
    }
}

/// The checks of `docs/rules.md` §6 that are made per appointment.
fn check_for_appointment(
    appointment: &Appointment,
    recorded: &[Change],
    proposed: &ProposedChange,
    cfg: &RulesConfig,
) -> Result<(), Rejection> {
    let x = proposed.effective;
    if x < appointment.approval_date {
        return Err(Rejection::BeforeApproval {
            effective: x,
            approval: appointment.approval_date,
        });
    }
    let own: Vec<&Change> = recorded
        .iter()
        .filter(|c| c.kind != ChangeKind::OtherAllowance && c.applies_to(appointment.id))
        .collect();
    if proposed.kind != ChangeKind::RevokedFraud {
        if let Some(t) = own
            .iter()
            .filter(|c| c.kind.effect(cfg).terminates() && c.effective <= x)
            .min_by_key(|c| (c.effective, c.id))
        {
            return Err(Rejection::AfterTermination {
                date: t.effective,
                kind: t.kind,
                effective: x,
            });
        }
    }
    if proposed.kind == ChangeKind::Restored && !suspended_at(&own, x, cfg) {
        return Err(Rejection::NothingToRestore(x));
    }
    Ok(())
}

/// Which of a person's appointments a change of `kind` dated `x` concerns (`docs/rules.md` §5):
/// the only implementation, used by the ledger, the inbox and the sample data.
///
/// - 享受其他人才津贴 belongs to the person: every appointment.
/// - A revocation (违纪撤销, 弄虚作假撤销) concerns one title: the one its 称号批准文号 names; else
///   the one whose term holds `x`; else the latest approved on or before `x`.
/// - Every other change concerns the person: each appointment approved on or before `x` whose
///   term ends on or after `x`; when there is none, the latest approved on or before `x`.
///
/// A 称号批准文号 that names none of the person's appointments is refused, never guessed past.
/// No appointment approved on or before `x` is [`Rejection::BeforeApproval`]. Appointments are
/// returned in approval order.
pub fn appointments_for<'a>(
    kind: ChangeKind,
    x: NaiveDate,
    title_no: Option<&str>,
    appointments: &'a [Appointment],
) -> Result<Vec<&'a Appointment>, Rejection> {
    let mut by_date: Vec<&Appointment> = appointments.iter().collect();
    by_date.sort_by_key(|a| (a.approval_date, a.id));
    if kind == ChangeKind::OtherAllowance {
        return Ok(by_date);
    }
    let norm = |s: &str| s.split_whitespace().collect::<String>();
    let named = match title_no.map(norm).filter(|s| !s.is_empty()) {
        None => None,
        Some(no) => Some(
            by_date
                .iter()
                .copied()
                .find(|a| norm(&a.approval_no) == no)
                .ok_or(Rejection::UnknownTitle(no))?,
        ),
    };
    let latest_before = by_date.iter().copied().rfind(|a| a.approval_date <= x);
    let revocation = matches!(
        kind,
        ChangeKind::RevokedMisconduct | ChangeKind::RevokedFraud
    );
    let chosen: Vec<&Appointment> = if revocation {
        named
            .or_else(|| by_date.iter().copied().find(|a| a.term_holds(x)))
            .or(latest_before)
            .into_iter()
            .collect()
    } else {
        let running: Vec<&Appointment> = by_date
            .iter()
            .copied()
            .filter(|a| a.approval_date <= x && a.term_end() >= x)
            .collect();
        if running.is_empty() {
            latest_before.into_iter().collect()
        } else {
            running
        }
    };
    if chosen.is_empty() {
        let first = by_date.first().map(|a| a.approval_date).unwrap_or(x);
        return Err(Rejection::BeforeApproval {
            effective: x,
            approval: first,
        });
    }
    Ok(chosen)
}

/// Whether a suspension is in force at `x` among one appointment's changes.
pub fn suspended_at(changes: &[&Change], x: NaiveDate, cfg: &RulesConfig) -> bool {
    let mut ordered: Vec<&&Change> = changes.iter().filter(|c| c.effective <= x).collect();
    ordered.sort_by_key(|c| (c.effective, c.id));
    let mut suspended = false;
    for c in ordered {
        match c.kind.effect(cfg) {
            Effect::Suspension => suspended = true,
            Effect::Restoration => suspended = false,
            _ => {}
        }
    }
    suspended
}
