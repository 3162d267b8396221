//! `selection …`: the yearly selection round (issue 14), from the call for nominations to the
//! appointments. Each use case reads the ledger, asks the pure rules of
//! [`crate::rules::selection`] (stages, eligibility, objections, ranking) and records what they
//! allow; the public notice lists are written by [`crate::excel::selection_notice`], the
//! nominating bodies' and the experts' workbooks read by [`crate::excel::nominations`] and
//! [`crate::excel::scores`]. Reminders (a notice ending, a candidate waiting, the deadline
//! coming) are queued by the daily `remind` job through `reminder_notices`.

use super::error::{Class, JobError};
use super::import::ImportReport;
use super::notices::{addressee, cn_date, letter_values};
use super::session::Session;
use crate::config::Config;
use crate::excel::errors::{write_error_workbook_with, SheetToCopy};
use crate::excel::read::{CellProblem, InputLimits, Severity, Workbook};
use crate::excel::selection_notice::{to_pdf, write_notice, NoticeKind, NoticeList, NoticeRow};
use crate::input::NominationEntry;
use crate::mail::templates::render;
use crate::mail::{MailSettings, Notice};
use crate::rules::selection::{
    self as rules, check_objection, check_step, eligibility, list_size_warning, rank, Candidate,
    Finding, FindingKind, ObjectionOutcome, SelectionReminder, SelectionReminderConfig, Stage,
    Step,
};
use crate::rules::workdays::{Calendar, CalendarError};
use crate::store::roster::RosterProblem;
use crate::store::selection::{CandidateRecord, NewStep, RoundOpened, RoundRecord};
use crate::store::{Source, Store};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// `[selection]` of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectionSettings {
    /// About how many are selected a year (§4: about ten); a proposed list far from it warns.
    pub expected_per_year: usize,
    pub reminders: SelectionReminderConfig,
    /// Whom the public is told to send objections to; empty: `[mail] contact`, then the bureau.
    pub contact: String,
    /// The working-day calendar file; None: the calendar built into the program.
    pub calendar: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SelectionToml {
    #[serde(default = "default_expected")]
    expected_per_year: usize,
    #[serde(default = "default_waiting")]
    waiting_days: u32,
    #[serde(default = "default_deadline_days")]
    deadline_reminder_days: Vec<u32>,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    calendar: Option<PathBuf>,
}

fn default_expected() -> usize {
    10
}
fn default_waiting() -> u32 {
    SelectionReminderConfig::default().waiting_days
}
fn default_deadline_days() -> Vec<u32> {
    SelectionReminderConfig::default().deadline_days
}

impl SelectionSettings {
    /// Reads `[selection]` (every key optional); a relative calendar path is relative to the
    /// configuration's folder.
    pub fn from_config(cfg: &Config) -> Result<SelectionSettings, JobError> {
        let t: SelectionToml = match cfg.other.get("selection") {
            None => toml::from_str("").expect("defaults"),
            Some(v) => v.clone().try_into().map_err(|e: toml::de::Error| {
                JobError::usage(format!("configuration [selection]: {e}"))
            })?,
        };
        Ok(SelectionSettings {
            expected_per_year: t.expected_per_year,
            reminders: SelectionReminderConfig {
                waiting_days: t.waiting_days,
                deadline_days: t.deadline_reminder_days,
            },
            contact: t.contact,
            calendar: t.calendar.map(|p| cfg.base_dir.join(p)),
        })
    }

    /// The working-day calendar: the configured file, or the built-in one.
    pub fn calendar(&self) -> Result<Calendar, JobError> {
        let Some(path) = &self.calendar else {
            return Ok(Calendar::built_in().clone());
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            JobError::usage(format!(
                "cannot read the working-day calendar {} ([selection] calendar): {e}",
                path.display()
            ))
        })?;
        Calendar::parse(&text, &path.display().to_string())
            .map_err(|e| JobError::usage(e.to_string()))
    }

    /// Whom objections go to, as the public notice says it.
    pub fn objection_contact(&self, mail_contact: &str) -> String {
        [self.contact.trim(), mail_contact.trim()]
            .into_iter()
            .find(|c| !c.is_empty())
            .unwrap_or(super::notices::BUREAU)
            .to_string()
    }
}

/// The round a command means: `--year`, or the latest opened.
async fn round_of(store: &Store, year: Option<i32>) -> Result<RoundRecord, JobError> {
    let found = match year {
        Some(y) => store.round(y).await?,
        None => store.latest_round().await?,
    };
    found.ok_or_else(|| {
        let y = year.map(|y| y.to_string()).unwrap_or_else(|| "YYYY".into());
        JobError::usage(format!(
            "no selection round{}: open one first with `chieftech selection open --year {y} --deadline YYYY-MM-DD`",
            year.map(|y| format!(" for {y}")).unwrap_or_default()
        ))
    })
}

/// Opens the round of `year` (`selection open`): nominations reach the bureau by `deadline`;
/// `approval_by` (default 31 December) is the day eligibility checks a running term against.
pub async fn open(
    s: &Session,
    year: i32,
    deadline: NaiveDate,
    approval_by: Option<NaiveDate>,
    document: Option<&str>,
) -> Result<String, JobError> {
    let approval_by =
        approval_by.unwrap_or_else(|| NaiveDate::from_ymd_opt(year, 12, 31).expect("31 December"));
    if deadline.year() != year {
        return Err(JobError::usage(format!(
            "the deadline {deadline} is not in {year}: the round of a year takes nominations in that year"
        )));
    }
    if approval_by < deadline {
        return Err(JobError::usage(format!(
            "--approval-by {approval_by} is before the deadline {deadline}"
        )));
    }
    let opened = s
        .store
        .open_round(year, deadline, approval_by, document, &s.operator)
        .await?;
    Ok(match opened {
        RoundOpened::Opened => format!(
            "{year}年度首席技师评选已开启：申报截止{}，预计批准日{}（用于核对管理期）",
            cn_date(deadline),
            cn_date(approval_by)
        ),
        RoundOpened::AlreadyOpen => format!("{year}年度首席技师评选此前已开启，未作改动"),
    })
}

/// One candidate as `selection list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateView {
    pub number: i64,
    pub name: String,
    /// Masked (`3703**********1234`).
    pub id_number: String,
    pub nominator: String,
    pub unit: String,
    pub occupation: String,
    pub level: String,
    pub stage: &'static str,
    pub stage_code: &'static str,
    pub since: NaiveDate,
    pub findings: Vec<FindingView>,
    /// Mean score and rank, once scored.
    pub mean_score: Option<String>,
    pub rank: Option<u32>,
    pub experts: usize,
    pub objections: Vec<ObjectionView>,
    pub appointment_id: Option<i64>,
    pub has_bank_account: bool,
}

/// An eligibility finding.
#[derive(Debug, Clone, Serialize)]
pub struct FindingView {
    pub code: &'static str,
    /// disqualifying | flag | priority
    pub kind: &'static str,
    pub message: String,
}

/// An objection.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectionView {
    pub id: i64,
    pub stage: &'static str,
    pub received: NaiveDate,
    pub summary: String,
    /// open | upheld | dismissed
    pub state: &'static str,
    pub resolved_on: Option<NaiveDate>,
}

/// A round as `selection list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RoundView {
    pub year: i32,
    pub deadline: NaiveDate,
    pub approval_by: NaiveDate,
    pub candidates: Vec<CandidateView>,
    /// The proposed list's size against about ten a year, when far from it.
    pub warning: Option<String>,
}

fn finding_view(f: &Finding) -> FindingView {
    FindingView {
        code: f.code,
        kind: match f.kind {
            FindingKind::Disqualifying => "disqualifying",
            FindingKind::Flag => "flag",
            FindingKind::Priority => "priority",
        },
        message: f.message.clone(),
    }
}

/// The eligibility findings of a nomination, received on `received`, in `round`.
async fn findings_of(
    s: &Session,
    e: &NominationEntry,
    received: NaiveDate,
    round: &RoundRecord,
    units: &HashSet<String>,
    cal: &Calendar,
) -> Result<Result<Vec<Finding>, CalendarError>, JobError> {
    let facts = s.store.person_facts(e.id_number.as_str(), &s.rules).await?;
    let c = Candidate {
        id_number: &e.id_number,
        level: &e.level,
        unit_known: units.contains(e.unit.trim()),
        unit: &e.unit,
        terms: &facts.terms,
        revoked_for_fraud: facts.revoked_for_fraud,
        notice: (e.notice_from, e.notice_to),
        received,
    };
    Ok(
        eligibility(&c, round.deadline, round.approval_by, cal).map(|mut found| {
            if received > round.deadline {
                found.push(Finding {
                    code: "after-deadline",
                    kind: FindingKind::Flag,
                    message: format!(
                        "推荐材料于{}报送，晚于申报截止日{}，由区人社局决定是否受理",
                        cn_date(received),
                        cn_date(round.deadline)
                    ),
                });
            }
            found
        }),
    )
}

/// The round of `year` (or the latest) with every candidate's stage, findings, scores and
/// objections.
pub async fn list(s: &Session, year: Option<i32>) -> Result<RoundView, JobError> {
    let settings = SelectionSettings::from_config(&s.config)?;
    let cal = settings.calendar()?;
    let round = round_of(&s.store, year).await?;
    let units = s.store.unit_names().await?;
    let records = s.store.candidates(round.year).await?;
    let scores: Vec<(i64, rust_decimal::Decimal)> = records
        .iter()
        .flat_map(|c| c.scores.iter().map(move |(_, x)| (c.id, *x)))
        .collect();
    let ranked = rank(&scores);
    let mut candidates = Vec::new();
    for c in &records {
        let findings = findings_of(s, &c.entry, c.received, &round, &units, &cal)
            .await?
            .map(|f| f.iter().map(finding_view).collect())
            .unwrap_or_else(|e| {
                vec![FindingView {
                    code: "calendar",
                    kind: "disqualifying",
                    message: e.to_string(),
                }]
            });
        let r = ranked.iter().find(|r| r.candidate == c.id);
        candidates.push(candidate_view(c, findings, r));
    }
    let proposed = proposed_count(&records);
    Ok(RoundView {
        year: round.year,
        deadline: round.deadline,
        approval_by: round.approval_by,
        candidates,
        warning: (proposed > 0)
            .then(|| list_size_warning(proposed, settings.expected_per_year))
            .flatten(),
    })
}

/// A candidate as `selection list` shows them, with their findings and place in the ranking.
fn candidate_view(
    c: &CandidateRecord,
    findings: Vec<FindingView>,
    ranked: Option<&rules::Ranked>,
) -> CandidateView {
    CandidateView {
        number: c.number,
        name: c.entry.name.clone(),
        id_number: c.entry.id_number.masked(),
        nominator: c.entry.nominator.clone(),
        unit: c.entry.unit.clone(),
        occupation: c.entry.occupation.clone(),
        level: c.entry.level.clone(),
        stage: c.stage().label(),
        stage_code: c.stage().code(),
        since: c.since(),
        findings,
        mean_score: ranked.map(|r| format!("{:.2}", r.mean)),
        rank: ranked.map(|r| r.rank),
        experts: c.scores.len(),
        objections: c.objections.iter().map(objection_view).collect(),
        appointment_id: c.appointment_id,
        has_bank_account: c
            .entry
            .bank_account
            .as_deref()
            .is_some_and(|a| !a.trim().is_empty()),
    }
}

fn objection_view(o: &crate::store::selection::ObjectionRecord) -> ObjectionView {
    ObjectionView {
        id: o.id,
        stage: o.stage.label(),
        received: o.received,
        summary: o.summary.clone(),
        state: match o.resolution {
            None => "open",
            Some((_, ObjectionOutcome::Upheld, _)) => "upheld",
            Some((_, ObjectionOutcome::Dismissed, _)) => "dismissed",
        },
        resolved_on: o.resolution.as_ref().map(|r| r.0),
    }
}

/// Candidates on the proposed list: at 考察公示 or later and not withdrawn.
fn proposed_count(records: &[CandidateRecord]) -> usize {
    records
        .iter()
        .filter(|c| {
            c.steps
                .iter()
                .any(|s| s.step.stage == Stage::InspectionNotice)
                && c.stage() != Stage::Withdrawn
        })
        .count()
}

impl fmt::Display for RoundView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}年度首席技师评选：申报截止{}，{}名候选人",
            self.year,
            cn_date(self.deadline),
            self.candidates.len()
        )?;
        for c in &self.candidates {
            write!(
                f,
                "{:>3}  {}（{}）  {}  {}  {}  推荐单位：{}  阶段：{}（{}起）",
                c.number,
                c.name,
                c.id_number,
                c.unit,
                c.occupation,
                c.level,
                c.nominator,
                c.stage,
                cn_date(c.since)
            )?;
            if let (Some(m), Some(r)) = (&c.mean_score, c.rank) {
                write!(f, "  评审均分{m}（{}位专家），第{r}名", c.experts)?;
            }
            if let Some(a) = c.appointment_id {
                write!(f, "  已批准（称号记录{a}）")?;
            } else if !c.has_bank_account {
                write!(f, "  未填银行账号")?;
            }
            writeln!(f)?;
            for x in &c.findings {
                let tag = match x.kind {
                    "disqualifying" => "不符合",
                    "flag" => "提示",
                    _ => "优先",
                };
                writeln!(f, "       [{tag}] {}", x.message)?;
            }
            for o in &c.objections {
                let state = match o.state {
                    "open" => "未处理".to_string(),
                    "upheld" => {
                        format!("属实（{}）", o.resolved_on.map(cn_date).unwrap_or_default())
                    }
                    _ => format!(
                        "不属实（{}）",
                        o.resolved_on.map(cn_date).unwrap_or_default()
                    ),
                };
                writeln!(
                    f,
                    "       异议{}：{}收到（{}期间）：{}；{state}",
                    o.id,
                    cn_date(o.received),
                    o.stage,
                    o.summary
                )?;
            }
        }
        if let Some(w) = &self.warning {
            writeln!(f, "注意：{w}")?;
        }
        Ok(())
    }
}

/// Imports nominating bodies' workbooks (`selection import FILE…`), each file all or nothing:
/// cell problems and a date the calendar does not hold refuse the file with an error workbook
/// beside it. Every candidate's eligibility findings are reported; none refuses the file.
pub async fn import(
    s: &Session,
    year: Option<i32>,
    files: &[PathBuf],
) -> Result<ImportReport, JobError> {
    let settings = SelectionSettings::from_config(&s.config)?;
    let cal = settings.calendar()?;
    let limits = InputLimits::from_config(&s.config).map_err(|e| JobError::new(Class::Usage, e))?;
    let round = round_of(&s.store, year).await?;
    let mut report = ImportReport::default();
    for path in files {
        import_file(s, &round, path, &cal, &limits, &mut report).await?;
    }
    Ok(report)
}

async fn import_file(
    s: &Session,
    round: &RoundRecord,
    path: &Path,
    cal: &Calendar,
    limits: &InputLimits,
    report: &mut ImportReport,
) -> Result<(), JobError> {
    use crate::excel::nominations::{read_nominations, NOMINATION_COLUMNS};
    let label = path.display().to_string();
    let read =
        Workbook::open_with(path, limits).and_then(|mut wb| read_nominations(&mut wb, &label));
    let mut read = match read {
        Ok(r) => r,
        Err(e) => {
            report.lines.push(format!("{label}：无法读取：{e}"));
            report.refused = true;
            return Ok(());
        }
    };
    let findings = eligibility_of_rows(s, round, cal, &label, &mut read).await?;
    if !read.has_errors() {
        let source = file_source(path, "nominations-file", &s.operator)?;
        match s
            .store
            .import_nominations(round.year, &source, &read.entries, s.today)
            .await?
        {
            Ok(o) if o.already_imported.is_some() => {
                report.lines.push(format!(
                    "{label}：此文件已于{}导入，未重复导入",
                    o.already_imported.unwrap_or_default()
                ));
                return Ok(());
            }
            Ok(o) => {
                report.lines.push(format!(
                    "{label}：{}年度评选导入推荐人选：新增{}人，更新{}人，未变{}人",
                    round.year, o.added, o.updated, o.unchanged
                ));
                for (e, found) in &findings {
                    report.lines.push(eligibility_line(e, found));
                }
                report.problems.extend(read.problems);
                return Ok(());
            }
            Err(problems) => read
                .problems
                .extend(ledger_problems(&label, &read.layout, problems)),
        }
    }
    refuse_file(
        path,
        "推荐汇总表",
        &read.layout,
        &NOMINATION_COLUMNS,
        read.problems,
        limits,
        report,
    )
}

/// The eligibility findings of every row read; a notice date the calendar does not hold
/// becomes a problem of the row's 推荐公示起止日期 (the file is refused, nothing guessed).
async fn eligibility_of_rows(
    s: &Session,
    round: &RoundRecord,
    cal: &Calendar,
    label: &str,
    read: &mut crate::excel::nominations::NominationsRead,
) -> Result<Vec<(NominationEntry, Vec<Finding>)>, JobError> {
    let units = s.store.unit_names().await?;
    let mut findings = Vec::new();
    for e in &read.entries {
        let received = e.received.unwrap_or(s.today);
        match findings_of(s, e, received, round, &units, cal).await? {
            Ok(f) => findings.push((e.clone(), f)),
            Err(err) => read.problems.push(CellProblem {
                file: label.to_string(),
                sheet: read.layout.as_ref().map(|l| l.sheet.clone()),
                row: e.row,
                column: Some("推荐公示起止日期".into()),
                message: err.to_string(),
                severity: Severity::Error,
            }),
        }
    }
    Ok(findings)
}

/// The source of an input file: its name and content hash (the same file is taken in once).
fn file_source(path: &Path, kind: &str, operator: &str) -> Result<Source, JobError> {
    let label = path.display().to_string();
    let content =
        std::fs::read(path).map_err(|e| JobError::outside(format!("cannot read {label}: {e}")))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or(label);
    Ok(Source::file(kind, &file_name, &content, operator))
}

/// Refuses a whole file (`what`: 推荐汇总表, 评审成绩): its problems go to the report and to an
/// error workbook beside it, which the report names.
fn refuse_file(
    path: &Path,
    what: &str,
    layout: &Option<crate::excel::roster::SheetLayout>,
    columns: &[crate::excel::read::Column],
    problems: Vec<CellProblem>,
    limits: &InputLimits,
    report: &mut ImportReport,
) -> Result<(), JobError> {
    let sheets: Vec<SheetToCopy<'_>> = layout
        .iter()
        .map(|l| SheetToCopy { layout: l, columns })
        .collect();
    let n = problems.iter().filter(|p| p.is_error()).count();
    let written = write_error_workbook_with(path, &sheets, &problems, limits)
        .map_err(|e| JobError::outside(e.to_string()))?;
    report.lines.push(format!(
        "{}：{what}未导入（整个文件不导入）：{n}处错误，已写出错误说明工作簿{}",
        path.display(),
        written.display()
    ));
    report.error_workbooks.push(written);
    report.problems.extend(problems);
    report.refused = true;
    Ok(())
}

/// The problems the ledger found, placed in the file's sheet.
fn ledger_problems(
    label: &str,
    layout: &Option<crate::excel::roster::SheetLayout>,
    problems: Vec<RosterProblem>,
) -> Vec<CellProblem> {
    problems
        .into_iter()
        .map(|p| CellProblem {
            file: label.to_string(),
            sheet: layout.as_ref().map(|l| l.sheet.clone()),
            row: p.row,
            column: Some(p.column.to_string()),
            message: p.message,
            severity: Severity::Error,
        })
        .collect()
}

/// A candidate's line of the import report: eligible, or each finding.
fn eligibility_line(e: &NominationEntry, found: &[Finding]) -> String {
    let who = format!("  {}（{}，{}）", e.name, e.id_number.masked(), e.unit);
    if found.is_empty() {
        return format!("{who}：资格初审未发现问题");
    }
    let parts: Vec<String> = found
        .iter()
        .map(|f| {
            let tag = match f.kind {
                FindingKind::Disqualifying => "不符合",
                FindingKind::Flag => "提示",
                FindingKind::Priority => "优先",
            };
            format!("[{tag}] {}", f.message)
        })
        .collect();
    format!("{who}：{}", parts.join("；"))
}

/// Who a command names: a candidate's 编号 in the round, or the full ID number.
fn pick<'a>(
    records: &'a [CandidateRecord],
    who: &str,
    year: i32,
) -> Result<&'a CandidateRecord, JobError> {
    let w = who.trim();
    let found = match w.parse::<i64>() {
        Ok(n) if w.len() < 15 => records.iter().find(|c| c.number == n),
        _ => records
            .iter()
            .find(|c| c.entry.id_number.as_str().eq_ignore_ascii_case(w)),
    };
    found.ok_or_else(|| {
        JobError::usage(format!(
            "{year}年度评选中没有候选人“{}”：请用 `chieftech selection list` 中的编号或完整身份证号码",
            crate::rules::id_number::mask(w)
        ))
    })
}

/// The candidates a step names: `--all` (every candidate at the stage before; never for 退出)
/// or each named one.
fn chosen<'a>(
    records: &'a [CandidateRecord],
    req: &StepRequest,
    year: i32,
) -> Result<Vec<&'a CandidateRecord>, JobError> {
    if req.stage == Stage::Withdrawn && req.all {
        return Err(JobError::usage(
            "退出 is recorded for named candidates only: give their 编号 or ID numbers",
        ));
    }
    let chosen: Vec<&CandidateRecord> = if req.all {
        records
            .iter()
            .filter(|c| c.stage().next() == Some(req.stage))
            .collect()
    } else if req.who.is_empty() {
        return Err(JobError::usage(
            "name the candidates (编号 or ID numbers) or give --all",
        ));
    } else {
        req.who
            .iter()
            .map(|w| pick(records, w, year))
            .collect::<Result<_, _>>()?
    };
    if chosen.is_empty() {
        return Err(JobError::usage(format!(
            "no candidate of {year} is at the stage before {}",
            req.stage.label()
        )));
    }
    Ok(chosen)
}

/// What `selection step` asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRequest {
    pub year: Option<i32>,
    pub stage: Stage,
    pub date: NaiveDate,
    pub document: Option<String>,
    pub reason: Option<String>,
    /// 编号 or ID numbers; empty with `all`: every candidate at the stage before.
    pub who: Vec<String>,
    pub all: bool,
}

/// What `selection step` did.
#[derive(Debug, Clone, Default)]
pub struct StepReport {
    pub lines: Vec<String>,
}

impl fmt::Display for StepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in &self.lines {
            writeln!(f, "{l}")?;
        }
        Ok(())
    }
}

/// Moves candidates to a stage (`selection step`), all or none, each step checked by the rules.
/// Opening a notice (推荐公示, 考察公示) writes its public list (and a PDF where LibreOffice is
/// installed) under `[paths] reports/<year>/selection/`.
pub async fn step(s: &Session, req: &StepRequest) -> Result<StepReport, JobError> {
    let settings = SelectionSettings::from_config(&s.config)?;
    let cal = settings.calendar()?;
    let round = round_of(&s.store, req.year).await?;
    let records = s.store.candidates(round.year).await?;
    let chosen = chosen(&records, req, round.year)?;
    let step = Step {
        stage: req.stage,
        date: req.date,
        reason: req.reason.clone(),
    };
    let steps: Vec<NewStep> = chosen
        .iter()
        .map(|c| NewStep {
            candidate_id: c.id,
            step: step.clone(),
            document: req.document.clone(),
        })
        .collect();
    let check = |c: &CandidateRecord, next: &Step| {
        check_step(&c.rule_steps(), &c.rule_objections(), next, &cal).map_err(|e| e.to_string())
    };
    let outcome = s
        .store
        .add_steps(round.year, &steps, "selection step", &s.operator, &check)
        .await?
        .map_err(|refusals| JobError::refused(refusals.join("\n")))?;
    let mut report = StepReport::default();
    report.lines.push(format!(
        "{}年度评选：{}人进入{}阶段（{}）{}",
        round.year,
        outcome.added,
        req.stage.label(),
        cn_date(req.date),
        if outcome.unchanged > 0 {
            format!("，{}人此前已记录，未重复记录", outcome.unchanged)
        } else {
            String::new()
        }
    ));
    if req.stage != Stage::Withdrawn {
        report
            .lines
            .extend(disqualified_lines(s, &round, &chosen, &cal).await?);
    }
    if req.stage.is_notice() {
        report
            .lines
            .extend(write_stage_notice(s, &settings, &cal, round.year, req.stage, req.date).await?);
    }
    if req.stage == Stage::InspectionNotice {
        let records = s.store.candidates(round.year).await?;
        if let Some(w) = list_size_warning(proposed_count(&records), settings.expected_per_year) {
            report.lines.push(format!("注意：{w}"));
        }
    }
    Ok(report)
}

/// A warning for each candidate moved on although the eligibility check found them not
/// eligible: the bureau decides, but never without being told.
async fn disqualified_lines(
    s: &Session,
    round: &RoundRecord,
    moved: &[&CandidateRecord],
    cal: &Calendar,
) -> Result<Vec<String>, JobError> {
    let units = s.store.unit_names().await?;
    let mut out = Vec::new();
    for c in moved {
        let found = findings_of(s, &c.entry, c.received, round, &units, cal)
            .await?
            .unwrap_or_default();
        let bad: Vec<&str> = found
            .iter()
            .filter(|f| f.kind == FindingKind::Disqualifying)
            .map(|f| f.message.as_str())
            .collect();
        if !bad.is_empty() {
            out.push(format!(
                "注意：编号{} {} 资格初审不符合条件（{}）；如确不符合，请记录退出：chieftech selection step --stage 退出 --reason 原因 {}",
                c.number,
                c.entry.name,
                bad.join("；"),
                c.number
            ));
        }
    }
    Ok(out)
}

/// Writes the public list of the notice of `stage` opened on `date`: every candidate who
/// entered the stage that day. Returns the lines saying where.
async fn write_stage_notice(
    s: &Session,
    settings: &SelectionSettings,
    cal: &Calendar,
    year: i32,
    stage: Stage,
    date: NaiveDate,
) -> Result<Vec<String>, JobError> {
    let records = s.store.candidates(year).await?;
    let first = cal
        .first_working_day_from(date)
        .map_err(|e| JobError::usage(e.to_string()))?;
    let last = cal
        .notice_end(date, rules::NOTICE_WORKING_DAYS)
        .map_err(|e| JobError::usage(e.to_string()))?;
    let rows = notice_rows(&records, stage, date);
    let mail = MailSettings::from_config(&s.config)?;
    let (kind, slug) = if stage == Stage::NominationNotice {
        (NoticeKind::Nominated, "nominated")
    } else {
        (NoticeKind::Proposed, "proposed")
    };
    let list = NoticeList {
        kind,
        year,
        program: s.config.export.program.trim_end_matches("津贴").to_string(),
        organization: s.config.export.organization.clone(),
        period: (first, last),
        contact: settings.objection_contact(&mail.contact),
        published: date,
        rows,
    };
    let dir = s
        .config
        .paths
        .reports
        .join(year.to_string())
        .join("selection");
    std::fs::create_dir_all(&dir)
        .map_err(|e| JobError::outside(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(format!("notice-{slug}-{year}-{date}.xlsx"));
    write_notice(&path, &list).map_err(|e| JobError::outside(e.to_string()))?;
    let mut lines = vec![format!(
        "公示期{}至{}（{}个工作日）；公示名单（{}人）：{}",
        cn_date(first),
        cn_date(last),
        rules::NOTICE_WORKING_DAYS,
        list.rows.len(),
        path.display()
    )];
    lines.push(pdf_line(&path));
    Ok(lines)
}

/// Everyone who entered the notice `stage` on `date`, as the public list shows them.
fn notice_rows(records: &[CandidateRecord], stage: Stage, date: NaiveDate) -> Vec<NoticeRow> {
    records
        .iter()
        .filter(|c| {
            c.steps
                .iter()
                .any(|x| x.step.stage == stage && x.step.date == date)
        })
        .map(|c| NoticeRow {
            name: c.entry.name.clone(),
            unit: c.entry.unit.clone(),
            occupation: c.entry.occupation.clone(),
            level: c.entry.level.clone(),
            nominator: c.entry.nominator.clone(),
        })
        .collect()
}

/// Prints a notice workbook to PDF where LibreOffice is installed, and says what happened.
fn pdf_line(path: &Path) -> String {
    match to_pdf(path) {
        Ok(Some(pdf)) => format!("PDF：{}", pdf.display()),
        Ok(None) => "未安装LibreOffice，未生成PDF（工作簿可直接发布或另存为PDF）".into(),
        Err(e) => format!("PDF未生成：{e}"),
    }
}

/// Records an objection (`selection objection`) received on `received` during the candidate's
/// notice; it holds the candidate at that stage until resolved.
pub async fn objection(
    s: &Session,
    year: Option<i32>,
    who: &str,
    received: NaiveDate,
    summary: &str,
    raised_by: Option<&str>,
) -> Result<String, JobError> {
    if summary.trim().is_empty() {
        return Err(JobError::usage(
            "an objection needs its content (--summary TEXT)",
        ));
    }
    let settings = SelectionSettings::from_config(&s.config)?;
    let cal = settings.calendar()?;
    let round = round_of(&s.store, year).await?;
    let records = s.store.candidates(round.year).await?;
    let c = pick(&records, who, round.year)?;
    let check = |c: &CandidateRecord| {
        check_objection(&c.rule_steps(), received, &cal).map_err(|e| e.to_string())
    };
    let (id, new) = s
        .store
        .add_objection(
            round.year,
            c.id,
            received,
            summary,
            raised_by,
            &s.operator,
            &check,
        )
        .await?
        .map_err(JobError::refused)?;
    Ok(if new {
        format!(
            "已登记异议{id}：编号{} {}，{}收到。异议处理完毕前，该候选人停留在{}阶段；处理：`chieftech selection resolve {id} --outcome upheld|dismissed --date YYYY-MM-DD`",
            c.number,
            c.entry.name,
            cn_date(received),
            c.stage().label()
        )
    } else {
        format!("异议{id}此前已登记，未重复登记")
    })
}

/// Resolves an objection (`selection resolve`): upheld, the candidate withdraws.
pub async fn resolve(
    s: &Session,
    objection_id: i64,
    outcome: ObjectionOutcome,
    date: NaiveDate,
    note: Option<&str>,
) -> Result<String, JobError> {
    let done = s
        .store
        .resolve_objection(objection_id, date, outcome, note, &s.operator)
        .await?
        .map_err(JobError::refused)?;
    Ok(match (done, outcome) {
        (false, _) => format!(
            "异议{objection_id}此前已按{}处理，未作改动",
            outcome.label()
        ),
        (true, ObjectionOutcome::Upheld) => {
            format!(
                "异议{objection_id}经核实属实：该候选人已退出评选（{}）",
                cn_date(date)
            )
        }
        (true, ObjectionOutcome::Dismissed) => format!(
            "异议{objection_id}经核实不属实：该候选人可进入下一阶段（{}）",
            cn_date(date)
        ),
    })
}

/// Imports expert scores (`selection scores FILE`), all or nothing, and returns the ranked list.
pub async fn scores(
    s: &Session,
    year: Option<i32>,
    path: &Path,
) -> Result<(ImportReport, Option<RoundView>), JobError> {
    use crate::excel::scores::{read_scores, SCORE_COLUMNS};
    let limits = InputLimits::from_config(&s.config).map_err(|e| JobError::new(Class::Usage, e))?;
    let round = round_of(&s.store, year).await?;
    let label = path.display().to_string();
    let mut report = ImportReport::default();
    let mut read =
        match Workbook::open_with(path, &limits).and_then(|mut wb| read_scores(&mut wb, &label)) {
            Ok(r) => r,
            Err(e) => {
                report.lines.push(format!("{label}：无法读取：{e}"));
                report.refused = true;
                return Ok((report, None));
            }
        };
    if !read.has_errors() {
        let source = file_source(path, "scores-file", &s.operator)?;
        match s
            .store
            .import_scores(round.year, &source, &read.entries)
            .await?
        {
            Ok(o) => {
                report.lines.push(match o.already_imported {
                    Some(at) => format!("{label}：此文件已于{at}导入，未重复导入"),
                    None => format!(
                        "{label}：导入评审成绩{}条（{}条此前已录入）",
                        o.added, o.unchanged
                    ),
                });
                report.problems.extend(read.problems);
                let view = list(s, Some(round.year)).await?;
                return Ok((report, Some(view)));
            }
            Err(problems) => read
                .problems
                .extend(ledger_problems(&label, &read.layout, problems)),
        }
    }
    refuse_file(
        path,
        "评审成绩",
        &read.layout,
        &SCORE_COLUMNS,
        read.problems,
        &limits,
        &mut report,
    )?;
    Ok((report, None))
}

/// Approves the round (`selection approve`): every candidate at 考察 becomes an appointment
/// approved on `date` under `document`, exactly as a roster row would, and pays in the next run.
/// Running it again creates nothing.
pub async fn approve(
    s: &Session,
    year: i32,
    date: NaiveDate,
    document: &str,
) -> Result<String, JobError> {
    if document.trim().is_empty() {
        return Err(JobError::usage(
            "an approval needs its document number (--document 文号)",
        ));
    }
    let settings = SelectionSettings::from_config(&s.config)?;
    let cal = settings.calendar()?;
    round_of(&s.store, Some(year)).await?;
    let check = |c: &CandidateRecord, next: &Step| {
        check_step(&c.rule_steps(), &c.rule_objections(), next, &cal).map_err(|e| e.to_string())
    };
    let outcome = s
        .store
        .approve_round(year, date, document.trim(), &s.operator, &check)
        .await?
        .map_err(|refusals| {
            JobError::refused(format!(
                "{year}年度评选未批准（全部不批准）：\n{}",
                refusals.join("\n")
            ))
        })?;
    let records = s.store.candidates(year).await?;
    let mut lines = Vec::new();
    if outcome.approved.is_empty() {
        lines.push(format!(
            "{year}年度评选没有处于考察阶段的候选人：未新增称号（此前已批准{}人）",
            outcome.already
        ));
    } else {
        lines.push(format!(
            "{year}年度评选批准{}人（{}，{}），已记入名册，自批准次月起计发津贴：",
            outcome.approved.len(),
            document.trim(),
            cn_date(date)
        ));
        for (cid, aid) in &outcome.approved {
            if let Some(c) = records.iter().find(|c| c.id == *cid) {
                lines.push(format!(
                    "  编号{} {}（{}），{}，称号记录{aid}",
                    c.number,
                    c.entry.name,
                    c.entry.id_number.masked(),
                    c.entry.unit
                ));
            }
        }
        if outcome.already > 0 {
            lines.push(format!("此前已批准{}人，未重复记录", outcome.already));
        }
    }
    Ok(lines.join("\n"))
}

/// The selection reminders due on `day`, as letters: a notice ending (to the bureau), a
/// candidate waiting at a stage too long (to the bureau), the nomination deadline coming (to
/// each unit that has not nominated). Keys make each letter once.
pub(crate) async fn reminder_notices(
    conn: &mut sqlx::AnyConnection,
    cfg: &Config,
    day: NaiveDate,
    units: &BTreeMap<String, Option<String>>,
    mail: &MailSettings,
) -> Result<Vec<Notice>, JobError> {
    // Rounds of this year and the last (a round's approval may run into the next year); the
    // calendar is read only when there is one, so a configuration without selection never
    // needs it.
    let rounds: Vec<RoundRecord> = crate::store::selection::rounds_in(conn)
        .await?
        .into_iter()
        .filter(|r| r.year >= day.year() - 1 && r.year <= day.year())
        .collect();
    if rounds.is_empty() {
        return Ok(Vec::new());
    }
    let settings = SelectionSettings::from_config(cfg)?;
    let cal = settings.calendar()?;
    let mut out = Vec::new();
    for round in rounds {
        let records = crate::store::selection::load_candidates(conn, round.year).await?;
        let histories: Vec<(i64, Vec<Step>)> =
            records.iter().map(|c| (c.id, c.rule_steps())).collect();
        let due = rules::due_reminders(day, round.deadline, &histories, &settings.reminders, &cal);
        for r in due {
            out.extend(reminder_letters(
                &r, &round, &records, day, units, mail, &cal,
            )?);
        }
    }
    Ok(out)
}

fn reminder_letters(
    r: &SelectionReminder,
    round: &RoundRecord,
    records: &[CandidateRecord],
    day: NaiveDate,
    units: &BTreeMap<String, Option<String>>,
    mail: &MailSettings,
    cal: &Calendar,
) -> Result<Vec<Notice>, JobError> {
    let mut v = letter_values(mail, day);
    v.insert("year", round.year.to_string());
    let key = r.key(round.year);
    let name = |id: i64| {
        records
            .iter()
            .find(|c| c.id == id)
            .map(|c| format!("  编号{} {}（{}）", c.number, c.entry.name, c.entry.unit))
            .unwrap_or_default()
    };
    let bureau =
        |template: &str, v: &BTreeMap<&'static str, String>| bureau_letter(mail, template, v, &key);
    match r {
        SelectionReminder::NoticeEnding {
            stage,
            opened,
            end,
            candidates,
        } => {
            v.insert("stage", stage.label().to_string());
            v.insert(
                "from",
                cn_date(cal.first_working_day_from(*opened).unwrap_or(*opened)),
            );
            v.insert("end", cn_date(*end));
            v.insert(
                "people",
                candidates
                    .iter()
                    .map(|c| name(*c))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
            Ok(vec![bureau("selection_notice_end", &v)?])
        }
        SelectionReminder::Waiting {
            candidate,
            stage,
            since,
            days,
        } => {
            v.insert("stage", stage.label().to_string());
            v.insert("since", cn_date(*since));
            v.insert("days", days.to_string());
            v.insert("people", name(*candidate));
            Ok(vec![bureau("selection_waiting", &v)?])
        }
        SelectionReminder::DeadlineApproaching { deadline, days } => {
            v.insert("deadline", cn_date(*deadline));
            v.insert("days", days.to_string());
            deadline_letters(v, &key, records, units, mail)
        }
    }
}

/// A reminder's letter to the bureau, keyed `<key>:bureau`.
fn bureau_letter(
    mail: &MailSettings,
    template: &str,
    v: &BTreeMap<&'static str, String>,
    key: &str,
) -> Result<Notice, JobError> {
    let rendered =
        render(&mail.templates, template, v).map_err(|e| JobError::usage(e.to_string()))?;
    Ok(Notice {
        key: format!("{key}:bureau"),
        to: vec![mail.bureau.clone()],
        subject: rendered.subject,
        body: rendered.body,
        attachments: vec![],
    })
}

/// The deadline's letters: one to every unit with no candidate (as 工作单位 or 推荐单位) in the
/// round, keyed `<key>:unit:<unit>`.
fn deadline_letters(
    mut v: BTreeMap<&'static str, String>,
    key: &str,
    records: &[CandidateRecord],
    units: &BTreeMap<String, Option<String>>,
    mail: &MailSettings,
) -> Result<Vec<Notice>, JobError> {
    let nominated: HashSet<&str> = records
        .iter()
        .flat_map(|c| [c.entry.unit.trim(), c.entry.nominator.trim()])
        .collect();
    let mut out = Vec::new();
    for unit in units.keys().filter(|u| !nominated.contains(u.as_str())) {
        let addr = addressee(unit, units.get(unit).cloned().flatten().as_deref(), mail);
        v.insert("unit", unit.clone());
        v.insert("recipient", addr.greeting.clone());
        v.insert("forward_note", addr.forward_note.clone());
        v.insert("you", addr.you.clone());
        let rendered = render(&mail.templates, "selection_deadline", &v)
            .map_err(|e| JobError::usage(e.to_string()))?;
        out.push(Notice {
            key: format!("{key}:unit:{unit}"),
            to: vec![addr.to],
            subject: rendered.subject,
            body: rendered.body,
            attachments: vec![],
        });
    }
    Ok(out)
}

/// One candidate's whole record (`selection show`): the nomination, every step with its date,
/// document, source and operator, every objection, every score.
pub async fn show(s: &Session, year: Option<i32>, who: &str) -> Result<String, JobError> {
    let round = round_of(&s.store, year).await?;
    let records = s.store.candidates(round.year).await?;
    let c = pick(&records, who, round.year)?;
    let e = &c.entry;
    let mut out = vec![
        format!(
            "{}年度评选 编号{}：{}（{}），{}，{}，{}",
            round.year,
            c.number,
            e.name,
            e.id_number.masked(),
            e.unit,
            e.occupation,
            e.level
        ),
        format!(
            "推荐单位：{}；证书编号：{}；推荐公示：{}至{}；报送：{}",
            e.nominator,
            e.certificate_no,
            cn_date(e.notice_from),
            cn_date(e.notice_to),
            cn_date(c.received)
        ),
        format!("主要业绩：{}", e.achievements),
        "经过：".to_string(),
    ];
    for r in &c.steps {
        out.push(format!(
            "  {}  {}{}{}  （{}，{}，记录于{}）",
            cn_date(r.step.date),
            r.step.stage.label(),
            r.document
                .as_deref()
                .map(|d| format!("  {d}"))
                .unwrap_or_default(),
            r.step
                .reason
                .as_deref()
                .map(|d| format!("  原因：{d}"))
                .unwrap_or_default(),
            r.source,
            r.operator,
            r.recorded_at
        ));
    }
    out.extend(c.objections.iter().map(objection_line));
    for (expert, score) in &c.scores {
        out.push(format!("  评审：{expert} {score}"));
    }
    if let Some(a) = c.appointment_id {
        out.push(format!(
            "  已批准：称号记录{a}（名册中可查，`chieftech explain` 逐月说明）"
        ));
    }
    Ok(out.join("\n"))
}

/// An objection's line of `selection show`.
fn objection_line(o: &crate::store::selection::ObjectionRecord) -> String {
    let state = match &o.resolution {
        None => "未处理".to_string(),
        Some((d, outcome, note)) => format!(
            "{}于{}{}",
            outcome.label(),
            cn_date(*d),
            note.as_deref()
                .map(|n| format!("（{n}）"))
                .unwrap_or_default()
        ),
    };
    format!(
        "  异议{}：{}收到（{}期间{}）：{}；{state}",
        o.id,
        cn_date(o.received),
        o.stage.label(),
        o.raised_by
            .as_deref()
            .map(|r| format!("，{r}"))
            .unwrap_or_default(),
        o.summary
    )
}
