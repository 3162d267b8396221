//! `payrun reconcile`: the bank's return file (回盘) applied to an exported run.
//!
//! - The file is read with the return layout of the configured bank template
//!   ([`crate::excel::bank_return`]): .xlsx/.xls, or delimited text in GBK or UTF-8.
//! - Its rows are matched to the run's payments ([`crate::rules::reconcile`]). Every problem
//!   (a cell that cannot be read, an unknown batch or row, an amount that differs, a row the
//!   file leaves out, an answer contrary to the recorded one) is reported with file, sheet,
//!   row and column, and nothing is recorded unless the whole file matches, or
//!   `--accept-valid` records the rows that do.
//! - Each failure is recorded with the bank's reason and date, and the person's unit gets a
//!   notice (once: the outbox key is the payment). The next run pays it again (重发).
//! - A second reconcile of the same file records nothing: every row says what the ledger has.

use super::error::JobError;
use super::notices::{addressee, letter_values};
use super::session::Session;
use crate::excel::bank::BankTemplate;
use crate::excel::bank_return::{read_return_file, ReturnFile, ReturnRow};
use crate::excel::read::CellProblem;
use crate::mail::templates::render;
use crate::mail::{MailSettings, Notice};
use crate::rules::id_number::mask;
use crate::rules::money::{capitals, fen_grouped};
use crate::rules::reconcile::{Mismatch, ReturnLine};
use crate::store::payments::{BankReturn, FailedPayment, Reconciled};
use std::path::Path;

/// What reconciling a file did.
#[derive(Debug, Clone)]
pub struct ReconcileReport {
    /// The file's name as given.
    pub file: String,
    /// Rows read from the file (without those with a cell problem).
    pub rows: usize,
    /// The sheet read (None for a text file).
    pub sheet: Option<String>,
    /// Cells that could not be read.
    pub read_problems: Vec<CellProblem>,
    pub reconciled: Reconciled,
    /// The column header of each field, for naming a mismatch's column.
    headers: Vec<(&'static str, String)>,
}

impl ReconcileReport {
    /// Whether anything was recorded.
    pub fn applied(&self) -> bool {
        self.reconciled.applied
    }

    /// Every problem, one line each: file, sheet, row, column and what is wrong (Chinese).
    pub fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self.read_problems.iter().map(|p| p.to_string()).collect();
        for m in &self.reconciled.result.mismatches {
            out.push(self.describe(m));
        }
        out
    }

    fn describe(&self, m: &Mismatch) -> String {
        let mut at = vec![self.file.clone()];
        if let Some(sheet) = &self.sheet {
            at.push(format!("工作表「{sheet}」"));
        }
        if let Some(row) = m.row {
            at.push(format!("第{row}行"));
        }
        if let Some(col) = m.column {
            let header = self
                .headers
                .iter()
                .find(|(f, _)| *f == col)
                .map(|(_, h)| h.as_str())
                .unwrap_or(col);
            at.push(format!("列「{header}」"));
        }
        format!("{}：{}", at.join("，"), m.message)
    }
}

/// Reads `file` and applies it to run `run` of `year` (the latest when None).
pub async fn reconcile(
    s: &Session,
    year: i32,
    run: Option<i64>,
    file: &Path,
    accept_valid: bool,
) -> Result<ReconcileReport, JobError> {
    let template =
        BankTemplate::from_config(s.config.export.bank_template_path(&s.config.base_dir))
            .map_err(|e| JobError::usage(e.to_string()))?;
    let layout = template.return_layout();
    let limits = crate::excel::read::InputLimits::from_config(&s.config)
        .map_err(|e| JobError::usage(e.to_string()))?;
    let read: ReturnFile =
        read_return_file(file, &layout, &limits).map_err(|e| JobError::refused(e.to_string()))?;
    let sha256 =
        crate::jobs::export::sha256_file(file).map_err(|e| JobError::outside(e.to_string()))?;
    let settings = MailSettings::from_config(&s.config)?;
    let units = super::notices::unit_emails(&s.store).await?;
    let lines: Vec<ReturnLine> = read.rows.iter().map(line_of).collect();
    let file_name = file.display().to_string();
    let input = BankReturn {
        file_name: &file_name,
        sha256: &sha256,
        operator: &s.operator,
        today: s.today,
        accept_valid,
        apply: read.problems.is_empty() || accept_valid,
    };
    let mut template_error = None;
    let reconciled = s
        .store
        .reconcile_run(year, run, &input, &lines, |f| {
            match failure_notice(
                f,
                units.get(&f.unit).map(String::as_str),
                &settings,
                s.today,
            ) {
                Ok(n) => Some(n),
                Err(e) => {
                    template_error.get_or_insert(e);
                    None
                }
            }
        })
        .await?;
    if let Some(e) = template_error {
        tracing::warn!("a failure notice could not be written: {e}");
    }
    Ok(ReconcileReport {
        file: file_name,
        rows: read.rows.len(),
        headers: headers(&layout),
        sheet: read.sheet,
        read_problems: read.problems,
        reconciled,
    })
}

/// The header text of each field the layout reads, by the field names of
/// [`Mismatch::column`].
fn headers(layout: &crate::excel::bank_return::ReturnLayout) -> Vec<(&'static str, String)> {
    let fields = [
        ("batch_ref", layout.batch_ref.clone()),
        ("row_no", layout.row_no.clone()),
        ("id_number", layout.id_number.clone()),
        ("account", layout.account.clone()),
        ("amount", Some(layout.amount.clone())),
        ("status", Some(layout.status.clone())),
    ];
    fields
        .into_iter()
        .filter_map(|(f, h)| h.map(|h| (f, h)))
        .collect()
}

/// A row as the matching reads it.
fn line_of(r: &ReturnRow) -> ReturnLine {
    ReturnLine {
        row: r.row,
        batch_ref: r.batch_ref.clone(),
        row_no: r.row_no,
        id_number: r.id_number.clone(),
        account: r.account.clone(),
        fen: r.fen,
        paid: r.paid,
        reason: r.reason.clone(),
        date: r.date,
    }
}

/// The notice of a failed payment to the person's unit (the bureau when the unit has no
/// address): amount, batch and row, masked account, the bank's reason, and what to do.
pub fn failure_notice(
    f: &FailedPayment,
    address: Option<&str>,
    settings: &MailSettings,
    date: chrono::NaiveDate,
) -> Result<Notice, crate::mail::templates::TemplateError> {
    let unit = if f.unit.is_empty() {
        "（未登记单位）"
    } else {
        &f.unit
    };
    let to = addressee(unit, address, settings);
    let mut v = letter_values(settings, date);
    v.insert("recipient", to.greeting.clone());
    v.insert("forward_note", to.forward_note.clone());
    v.insert("you", to.you.clone());
    v.insert("year", f.year.to_string());
    v.insert("run", f.seq.to_string());
    v.insert("name", f.name.clone());
    v.insert("id", mask(&f.id_number));
    v.insert("amount", fen_grouped(f.fen));
    v.insert("capitals", capitals(f.fen));
    v.insert("batch", f.batch_ref.clone());
    v.insert("row", f.row_no.to_string());
    v.insert("account", mask(&f.account));
    v.insert("bank_date", super::notices::cn_date(f.date));
    v.insert("reason", f.reason.clone());
    let r = render(&settings.templates, "payment_failed", &v)?;
    let mut recipients = vec![to.to];
    if !recipients.contains(&settings.bureau) {
        recipients.push(settings.bureau.clone());
    }
    Ok(Notice {
        key: format!("payment-failed:{}", f.payment_id),
        to: recipients,
        subject: r.subject,
        body: r.body,
        attachments: Vec::new(),
    })
}
