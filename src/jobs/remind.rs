//! `remind`: queues the lifecycle reminders due on a date (term expiry, the request before
//! each payment run, policy expiry, the call for nominations), in one transaction. Keys make
//! a second run for the same day, or a catch-up over a range of days, queue nothing twice.

use super::notices::{addressee, cn_date, letter_values, Addressee, BUREAU};
use crate::config::Config;
use crate::mail::settings::{reminder_schedule, SettingsError};
use crate::mail::templates::{render, TemplateError};
use crate::mail::{queue, MailSettings, Notice};
use crate::rules::id_number::mask;
use crate::rules::reminders::{due_on, Reminder};
use crate::rules::{Appointment, RulesConfig};
use crate::store::Store;
use chrono::NaiveDate;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

/// A failure of the reminder job.
#[derive(Debug, thiserror::Error)]
pub enum RemindError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("selection reminders: {0}")]
    Selection(String),
}

/// What one day's reminders did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemindReport {
    pub queued: usize,
    pub already: usize,
}

struct ReminderRow {
    appointment: Appointment,
    name: String,
    id_number: String,
    unit: String,
}

/// Queues everything due on each day from `from` to `to` (both included).
pub async fn remind_range(
    store: &Store,
    cfg: &Config,
    rules: &RulesConfig,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<RemindReport, RemindError> {
    let settings = MailSettings::from_config(cfg)?;
    let schedule = reminder_schedule(cfg)?;
    let mut total = RemindReport::default();
    let mut day = from;
    while day <= to {
        let mut tx = store.pool().begin().await?;
        let rows = load(&mut tx, rules, day).await?;
        let appts: Vec<(Appointment, bool)> = rows
            .iter()
            .map(|(r, ended)| (r.appointment.clone(), *ended))
            .collect();
        let mut units: BTreeMap<String, Option<String>> = BTreeMap::new();
        for r in sqlx::query("SELECT name, email FROM units ORDER BY name")
            .fetch_all(&mut *tx)
            .await?
        {
            units.insert(r.try_get(0)?, r.try_get(1)?);
        }
        let selection = super::selection::reminder_notices(&mut tx, cfg, day, &units, &settings)
            .await
            .map_err(|e| RemindError::Selection(e.to_string()))?;
        for n in selection {
            if queue(&mut tx, &n).await? {
                total.queued += 1;
            } else {
                total.already += 1;
            }
        }
        for reminder in due_on(day, &appts, &rules.policy, &schedule) {
            for n in notices(&reminder, day, &rows, &units, &settings, rules)? {
                if queue(&mut tx, &n).await? {
                    total.queued += 1;
                } else {
                    total.already += 1;
                }
            }
        }
        tx.commit().await?;
        day = match day.succ_opt() {
            Some(d) => d,
            None => break,
        };
    }
    Ok(total)
}

/// The letters one reminder causes. A letter meant for a unit without a registered address
/// goes to the bureau and greets it, asking it to pass the letter on
/// ([`super::notices::addressee`]); every letter is signed and dated (`2024年12月1日`).
fn notices(
    reminder: &Reminder,
    day: NaiveDate,
    rows: &[(ReminderRow, bool)],
    units: &BTreeMap<String, Option<String>>,
    s: &MailSettings,
    rules: &RulesConfig,
) -> Result<Vec<Notice>, TemplateError> {
    let v = letter_values(s, day);
    let key = reminder.key();
    match reminder {
        Reminder::TermExpiry {
            appointment_id,
            days,
            term_end,
        } => {
            let Some((r, _)) = rows
                .iter()
                .find(|(r, _)| r.appointment.id == *appointment_id)
            else {
                return Ok(Vec::new());
            };
            let addr = to_unit(&r.unit, units, s);
            term_expiry_notice(v, key, r, addr, *days, *term_end, s).map(|n| vec![n])
        }
        Reminder::RunRequest { year } => run_request_notices(v, &key, *year, rows, units, s),
        Reminder::Nominations { year } => nomination_notices(v, &key, *year, units, s),
        Reminder::PolicyExpiry { days, last_day } => {
            policy_expiry_notice(v, key, *days, *last_day, rows, s, rules).map(|n| vec![n])
        }
    }
}

/// Where a letter to a unit goes ([`super::notices::addressee`]).
fn to_unit(unit: &str, units: &BTreeMap<String, Option<String>>, s: &MailSettings) -> Addressee {
    addressee(unit, units.get(unit).cloned().flatten().as_deref(), s)
}

/// The letter to a technician's unit (and the bureau) about a term ending in `days` days.
fn term_expiry_notice(
    mut v: BTreeMap<&'static str, String>,
    key: String,
    r: &ReminderRow,
    addr: Addressee,
    days: u32,
    term_end: NaiveDate,
    s: &MailSettings,
) -> Result<Notice, TemplateError> {
    v.insert("name", r.name.clone());
    v.insert("id", mask(&r.id_number));
    v.insert("unit", r.unit.clone());
    v.insert("approval_no", r.appointment.approval_no.clone());
    v.insert("start", cn_date(r.appointment.term_start()));
    v.insert("end", cn_date(term_end));
    v.insert(
        "recipient",
        if addr.to == s.bureau {
            BUREAU.to_string()
        } else {
            format!("{}、{BUREAU}", r.unit)
        },
    );
    v.insert("forward_note", addr.forward_note.clone());
    if days == 0 {
        v.insert("when", "期满".into());
        v.insert("when_sentence", "今日期满，津贴发放至本月止。".into());
        v.insert(
            "nomination",
            "根据办法第十四条第五项，管理期满后，该同志可按规定重新参加首席技师选拔。".into(),
        );
    } else {
        v.insert("when", format!("{days}天后到期"));
        v.insert("when_sentence", format!("将于{days}天后期满。"));
        v.insert("nomination", "管理期满后可按规定重新参加选拔。".into());
    }
    let rendered = render(&s.templates, "term_expiry", &v)?;
    let mut to = vec![addr.to];
    if !to.contains(&s.bureau) {
        to.push(s.bureau.clone());
    }
    Ok(Notice {
        key,
        to,
        subject: rendered.subject,
        body: rendered.body,
        attachments: vec![],
    })
}

/// The request before a payment run: one letter to each unit with technicians whose term
/// holds a day of the year.
fn run_request_notices(
    mut v: BTreeMap<&'static str, String>,
    key: &str,
    year: i32,
    rows: &[(ReminderRow, bool)],
    units: &BTreeMap<String, Option<String>>,
    s: &MailSettings,
) -> Result<Vec<Notice>, TemplateError> {
    let mut by_unit: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (r, ended) in rows {
        let (s0, e0) = (r.appointment.term_start(), r.appointment.term_end());
        if *ended || chrono::Datelike::year(&s0) > year || chrono::Datelike::year(&e0) < year {
            continue;
        }
        by_unit.entry(&r.unit).or_default().push(format!(
            "  {}（身份证号码{}），管理期{}至{}",
            r.name,
            mask(&r.id_number),
            cn_date(s0),
            cn_date(e0)
        ));
    }
    let mut out = Vec::new();
    for (unit, people) in by_unit {
        let addr = to_unit(unit, units, s);
        v.insert("year", year.to_string());
        v.insert("unit", unit.to_string());
        v.insert("recipient", addr.greeting.clone());
        v.insert("forward_note", addr.forward_note.clone());
        v.insert("you", addr.you.clone());
        v.insert("people", people.join("\n"));
        out.push(unit_letter(s, "run_request", &v, key, unit, addr.to)?);
    }
    Ok(out)
}

/// A unit's letter of a reminder, keyed `<key>:unit:<unit>`.
fn unit_letter(
    s: &MailSettings,
    template: &str,
    v: &BTreeMap<&'static str, String>,
    key: &str,
    unit: &str,
    to: String,
) -> Result<Notice, TemplateError> {
    let rendered = render(&s.templates, template, v)?;
    Ok(Notice {
        key: format!("{key}:unit:{unit}"),
        to: vec![to],
        subject: rendered.subject,
        body: rendered.body,
        attachments: vec![],
    })
}

/// The call for nominations: one letter to every unit.
fn nomination_notices(
    mut v: BTreeMap<&'static str, String>,
    key: &str,
    year: i32,
    units: &BTreeMap<String, Option<String>>,
    s: &MailSettings,
) -> Result<Vec<Notice>, TemplateError> {
    let mut out = Vec::new();
    for unit in units.keys() {
        let addr = to_unit(unit, units, s);
        v.insert("year", year.to_string());
        v.insert("unit", unit.clone());
        v.insert("recipient", addr.greeting.clone());
        v.insert("forward_note", addr.forward_note.clone());
        v.insert("you", addr.you.clone());
        out.push(unit_letter(s, "nominations", &v, key, unit, addr.to)?);
    }
    Ok(out)
}

/// The bureau's warning that the policy ends in `days` days, with how many terms outlive it.
fn policy_expiry_notice(
    mut v: BTreeMap<&'static str, String>,
    key: String,
    days: u32,
    last_day: NaiveDate,
    rows: &[(ReminderRow, bool)],
    s: &MailSettings,
    rules: &RulesConfig,
) -> Result<Notice, TemplateError> {
    let outliving = rows
        .iter()
        .filter(|(r, ended)| !ended && r.appointment.term_end() > last_day)
        .count();
    let document = rules
        .policy
        .versions()
        .iter()
        .max_by_key(|p| p.to)
        .map(|p| p.document.clone())
        .unwrap_or_default();
    v.insert("document", document);
    v.insert("last_day", cn_date(last_day));
    v.insert("days", days.to_string());
    v.insert("people", outliving.to_string());
    let rendered = render(&s.templates, "policy_expiry", &v)?;
    Ok(Notice {
        key,
        to: vec![s.bureau.clone()],
        subject: rendered.subject,
        body: rendered.body,
        attachments: vec![],
    })
}

/// Appointments with person, the person's unit on `day` ([`crate::rules::unit::unit_on`]) and
/// whether benefits ended for good before the term's end.
async fn load(
    conn: &mut sqlx::AnyConnection,
    rules: &RulesConfig,
    day: NaiveDate,
) -> Result<Vec<(ReminderRow, bool)>, RemindError> {
    // Appointment → earliest termination date (a change may concern several appointments).
    let mut ended: HashMap<i64, NaiveDate> = HashMap::new();
    for r in sqlx::query("SELECT id, kind, effective, end_date, COALESCE(appointment_ids, CAST(appointment_id AS TEXT), '') AS appointment_ids, reported_by FROM changes WHERE voided_at IS NULL ORDER BY effective, id")
        .fetch_all(&mut *conn)
        .await?
    {
        let c = crate::store::changes::change_from_row(&r)?;
        if c.kind.effect(rules).terminates() {
            for aid in &c.appointment_ids {
                let e = ended.entry(*aid).or_insert(c.effective);
                *e = (*e).min(c.effective);
            }
        }
    }
    let histories = crate::store::units::unit_histories(&mut *conn, None).await?;
    let mut out = Vec::new();
    for r in sqlx::query("SELECT a.id, a.approval_date, a.approval_no, t.name, t.id_number, COALESCE(u.name, ''), t.id FROM appointments a JOIN technicians t ON t.id = a.technician_id LEFT JOIN units u ON u.id = a.unit_id WHERE a.voided_at IS NULL ORDER BY a.id")
        .fetch_all(&mut *conn)
        .await?
    {
        let id: i64 = r.try_get(0)?;
        let tid: i64 = r.try_get(6)?;
        let date: String = r.try_get(1)?;
        let approval_date = NaiveDate::parse_from_str(&date, "%Y-%m-%d")
            .map_err(|_| crate::store::StoreError::Corrupt(format!("date `{date}`")))?;
        let unit = histories
            .get(&tid)
            .map(|h| h.unit_on(day))
            .filter(|u| !u.is_empty())
            .unwrap_or(r.try_get(5)?);
        let appointment = Appointment {
            id,
            approval_date,
            approval_no: r.try_get(2)?,
        };
        let ended_early = ended.get(&id).is_some_and(|x| *x <= appointment.term_end());
        out.push((
            ReminderRow {
                appointment,
                name: r.try_get(3)?,
                id_number: r.try_get(4)?,
                unit,
            },
            ended_early,
        ));
    }
    Ok(out)
}
