//! The notices a payment run causes: each unit's amounts, recovery notices (追缴通知), the
//! bureau's warning while terms outlive the policy, and the finance office's notice after
//! export. ID numbers are masked in every message.

use crate::mail::templates::{render, TemplateError};
use crate::mail::{MailSettings, Notice};
use crate::rules::id_number::{mask, person_ref};
use crate::rules::money::{capitals, fen_grouped};
use crate::rules::LineKind;
use crate::store::RunView;
use std::collections::{BTreeMap, HashMap};

/// Unit name → registered e-mail address.
pub type UnitEmails = HashMap<String, String>;

/// Builds the notices of an approved run. Units without a registered address are reported
/// to the bureau instead (the notice goes to the bureau with the unit named).
pub fn run_notices(
    view: &RunView,
    reasons: &HashMap<String, String>,
    units: &UnitEmails,
    settings: &MailSettings,
    policy_last_day: Option<chrono::NaiveDate>,
    date: chrono::NaiveDate,
) -> Result<Vec<Notice>, TemplateError> {
    let mut out = Vec::new();
    let (year, run) = (view.year, view.seq);
    // Per unit: its technicians' amounts.
    let mut by_unit: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut unit_totals: BTreeMap<String, i64> = BTreeMap::new();
    for p in &view.people {
        let unit = p.items.last().map(|i| i.unit.clone()).unwrap_or_default();
        let line = format!(
            "  {}  {}  应发 {} 元{}",
            p.name,
            mask(&p.id_number),
            fen_grouped(p.net.bank),
            if p.net.recovery < 0 {
                format!("，应追回 {} 元（另行通知）", fen_grouped(-p.net.recovery))
            } else {
                String::new()
            }
        );
        by_unit.entry(unit.clone()).or_default().push(line);
        *unit_totals.entry(unit).or_default() += p.net.bank;
    }
    for (unit, lines) in &by_unit {
        let mut v = BTreeMap::new();
        v.insert("year", year.to_string());
        v.insert("run", run.to_string());
        v.insert("unit", unit.clone());
        v.insert("people", lines.join("\n"));
        v.insert("total", fen_grouped(unit_totals[unit]));
        v.insert("date", date.to_string());
        let r = render(&settings.templates, "unit_run", &v)?;
        out.push(Notice {
            key: format!("run:{year}:{run}:unit:{unit}"),
            to: vec![unit_address(units, unit, settings)],
            subject: r.subject,
            body: r.body,
            attachments: vec![],
        });
    }
    // Recovery notices, one per person with a recovery.
    for p in view.people.iter().filter(|p| p.net.recovery < 0) {
        let unit = p.items.last().map(|i| i.unit.clone()).unwrap_or_default();
        let months: Vec<String> = p
            .lines()
            .iter()
            .filter(|l| l.kind == LineKind::Recovery)
            .map(|l| format!("{}（{}）", l.month, fen_grouped(l.fen)))
            .collect();
        let mut v = BTreeMap::new();
        v.insert("year", year.to_string());
        v.insert("run", run.to_string());
        v.insert("unit", unit.clone());
        v.insert("name", p.name.clone());
        v.insert("id", mask(&p.id_number));
        v.insert("amount", fen_grouped(-p.net.recovery));
        v.insert("capitals", capitals(-p.net.recovery));
        v.insert("months", months.join("、"));
        v.insert(
            "reason",
            reasons.get(&p.id_number).cloned().unwrap_or_default(),
        );
        v.insert("date", date.to_string());
        let r = render(&settings.templates, "recovery", &v)?;
        out.push(Notice {
            key: format!("recovery:{year}:{run}:{}", person_ref(&p.id_number)),
            to: dedup(vec![
                unit_address(units, &unit, settings),
                settings.bureau.clone(),
            ]),
            subject: r.subject,
            body: r.body,
            attachments: vec![],
        });
    }
    if let (Some(last), false) = (policy_last_day, view.uncovered.is_empty()) {
        let months: Vec<String> = view
            .uncovered
            .iter()
            .map(|(id, name, m)| format!("  {name} {} {m}", mask(id)))
            .collect();
        let mut v = BTreeMap::new();
        v.insert("year", year.to_string());
        v.insert("run", run.to_string());
        v.insert("last_day", last.to_string());
        v.insert("months", months.join("\n"));
        v.insert("date", date.to_string());
        let r = render(&settings.templates, "policy_outlived", &v)?;
        out.push(Notice {
            key: format!("policy-outlived:{year}:{run}"),
            to: vec![settings.bureau.clone()],
            subject: r.subject,
            body: r.body,
            attachments: vec![],
        });
    }
    Ok(out)
}

/// The finance office's notice after an approved run is exported.
pub fn finance_notice(
    view: &RunView,
    files: &[std::path::PathBuf],
    settings: &MailSettings,
    date: chrono::NaiveDate,
) -> Result<Notice, TemplateError> {
    let t = view.totals();
    let mut v = BTreeMap::new();
    v.insert("year", view.year.to_string());
    v.insert("run", view.seq.to_string());
    v.insert("approved_at", view.approved_at.clone().unwrap_or_default());
    v.insert("approved_by", view.approved_by.clone().unwrap_or_default());
    v.insert("people_paid", t.people_paid.to_string());
    v.insert("paid", fen_grouped(t.paid));
    v.insert("capitals", capitals(t.paid));
    v.insert("people_recovering", t.people_recovering.to_string());
    v.insert("recovered", fen_grouped(-t.recovered));
    v.insert(
        "files",
        files
            .iter()
            .map(|f| format!("  {}", f.display()))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let attach: Vec<std::path::PathBuf> = if settings.attach_bank_file {
        files
            .iter()
            .filter(|f| {
                f.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("bank-"))
            })
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    v.insert(
        "attachment_note",
        if attach.is_empty() {
            "代发文件含完整身份证号码和银行账号，未随邮件发送，请通过内部渠道领取。".into()
        } else {
            "代发文件见附件（含完整身份证号码和银行账号，请妥善保管）。".into()
        },
    );
    v.insert("date", date.to_string());
    let r = render(&settings.templates, "finance_export", &v)?;
    Ok(Notice {
        key: format!("finance-export:{}:{}", view.year, view.seq),
        to: vec![settings.finance.clone()],
        subject: r.subject,
        body: r.body,
        attachments: attach,
    })
}

fn unit_address(units: &UnitEmails, unit: &str, settings: &MailSettings) -> String {
    units
        .get(unit)
        .filter(|e| !e.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| settings.bureau.clone())
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.dedup();
    v
}

/// Every unit's registered e-mail address.
pub async fn unit_emails(
    store: &crate::store::Store,
) -> Result<UnitEmails, crate::store::StoreError> {
    use sqlx::Row;
    let mut m = UnitEmails::new();
    for r in sqlx::query("SELECT name, email FROM units WHERE email IS NOT NULL")
        .fetch_all(store.pool())
        .await?
    {
        m.insert(r.try_get(0)?, r.try_get(1)?);
    }
    Ok(m)
}

/// Why the finance office's notice could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Template(#[from] TemplateError),
}

impl QueueError {
    /// The CLI's exit status: 2 for a template or usage problem, 3 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            QueueError::Template(_) | QueueError::Store(crate::store::StoreError::Usage(_)) => 2,
            QueueError::Store(_) => 3,
        }
    }
}

/// Queues the finance office's notice for an exported run (once: the outbox key is the run).
/// Returns whether it was queued now, and the run.
pub async fn queue_finance_notice(
    store: &crate::store::Store,
    year: i32,
    seq: Option<i64>,
    offset: bool,
    files: &[std::path::PathBuf],
    settings: &MailSettings,
    date: chrono::NaiveDate,
) -> Result<(bool, RunView), QueueError> {
    let view = store.show_run(year, seq, offset).await?;
    let notice = finance_notice(&view, files, settings, date)?;
    let mut conn = store
        .pool()
        .acquire()
        .await
        .map_err(crate::store::StoreError::from)?;
    let queued = crate::mail::queue(&mut conn, &notice)
        .await
        .map_err(crate::store::StoreError::from)?;
    Ok((queued, view))
}
