//! The notices a payment run causes: each unit's letter (发放明细), recovery notices
//! (追缴通知), the bureau's warning while terms outlive the policy, and the finance office's
//! notice after export. Also the letter helpers [`remind`](super::remind) shares: Chinese dates
//! and month ranges (`2023年2月至2023年12月`), who a letter greets when a unit has no address,
//! and the signature, contact and repayment account of `[mail]`.
//!
//! What a unit's HR clerk needs without calling: a breakdown per person (months as ranges,
//! kind 当年/上年度新评选递延/补发/追缴, amount), amounts to pay back without a minus sign, the
//! account to pay them to, whom to ask, and a letter that says plainly when nothing is paid.
//! ID numbers are masked in every letter (`3703**********1234`); the repayment account is the
//! bureau's and shown in full.

use crate::mail::templates::{render, TemplateError};
use crate::mail::{MailSettings, Notice};
use crate::rules::id_number::{mask, person_ref};
use crate::rules::money::{capitals, fen_grouped};
use crate::rules::{Line, LineKind, Month};
use crate::store::{RunPerson, RunView};
use chrono::NaiveDate;
use std::collections::{BTreeMap, HashMap};

/// Unit name → registered e-mail address.
pub type UnitEmails = HashMap<String, String>;

/// How letters greet the bureau.
pub const BUREAU: &str = "区人力资源和社会保障局";

/// `2024年12月1日`.
pub use crate::rules::month::cn_date;

/// `2023年5月`.
pub fn cn_month(m: Month) -> String {
    format!("{}年{}月", m.year(), m.month())
}

/// `2023年2月至2023年12月`, or one month when `first == last`.
pub fn cn_range(first: Month, last: Month) -> String {
    if first == last {
        cn_month(first)
    } else {
        format!("{}至{}", cn_month(first), cn_month(last))
    }
}

/// Consecutive runs of months (sorted, duplicates merged): `[(first, last), …]`.
pub fn month_ranges(months: &[Month]) -> Vec<(Month, Month)> {
    let mut v = months.to_vec();
    v.sort();
    v.dedup();
    let mut out: Vec<(Month, Month)> = Vec::new();
    for m in v {
        match out.last_mut() {
            Some((_, last)) if last.next() == m => *last = m,
            _ => out.push((m, m)),
        }
    }
    out
}

/// A stored timestamp (RFC 3339, UTC) as its day in Asia/Shanghai (`2024年12月1日`); any other
/// text as it is, its ISO dates rewritten.
pub fn cn_timestamp(text: &str) -> String {
    match crate::store::recorded_day(text) {
        Some(d) => cn_date(d),
        None => cn_dates_in(text),
    }
}

/// Rewrites every `YYYY-MM-DD` in a free text as `YYYY年M月D日`.
pub fn cn_dates_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let date = rest
            .get(..10)
            .filter(|d| d.as_bytes()[4] == b'-' && d.as_bytes()[7] == b'-')
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        match date {
            Some(d) => {
                out.push_str(&cn_date(d));
                rest = &rest[10..];
            }
            None => {
                let c = rest.chars().next().expect("not empty");
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

/// The kind of a line as a unit's letter names it.
pub fn kind_label(kind: LineKind) -> &'static str {
    match kind {
        LineKind::Regular => "当年",
        LineKind::Deferred => "上年度新评选递延",
        LineKind::Arrears => "补发",
        LineKind::Recovery => "追缴",
        LineKind::Reissue => "重发",
        LineKind::Offset => "分期抵扣",
    }
}

/// Whom a letter meant for `unit` goes to and greets: the unit at its registered address, or,
/// when it has none, the bureau, with a first line asking it to pass the letter on.
pub struct Addressee {
    pub to: String,
    /// `{recipient}`: whom the letter greets.
    pub greeting: String,
    /// `{forward_note}`: empty, or a sentence (with a blank line after it) for the bureau.
    pub forward_note: String,
    /// `{you}`: 贵单位, or the unit's name in a letter to the bureau.
    pub you: String,
}

/// See [`Addressee`]; `address` is the unit's registered address, if any.
pub fn addressee(unit: &str, address: Option<&str>, settings: &MailSettings) -> Addressee {
    match address.map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => Addressee {
            to: a.to_string(),
            greeting: unit.to_string(),
            forward_note: String::new(),
            you: "贵单位".into(),
        },
        None => Addressee {
            to: settings.bureau.clone(),
            greeting: BUREAU.into(),
            forward_note: format!("（{unit}未登记电子邮箱，此函发至区人社局，请转交该单位。）\n\n"),
            you: unit.to_string(),
        },
    }
}

/// The values every letter has: signature, contact, repayment account, date.
pub fn letter_values(settings: &MailSettings, date: NaiveDate) -> BTreeMap<&'static str, String> {
    let or = |s: &str, default: &str| {
        if s.trim().is_empty() {
            default.to_string()
        } else {
            s.trim().to_string()
        }
    };
    let mut v = BTreeMap::new();
    v.insert("date", cn_date(date));
    v.insert(
        "signature",
        or(&settings.signature, "张店区人力资源和社会保障局"),
    );
    v.insert("contact", or(&settings.contact, BUREAU));
    v.insert("repayment_name", or(&settings.repayment_name, BUREAU));
    v.insert(
        "repayment_bank",
        or(&settings.repayment_bank, "（请向区人社局询问）"),
    );
    v.insert(
        "repayment_account",
        or(&settings.repayment_account, "（请向区人社局询问）"),
    );
    v
}

/// A person's lines as letter lines: consecutive months of one kind make one range
/// (`    2023年2月至2023年12月（11个月），当年，5,500.00元`); recoveries read 应退回.
fn breakdown(lines: &[Line], indent: &str) -> Vec<String> {
    let mut groups: Vec<(Month, Month, LineKind, i64, usize)> = Vec::new();
    for l in lines {
        match groups.last_mut() {
            Some((_, last, kind, fen, n))
                if *kind == l.kind && (*last == l.month || last.next() == l.month) =>
            {
                if *last != l.month {
                    *n += 1;
                }
                *last = l.month;
                *fen += l.fen;
            }
            _ => groups.push((l.month, l.month, l.kind, l.fen, 1)),
        }
    }
    groups
        .into_iter()
        .map(|(first, last, kind, fen, n)| {
            let months = if n > 1 {
                format!("{}（{n}个月）", cn_range(first, last))
            } else {
                cn_range(first, last)
            };
            if fen < 0 {
                format!(
                    "{indent}{months}，{}，应退回{}元",
                    kind_label(kind),
                    fen_grouped(-fen)
                )
            } else {
                format!(
                    "{indent}{months}，{}，{}元",
                    kind_label(kind),
                    fen_grouped(fen)
                )
            }
        })
        .collect()
}

/// One person's block in a unit's letter: name and masked ID, the breakdown, the outcome.
fn person_block(p: &RunPerson) -> String {
    let lines = p.lines();
    let mut out = vec![format!("{}（身份证号码{}）", p.name, mask(&p.id_number))];
    out.extend(breakdown(&lines, "    "));
    for r in &p.reissues {
        out.push(format!(
            "    重发：{}年度第{}批银行未能入账的{}元（{}）",
            r.from_year,
            r.from_seq,
            fen_grouped(r.fen),
            r.reason
        ));
    }
    let negative: i64 = lines.iter().filter(|l| l.fen < 0).map(|l| -l.fen).sum();
    let mut outcome = Vec::new();
    if p.net.bank > 0 {
        let offset = if p.net.recovery == 0 && negative > 0 {
            format!("（已扣除应退回的{}元）", fen_grouped(negative))
        } else {
            String::new()
        };
        outcome.push(format!("银行代发{}元{offset}", fen_grouped(p.net.bank)));
    }
    if p.net.recovery < 0 {
        outcome.push(format!(
            "应退回{}元，追缴通知另行发送",
            fen_grouped(-p.net.recovery)
        ));
    }
    if outcome.is_empty() {
        outcome.push("补发与追缴相抵，本批不发放也不退回".into());
    }
    out.push(format!("    本人合计：{}", outcome.join("；")));
    out.join("\n")
}

/// The closing paragraph of a unit's letter: what the bank pays, what is to be paid back.
fn unit_summary(you: &str, paid: i64, recovering: &[&RunPerson]) -> String {
    let back: i64 = recovering.iter().map(|p| -p.net.recovery).sum();
    let n = recovering.len();
    match (paid > 0, n > 0) {
        (true, false) => format!(
            "本批{you}合计银行代发{}元，由银行直接代发至本人账户，请转告相关人员。",
            fen_grouped(paid)
        ),
        (true, true) => format!(
            "本批{you}合计银行代发{}元，由银行直接代发至本人账户，请转告相关人员。另有{n}人多领取的津贴共{}元应予退回，追缴通知另行发送，请督促其按通知退回。",
            fen_grouped(paid),
            fen_grouped(back)
        ),
        (false, true) => format!(
            "本批{you}没有由银行代发的津贴。以上{n}人多领取的津贴共{}元应予退回，追缴通知另行发送，请督促其按通知退回。",
            fen_grouped(back)
        ),
        (false, false) => format!("本批{you}没有由银行代发的津贴，也没有应退回的款项。"),
    }
}

/// Builds the notices of an approved run. Units without a registered address are reported
/// to the bureau instead (the letter goes to the bureau with the unit named).
pub fn run_notices(
    view: &RunView,
    reasons: &HashMap<String, String>,
    units: &UnitEmails,
    settings: &MailSettings,
    policy_last_day: Option<NaiveDate>,
    date: NaiveDate,
) -> Result<Vec<Notice>, TemplateError> {
    let mut out = Vec::new();
    let (year, run) = (view.year, view.seq);
    let letters = RunLetters {
        base: letter_values(settings, date),
        year,
        run,
        units,
        settings,
    };
    // Per unit: its technicians.
    let mut by_unit: BTreeMap<String, Vec<&RunPerson>> = BTreeMap::new();
    for p in &view.people {
        by_unit.entry(unit_of(p)).or_default().push(p);
    }
    for (unit, people) in &by_unit {
        out.push(letters.unit_notice(unit, people)?);
    }
    // Recovery notices, one per person with a recovery.
    let recovering: Vec<&RunPerson> = view.people.iter().filter(|p| p.net.recovery < 0).collect();
    if !recovering.is_empty() && settings.repayment_account.trim().is_empty() {
        tracing::warn!(
            year,
            run,
            "[mail] repayment_account is not set: the recovery notices name no account to pay back to"
        );
    }
    for p in recovering {
        out.push(letters.recovery_notice(p, reasons)?);
    }
    if let (Some(last), false) = (policy_last_day, view.uncovered.is_empty()) {
        out.push(letters.outlived_notice(view, last)?);
    }
    Ok(out)
}

/// What every letter of a run shares: the `[mail]` values, the run, the units' addresses.
struct RunLetters<'a> {
    base: BTreeMap<&'static str, String>,
    year: i32,
    run: i64,
    units: &'a UnitEmails,
    settings: &'a MailSettings,
}

impl RunLetters<'_> {
    /// The letter's values for `unit`, addressed ([`addressee`]).
    fn values_for(&self, unit: &str) -> (BTreeMap<&'static str, String>, Addressee) {
        let to = addressee(
            unit,
            self.units.get(unit).map(String::as_str),
            self.settings,
        );
        let mut v = self.base.clone();
        v.insert("year", self.year.to_string());
        v.insert("run", self.run.to_string());
        v.insert("unit", unit.to_string());
        v.insert("recipient", to.greeting.clone());
        v.insert("forward_note", to.forward_note.clone());
        (v, to)
    }

    /// A unit's letter (发放明细): every technician's breakdown and the unit's totals.
    fn unit_notice(&self, unit: &str, people: &[&RunPerson]) -> Result<Notice, TemplateError> {
        let (mut v, to) = self.values_for(unit);
        let paid: i64 = people.iter().map(|p| p.net.bank).sum();
        let recovering: Vec<&RunPerson> = people
            .iter()
            .copied()
            .filter(|p| p.net.recovery < 0)
            .collect();
        v.insert(
            "people",
            people
                .iter()
                .map(|p| person_block(p))
                .collect::<Vec<_>>()
                .join("\n\n"),
        );
        v.insert("total", fen_grouped(paid));
        v.insert("summary", unit_summary(&to.you, paid, &recovering));
        let r = render(&self.settings.templates, "unit_run", &v)?;
        Ok(Notice {
            key: format!("run:{}:{}:unit:{unit}", self.year, self.run),
            to: vec![to.to],
            subject: r.subject,
            body: r.body,
            attachments: vec![],
        })
    }

    /// A recovery notice (追缴通知) to a person's unit and the bureau.
    fn recovery_notice(
        &self,
        p: &RunPerson,
        reasons: &HashMap<String, String>,
    ) -> Result<Notice, TemplateError> {
        let unit = unit_of(p);
        let (mut v, to) = self.values_for(&unit);
        let lines = p.lines();
        let back: Vec<Line> = lines.iter().filter(|l| l.fen < 0).copied().collect();
        let mut months = breakdown(&back, "  ");
        let amount = -p.net.recovery;
        let gross: i64 = back.iter().map(|l| -l.fen).sum();
        if gross != amount {
            months.push(format!(
                "  （本批应发的{}元已相抵，实际应退回{}元）",
                fen_grouped(gross - amount),
                fen_grouped(amount)
            ));
        }
        v.insert("name", p.name.clone());
        v.insert("id", mask(&p.id_number));
        v.insert("amount", fen_grouped(amount));
        v.insert("capitals", capitals(amount));
        v.insert("months", months.join("\n"));
        v.insert(
            "reason",
            cn_dates_in(&reasons.get(&p.id_number).cloned().unwrap_or_default()),
        );
        let r = render(&self.settings.templates, "recovery", &v)?;
        Ok(Notice {
            key: format!(
                "recovery:{}:{}:{}",
                self.year,
                self.run,
                person_ref(&p.id_number)
            ),
            to: dedup(vec![to.to, self.settings.bureau.clone()]),
            subject: r.subject,
            body: r.body,
            attachments: vec![],
        })
    }

    /// The bureau's warning: terms outlive the policy's last day, with each person's months
    /// no policy covers.
    fn outlived_notice(&self, view: &RunView, last: NaiveDate) -> Result<Notice, TemplateError> {
        // One line per person: their uncovered months as ranges.
        let mut by_person: BTreeMap<(&str, &str), Vec<Month>> = BTreeMap::new();
        for (id, name, m) in &view.uncovered {
            by_person
                .entry((id.as_str(), name.as_str()))
                .or_default()
                .push(*m);
        }
        let lines = uncovered_lines(view, &by_person);
        let mut v = self.base.clone();
        v.insert("year", self.year.to_string());
        v.insert("run", self.run.to_string());
        v.insert("last_day", cn_date(last));
        v.insert("people", by_person.len().to_string());
        v.insert("months", lines.join("\n"));
        let r = render(&self.settings.templates, "policy_outlived", &v)?;
        Ok(Notice {
            key: format!("policy-outlived:{}:{}", self.year, self.run),
            to: vec![self.settings.bureau.clone()],
            subject: r.subject,
            body: r.body,
            attachments: vec![],
        })
    }
}

/// One line per person with uncovered months: name, masked ID number, unit, the months as
/// ranges and their count.
fn uncovered_lines(view: &RunView, by_person: &BTreeMap<(&str, &str), Vec<Month>>) -> Vec<String> {
    let units_of: HashMap<&str, String> = view
        .people
        .iter()
        .map(|p| (p.id_number.as_str(), unit_of(p)))
        .collect();
    by_person
        .iter()
        .map(|((id, name), months)| {
            let ranges: Vec<String> = month_ranges(months)
                .into_iter()
                .map(|(a, b)| cn_range(a, b))
                .collect();
            let unit = units_of
                .get(id)
                .filter(|u| !u.is_empty())
                .map(|u| format!("，{u}"))
                .unwrap_or_default();
            format!(
                "  {name}（{}{unit}）：{}，共{}个月",
                mask(id),
                ranges.join("、"),
                months.len()
            )
        })
        .collect()
}

/// The unit a person's letter goes to: their latest appointment's unit.
fn unit_of(p: &RunPerson) -> String {
    p.items.last().map(|i| i.unit.clone()).unwrap_or_default()
}

/// The file name of an exported file (never its folder on the server).
fn file_name(f: &std::path::Path) -> String {
    f.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// The finance office's notice after an approved run is exported. It names the files by file
/// name and attaches the summary workbook (`summary-*.xlsx`: masked ID numbers only); the bank
/// file (full ID and account numbers) only with `attach_bank_file`.
pub fn finance_notice(
    view: &RunView,
    t: crate::store::payrun::Totals,
    files: &[std::path::PathBuf],
    settings: &MailSettings,
    date: NaiveDate,
) -> Result<Notice, TemplateError> {
    let is_bank = |f: &std::path::PathBuf| file_name(f).starts_with("bank-");
    let is_summary = |f: &std::path::PathBuf| file_name(f).starts_with("summary-");
    let attach: Vec<std::path::PathBuf> = files
        .iter()
        .filter(|f| is_summary(f) || (settings.attach_bank_file && is_bank(f)))
        .cloned()
        .collect();
    let listed: Vec<String> = files
        .iter()
        .map(|f| {
            let what = if is_bank(f) {
                if attach.contains(f) {
                    "代发文件，送银行；见附件"
                } else {
                    "代发文件，送银行；未随邮件发送"
                }
            } else if is_summary(f) {
                "汇总表；见附件"
            } else {
                "未随邮件发送"
            };
            format!("  {}（{what}）", file_name(f))
        })
        .collect();
    let mut notes = Vec::new();
    if files.iter().any(is_summary) {
        notes.push("汇总表见附件，其中身份证号码均已隐去中间数字。");
    }
    if files.iter().any(is_bank) {
        notes.push(if settings.attach_bank_file {
            "代发文件见附件（含完整身份证号码和银行账号，请妥善保管）。"
        } else {
            "代发文件含完整身份证号码和银行账号，未随邮件发送，请通过内部渠道领取。"
        });
    }
    let mut v = letter_values(settings, date);
    v.insert("year", view.year.to_string());
    v.insert("run", view.seq.to_string());
    v.insert(
        "approved_at",
        view.approved_at
            .as_deref()
            .map(cn_timestamp)
            .unwrap_or_default(),
    );
    v.insert("approved_by", view.approved_by.clone().unwrap_or_default());
    v.insert("people_paid", t.people_paid.to_string());
    v.insert("paid", fen_grouped(t.paid));
    v.insert("capitals", capitals(t.paid));
    v.insert("people_recovering", t.people_recovering.to_string());
    v.insert("recovered", fen_grouped(-t.recovered));
    v.insert("files", listed.join("\n"));
    v.insert("attachment_note", notes.join(""));
    let r = render(&settings.templates, "finance_export", &v)?;
    Ok(Notice {
        key: format!("finance-export:{}:{}", view.year, view.seq),
        to: vec![settings.finance.clone()],
        subject: r.subject,
        body: r.body,
        attachments: attach,
    })
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

/// Queues the finance office's notice for an exported run with these totals (once: the outbox
/// key is the run). Returns whether it was queued now.
#[allow(clippy::too_many_arguments)]
pub async fn queue_finance_notice(
    store: &crate::store::Store,
    year: i32,
    seq: Option<i64>,
    offset: bool,
    totals: crate::store::payrun::Totals,
    files: &[std::path::PathBuf],
    settings: &MailSettings,
    date: chrono::NaiveDate,
) -> Result<bool, QueueError> {
    let view = store.run_head(year, seq, offset).await?;
    let notice = finance_notice(&view, totals, files, settings, date)?;
    let mut conn = store
        .pool()
        .acquire()
        .await
        .map_err(crate::store::StoreError::from)?;
    let queued = crate::mail::queue(&mut conn, &notice)
        .await
        .map_err(crate::store::StoreError::from)?;
    Ok(queued)
}
