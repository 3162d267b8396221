//! The selection round in the ledger (issue 14): rounds, candidates, their steps, objections,
//! expert scores, and the appointments approval creates. Append-only like the ledger: a step,
//! an objection, its resolution and a score are rows added, never edited; a candidate's details
//! change only through a later nominations file, in the audit trail.
//!
//! The rules a step or an objection must keep (`crate::rules::selection`) are the caller's: each
//! writing function takes the check as a closure and calls it inside its transaction, on the
//! candidate as the ledger holds it then, so two clerks cannot both move one candidate.

use super::roster::{RosterProblem, RosterSession, RosterStart};
use super::{audit, find_source, insert_source, parse_date, Result, Source, Store, StoreError};
use crate::input::{NominationEntry, RosterEntry, ScoreEntry};
use crate::rules::selection::{Objection, ObjectionOutcome, Stage, Step};
use crate::rules::{Change, RulesConfig, Timeline};
use chrono::NaiveDate;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use sqlx::Row;
use std::collections::{HashMap, HashSet};

/// A selection round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundRecord {
    pub year: i32,
    pub deadline: NaiveDate,
    pub approval_by: NaiveDate,
    pub document: Option<String>,
    pub opened_at: String,
    pub operator: String,
}

/// A recorded step, with who and where from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    pub step: Step,
    pub document: Option<String>,
    pub source: String,
    pub operator: String,
    pub recorded_at: String,
}

/// A recorded objection and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectionRecord {
    pub id: i64,
    pub stage: Stage,
    pub received: NaiveDate,
    pub summary: String,
    pub raised_by: Option<String>,
    pub resolution: Option<(NaiveDate, ObjectionOutcome, Option<String>)>,
}

/// A candidate of a round with everything recorded of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateRecord {
    pub id: i64,
    pub year: i32,
    /// 编号 within the round.
    pub number: i64,
    pub entry: NominationEntry,
    /// The day the nomination reached the bureau (the entry's, or the import's day).
    pub received: NaiveDate,
    pub steps: Vec<StepRecord>,
    pub objections: Vec<ObjectionRecord>,
    /// (expert, score).
    pub scores: Vec<(String, Decimal)>,
    pub appointment_id: Option<i64>,
}

impl CandidateRecord {
    /// The steps as the rules see them.
    pub fn rule_steps(&self) -> Vec<Step> {
        self.steps.iter().map(|s| s.step.clone()).collect()
    }

    /// The objections as the rules see them.
    pub fn rule_objections(&self) -> Vec<Objection> {
        self.objections
            .iter()
            .map(|o| Objection {
                id: o.id,
                stage: o.stage,
                received: o.received,
                resolution: o.resolution.as_ref().map(|(d, out, _)| (*d, *out)),
            })
            .collect()
    }

    /// The stage the candidate is at (申报 before any step, which cannot happen once imported).
    pub fn stage(&self) -> Stage {
        self.steps
            .last()
            .map(|s| s.step.stage)
            .unwrap_or(Stage::Nominated)
    }

    /// Since when the candidate has been at the current stage.
    pub fn since(&self) -> NaiveDate {
        self.steps
            .last()
            .map(|s| s.step.date)
            .unwrap_or(self.received)
    }

    /// Open objections.
    pub fn open_objections(&self) -> usize {
        self.objections
            .iter()
            .filter(|o| o.resolution.is_none())
            .count()
    }
}

/// What the ledger knows of a nominated person, for the eligibility check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PersonFacts {
    /// The name on the roster, when the person is on it.
    pub name: Option<String>,
    /// Each live appointment's term (first day, last day after a termination).
    pub terms: Vec<(NaiveDate, NaiveDate)>,
    /// An appointment was revoked for fraud (弄虚作假).
    pub revoked_for_fraud: bool,
}

/// What `selection open` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundOpened {
    Opened,
    /// The same round was opened before: nothing was done.
    AlreadyOpen,
}

/// What a nominations import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NominationOutcome {
    /// The same file (by content hash) was imported before: nothing was done.
    pub already_imported: Option<String>,
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// What a batch of steps did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepOutcome {
    pub added: usize,
    /// Already at that stage on that day: nothing done.
    pub unchanged: usize,
}

/// What a scores import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScoresOutcome {
    pub already_imported: Option<String>,
    pub added: usize,
    pub unchanged: usize,
}

/// What an approval did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalOutcome {
    /// Candidates approved now, with their new appointment's id.
    pub approved: Vec<(i64, i64)>,
    /// Approved before: nothing done for them.
    pub already: usize,
}

/// A step to record for a candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStep {
    pub candidate_id: i64,
    pub step: Step,
    pub document: Option<String>,
}

/// A check of the rules, called inside the transaction on the candidate as recorded.
pub type StepCheck<'a> =
    &'a (dyn Fn(&CandidateRecord, &Step) -> std::result::Result<(), String> + Send + Sync);

impl Store {
    /// Opens the round of `year` (`selection open`); the same round again does nothing, a
    /// different deadline for an open round is refused.
    pub async fn open_round(
        &self,
        year: i32,
        deadline: NaiveDate,
        approval_by: NaiveDate,
        document: Option<&str>,
        operator: &str,
    ) -> Result<RoundOpened> {
        let mut tx = self.begin_write().await?;
        if let Some(r) = load_round(&mut tx, year).await? {
            tx.rollback().await?;
            if r.deadline == deadline {
                return Ok(RoundOpened::AlreadyOpen);
            }
            return Err(StoreError::Refused(format!(
                "{year}年度评选已于{}开启，申报截止日为{}；截止日不能改为{deadline}",
                r.opened_at, r.deadline
            )));
        }
        sqlx::query("INSERT INTO selection_rounds (year, deadline, approval_by, document, opened_at, operator) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(i64::from(year))
            .bind(deadline.to_string())
            .bind(approval_by.to_string())
            .bind(document.map(str::to_string))
            .bind(super::now_text())
            .bind(operator)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            operator,
            "selection-open",
            &format!("{year}: deadline {deadline}, approval by {approval_by}"),
            false,
        )
        .await?;
        tx.commit().await?;
        Ok(RoundOpened::Opened)
    }

    /// The round of `year`.
    pub async fn round(&self, year: i32) -> Result<Option<RoundRecord>> {
        let mut conn = self.pool().acquire().await?;
        load_round(&mut conn, year).await
    }

    /// The latest round opened.
    pub async fn latest_round(&self) -> Result<Option<RoundRecord>> {
        let mut conn = self.pool().acquire().await?;
        let year: Option<i64> = sqlx::query("SELECT MAX(year) FROM selection_rounds")
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
        match year {
            Some(y) => load_round(&mut conn, y as i32).await,
            None => Ok(None),
        }
    }

    /// Every round, by year.
    pub async fn rounds(&self) -> Result<Vec<RoundRecord>> {
        let mut conn = self.pool().acquire().await?;
        rounds_in(&mut conn).await
    }

    /// The candidates of a round, by number, with steps, objections and scores.
    pub async fn candidates(&self, year: i32) -> Result<Vec<CandidateRecord>> {
        let mut conn = self.pool().acquire().await?;
        load_candidates(&mut conn, year).await
    }

    /// The names of the units the ledger knows.
    pub async fn unit_names(&self) -> Result<HashSet<String>> {
        let mut conn = self.pool().acquire().await?;
        let mut out = HashSet::new();
        for r in sqlx::query("SELECT name FROM units")
            .fetch_all(&mut *conn)
            .await?
        {
            out.insert(r.try_get::<String, _>(0)?);
        }
        Ok(out)
    }

    /// What the ledger knows of a person, by ID number (default when not on the roster).
    pub async fn person_facts(&self, id_number: &str, rules: &RulesConfig) -> Result<PersonFacts> {
        let mut conn = self.pool().acquire().await?;
        let Some(p) = super::roster::load_person(&mut conn, id_number).await? else {
            return Ok(PersonFacts::default());
        };
        let mut changes: Vec<Change> = Vec::new();
        for r in sqlx::query("SELECT id, kind, effective, end_date, COALESCE(appointment_ids, CAST(appointment_id AS TEXT), '') AS appointment_ids, technician_id, reported_by FROM changes WHERE voided_at IS NULL AND technician_id = $1 ORDER BY id")
            .bind(p.technician_id)
            .fetch_all(&mut *conn)
            .await?
        {
            changes.push(super::changes::change_from_row(&r)?);
        }
        let mut facts = PersonFacts {
            name: Some(p.name),
            ..PersonFacts::default()
        };
        for a in &p.appointments {
            let t = Timeline::new(a, &changes, rules);
            facts.revoked_for_fraud |= t.revoked_for_fraud();
            facts.terms.extend(t.standing_term());
        }
        Ok(facts)
    }

    /// Imports a nominating body's rows into the round of `year`, all or nothing: a new
    /// candidate is added at 申报 (dated the day the nomination reached the bureau, `today`
    /// when the file does not say), a known one updated when the file differs (audited), unless
    /// approved or withdrawn. Refused when a name differs from the roster's or an earlier
    /// file's for the ID number, or an ID number is given twice.
    pub async fn import_nominations(
        &self,
        year: i32,
        source: &Source,
        entries: &[NominationEntry],
        today: NaiveDate,
    ) -> Result<std::result::Result<NominationOutcome, Vec<RosterProblem>>> {
        let (mut tx, source_id) = match self.begin_round_file(year, source, entries.len()).await? {
            FileStart::Already(when) => {
                return Ok(Ok(NominationOutcome {
                    already_imported: Some(when),
                    ..NominationOutcome::default()
                }))
            }
            FileStart::Open(tx, id) => (tx, id),
        };
        let file = source.file_name.clone().unwrap_or_else(|| "-".into());
        let known = load_candidates(&mut tx, year).await?;
        let mut next_number = known.iter().map(|c| c.number).max().unwrap_or(0) + 1;
        let mut problems = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut outcome = NominationOutcome::default();
        let by = (file.as_str(), source_id, source.operator.as_str());
        for e in entries {
            let roster_name = roster_name(&mut tx, e).await?;
            let first = seen.insert(e.id_number.as_str());
            match nomination_verdict(&known, e, roster_name.as_deref(), first) {
                Verdict::Refused(column, message) => problems.push(RosterProblem {
                    row: e.row,
                    column,
                    message,
                }),
                Verdict::Unchanged => outcome.unchanged += 1,
                Verdict::Update(c) => {
                    update_nominated(&mut tx, year, c, e, by).await?;
                    outcome.updated += 1;
                }
                Verdict::New => {
                    let received = e.received.unwrap_or(today);
                    add_nominated(&mut tx, year, next_number, e, received, by).await?;
                    next_number += 1;
                    outcome.added += 1;
                }
            }
        }
        if !problems.is_empty() {
            tx.rollback().await?;
            return Ok(Err(problems));
        }
        audit(
            &mut tx,
            &source.operator,
            "selection-import",
            &format!(
                "{year} {file}: {} added, {} updated, {} unchanged",
                outcome.added, outcome.updated, outcome.unchanged
            ),
            false,
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(outcome))
    }

    /// Records steps, all or none: each is checked by `check` on the candidate as recorded
    /// (earlier steps of the batch included). A candidate already at the step's stage on the
    /// same day is left as it is (a command run twice records nothing twice).
    pub async fn add_steps(
        &self,
        year: i32,
        steps: &[NewStep],
        source: &str,
        operator: &str,
        check: StepCheck<'_>,
    ) -> Result<std::result::Result<StepOutcome, Vec<String>>> {
        let mut tx = self.begin_write().await?;
        let mut outcome = StepOutcome::default();
        let mut refusals = Vec::new();
        // Loaded once; each step recorded joins its candidate's history, so a later step of
        // the batch is checked against it.
        let mut all = load_candidates(&mut tx, year).await?;
        for s in steps {
            let Some(c) = all.iter_mut().find(|c| c.id == s.candidate_id) else {
                return Err(StoreError::Usage(format!(
                    "{year}年度评选中没有候选人 {}",
                    s.candidate_id
                )));
            };
            if let Some(done) = c.steps.iter().find(|r| r.step.stage == s.step.stage) {
                if done.step.date == s.step.date {
                    outcome.unchanged += 1;
                } else {
                    refusals.push(format!(
                        "编号{} {}：已于{}进入{}阶段，不能再记录于{}",
                        c.number,
                        c.entry.name,
                        done.step.date,
                        s.step.stage.label(),
                        s.step.date
                    ));
                }
                continue;
            }
            if let Err(why) = check(c, &s.step) {
                refusals.push(format!("编号{} {}：{why}", c.number, c.entry.name));
                continue;
            }
            record_step(&mut tx, year, c, s, source, operator).await?;
            c.steps.push(StepRecord {
                step: s.step.clone(),
                document: s.document.clone(),
                source: source.to_string(),
                operator: operator.to_string(),
                recorded_at: super::now_text(),
            });
            outcome.added += 1;
        }
        if !refusals.is_empty() {
            tx.rollback().await?;
            return Ok(Err(refusals));
        }
        tx.commit().await?;
        Ok(Ok(outcome))
    }

    /// Records an objection to a candidate received on `received`; `check` says which notice
    /// it belongs to. The same objection (candidate, day, text) again returns the first's id.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_objection(
        &self,
        year: i32,
        candidate_id: i64,
        received: NaiveDate,
        summary: &str,
        raised_by: Option<&str>,
        operator: &str,
        check: &(dyn Fn(&CandidateRecord) -> std::result::Result<Stage, String> + Send + Sync),
    ) -> Result<std::result::Result<(i64, bool), String>> {
        let mut tx = self.begin_write().await?;
        let all = load_candidates(&mut tx, year).await?;
        let Some(c) = all.iter().find(|c| c.id == candidate_id) else {
            return Err(StoreError::Usage(format!("{year}年度评选中没有该候选人")));
        };
        if let Some(o) = c
            .objections
            .iter()
            .find(|o| o.received == received && o.summary == summary.trim())
        {
            tx.rollback().await?;
            return Ok(Ok((o.id, false)));
        }
        let stage = match check(c) {
            Ok(s) => s,
            Err(why) => {
                tx.rollback().await?;
                return Ok(Err(why));
            }
        };
        let id: i64 = sqlx::query("INSERT INTO candidate_objections (candidate_id, stage, received, summary, raised_by, operator, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
            .bind(candidate_id)
            .bind(stage.code())
            .bind(received.to_string())
            .bind(summary.trim())
            .bind(raised_by.map(str::to_string))
            .bind(operator)
            .bind(super::now_text())
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        audit(
            &mut tx,
            operator,
            "selection-objection",
            &format!(
                "{year} 编号{}: objection {id} received {received} during {}",
                c.number,
                stage.code()
            ),
            false,
        )
        .await?;
        tx.commit().await?;
        Ok(Ok((id, true)))
    }

    /// Resolves an objection (once): upheld, the candidate withdraws (退出) on `date` with the
    /// objection as the reason; dismissed, they may go on. The same resolution again does
    /// nothing; a different one is refused.
    pub async fn resolve_objection(
        &self,
        objection_id: i64,
        date: NaiveDate,
        outcome: ObjectionOutcome,
        note: Option<&str>,
        operator: &str,
    ) -> Result<std::result::Result<bool, String>> {
        let mut tx = self.begin_write().await?;
        let Some(row) = sqlx::query("SELECT o.candidate_id, c.year, o.received, o.summary FROM candidate_objections o JOIN candidates c ON c.id = o.candidate_id WHERE o.id = $1")
            .bind(objection_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Err(StoreError::Usage(format!(
                "没有编号为{objection_id}的异议：`selection list` 列出异议编号"
            )));
        };
        let candidate_id: i64 = row.try_get(0)?;
        let year = row.try_get::<i64, _>(1)? as i32;
        let received = parse_date(&row.try_get::<String, _>(2)?)?;
        let summary: String = row.try_get(3)?;
        if let Some(earlier) = earlier_resolution(&mut tx, objection_id, outcome).await? {
            tx.rollback().await?;
            return Ok(earlier);
        }
        if date < received {
            tx.rollback().await?;
            return Ok(Err(format!("处理日期{date}早于异议收到日期{received}")));
        }
        sqlx::query("INSERT INTO objection_resolutions (objection_id, resolved_on, outcome, note, operator, recorded_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(objection_id)
            .bind(date.to_string())
            .bind(outcome.code())
            .bind(note.map(str::to_string))
            .bind(operator)
            .bind(super::now_text())
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            operator,
            "selection-objection-resolved",
            &format!("objection {objection_id}: {} on {date}", outcome.code()),
            false,
        )
        .await?;
        if outcome == ObjectionOutcome::Upheld {
            withdraw_upheld(&mut tx, year, candidate_id, date, &summary, operator).await?;
        }
        tx.commit().await?;
        Ok(Ok(true))
    }

    /// Imports expert scores into the round of `year`, all or nothing: each row's candidate
    /// must be at 评审 with the name recorded; a score given again is left as it is, a
    /// different score for the same expert and candidate refused.
    pub async fn import_scores(
        &self,
        year: i32,
        source: &Source,
        entries: &[ScoreEntry],
    ) -> Result<std::result::Result<ScoresOutcome, Vec<RosterProblem>>> {
        let (mut tx, source_id) = match self.begin_round_file(year, source, entries.len()).await? {
            FileStart::Already(when) => {
                return Ok(Ok(ScoresOutcome {
                    already_imported: Some(when),
                    ..ScoresOutcome::default()
                }))
            }
            FileStart::Open(tx, id) => (tx, id),
        };
        let all = load_candidates(&mut tx, year).await?;
        let mut problems = Vec::new();
        let mut outcome = ScoresOutcome::default();
        for e in entries {
            let c = match score_verdict(&all, e, year) {
                Ok(Some(c)) => c,
                Ok(None) => {
                    outcome.unchanged += 1;
                    continue;
                }
                Err((column, message)) => {
                    problems.push(RosterProblem {
                        row: e.row,
                        column,
                        message,
                    });
                    continue;
                }
            };
            let centi = (e.score * Decimal::ONE_HUNDRED).round();
            sqlx::query("INSERT INTO candidate_scores (candidate_id, expert, score_centi, source_id, source_row) VALUES ($1, $2, $3, $4, $5)")
                .bind(c.id)
                .bind(e.expert.as_str())
                .bind(centi.to_i64().unwrap_or(0))
                .bind(source_id)
                .bind(e.row.map(i64::from))
                .execute(&mut *tx)
                .await?;
            outcome.added += 1;
        }
        if !problems.is_empty() {
            tx.rollback().await?;
            return Ok(Err(problems));
        }
        audit(
            &mut tx,
            &source.operator,
            "selection-scores",
            &format!(
                "{year} {}: {} scores added, {} unchanged",
                source.file_name.as_deref().unwrap_or("-"),
                outcome.added,
                outcome.unchanged
            ),
            false,
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(outcome))
    }

    /// Approves the candidates of `year` at 考察 (`selection approve`): each becomes an
    /// appointment exactly as a roster row would (the roster import's checks and audit trail,
    /// the source naming the round), and steps to 批准, all in one transaction. Candidates
    /// approved before are left alone. Refused whole when a candidate lacks a bank account, a
    /// step check fails, or the roster checks refuse a row.
    pub async fn approve_round(
        &self,
        year: i32,
        date: NaiveDate,
        document: &str,
        operator: &str,
        check: StepCheck<'_>,
    ) -> Result<std::result::Result<ApprovalOutcome, Vec<String>>> {
        let all = self.candidates(year).await?;
        let mut outcome = ApprovalOutcome {
            already: all.iter().filter(|c| c.stage() == Stage::Approved).count(),
            ..ApprovalOutcome::default()
        };
        let ready: Vec<&CandidateRecord> = all
            .iter()
            .filter(|c| c.stage() == Stage::Inspection)
            .collect();
        if ready.is_empty() {
            return Ok(Ok(outcome));
        }
        let step = Step {
            stage: Stage::Approved,
            date,
            reason: None,
        };
        let entries = match approval_entries(&ready, &step, document, check) {
            Ok(entries) => entries,
            Err(refusals) => return Ok(Err(refusals)),
        };
        let label = format!("{year}年度首席技师评选（{document}）");
        let mut session = match self
            .approval_session(year, &label, operator, outcome.already)
            .await?
        {
            Ok(session) => session,
            Err(refusals) => return Ok(Err(refusals)),
        };
        session.add(&entries).await?;
        if !session.problems().is_empty() {
            let problems = roster_refusals(session.problems(), &ready);
            session.abandon().await?;
            return Ok(Err(problems));
        }
        session.also_written("candidate_steps");
        session.also_written("candidate_appointments");
        let conn = session.connection();
        for c in &ready {
            let appointment_id =
                record_approval(conn, c, &step, document, &label, operator).await?;
            outcome.approved.push((c.id, appointment_id));
        }
        audit(
            conn,
            operator,
            "selection-approve",
            &format!(
                "{year}: {} approved on {date} ({document})",
                outcome.approved.len()
            ),
            true,
        )
        .await?;
        match session.finish().await? {
            Ok(_) => Ok(Ok(outcome)),
            Err(problems) => Ok(Err(problems.into_iter().map(|p| p.message).collect())),
        }
    }
}

impl Store {
    /// The roster import of an approval, open under the ledger's write lock; refused when
    /// the round has more approved candidates than the `already` read before the lock
    /// (another clerk approved it meanwhile).
    async fn approval_session(
        &self,
        year: i32,
        label: &str,
        operator: &str,
        already: usize,
    ) -> Result<std::result::Result<Box<RosterSession<'_>>, Vec<String>>> {
        let source = Source {
            kind: "selection".into(),
            file_name: Some(label.to_string()),
            sha256: None,
            operator: operator.into(),
        };
        let mut session = match self.begin_roster_import(&source).await? {
            RosterStart::Open(s) => s,
            RosterStart::AlreadyImported(_) => unreachable!("a source without a hash is new"),
        };
        if approved_in_round(session.connection(), year).await? > already {
            session.abandon().await?;
            return Ok(Err(vec![format!(
                "{year}年度的评选在此期间已由其他操作员批准，本次未作任何改动；请用 selection list 查看结果。"
            )]));
        }
        Ok(Ok(session))
    }
}

/// How a file's import into a round starts.
enum FileStart<'s> {
    /// The same file (by content hash) was taken in before: when, and by whom.
    Already(String),
    /// The transaction, with the file's source recorded in it.
    Open(sqlx::Transaction<'s, sqlx::Any>, i64),
}

impl Store {
    /// Opens the transaction of a file's import into the round of `year`: a usage error when
    /// the round is not open; nothing when the same file was taken in before.
    async fn begin_round_file(
        &self,
        year: i32,
        source: &Source,
        rows: usize,
    ) -> Result<FileStart<'_>> {
        let mut tx = self.begin_write().await?;
        if load_round(&mut tx, year).await?.is_none() {
            tx.rollback().await?;
            return Err(no_round(year));
        }
        if let Some((at, by)) = find_source(&mut tx, source).await? {
            tx.rollback().await?;
            return Ok(FileStart::Already(format!("{at} by {by}")));
        }
        let source_id = insert_source(&mut tx, source, &format!("{rows} rows")).await?;
        Ok(FileStart::Open(tx, source_id))
    }
}

/// What a nomination row does to the round, as far as the ledger can tell.
enum Verdict<'k> {
    /// Refused: the column and why.
    Refused(&'static str, String),
    Unchanged,
    Update(&'k CandidateRecord),
    New,
}

/// The verdict on a nomination row: `roster_name` is the roster's name for its ID number,
/// `first` whether the ID number is new in the file.
fn nomination_verdict<'k>(
    known: &'k [CandidateRecord],
    e: &NominationEntry,
    roster_name: Option<&str>,
    first: bool,
) -> Verdict<'k> {
    if !first {
        return Verdict::Refused(
            "身份证号码",
            format!("身份证号码{}在本文件中出现两次", e.id_number.masked()),
        );
    }
    if let Some(n) = roster_name.filter(|n| *n != e.name.trim()) {
        return Verdict::Refused(
            "姓名",
            format!("姓名“{}”与名册中该身份证号码的姓名“{n}”不符", e.name),
        );
    }
    match known.iter().find(|c| c.entry.id_number == e.id_number) {
        None => Verdict::New,
        Some(c) if c.entry.name != e.name => Verdict::Refused(
            "姓名",
            format!(
                "姓名“{}”与已申报的该身份证号码的姓名“{}”不符",
                e.name, c.entry.name
            ),
        ),
        Some(c) if same_nomination(&c.entry, e) => Verdict::Unchanged,
        Some(c) if c.stage().is_final() => Verdict::Refused(
            "身份证号码",
            format!(
                "{}（{}）已{}，申报信息不能再修改",
                c.entry.name,
                e.id_number.masked(),
                c.stage().label()
            ),
        ),
        Some(c) => Verdict::Update(c),
    }
}

/// The roster's name for a nomination's ID number, when the person is on it.
async fn roster_name(
    conn: &mut sqlx::AnyConnection,
    e: &NominationEntry,
) -> Result<Option<String>> {
    Ok(
        sqlx::query("SELECT name FROM technicians WHERE id_number = $1")
            .bind(e.id_number.as_str())
            .fetch_optional(conn)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?,
    )
}

/// Who takes a file in: the file's name, its source id, the operator.
type By<'a> = (&'a str, i64, &'a str);

/// Adds a new candidate with its 申报 step, dated the day the nomination was received.
async fn add_nominated(
    conn: &mut sqlx::AnyConnection,
    year: i32,
    number: i64,
    e: &NominationEntry,
    received: NaiveDate,
    (file, source_id, operator): By<'_>,
) -> Result<()> {
    let id = insert_candidate(conn, year, number, e, received, source_id).await?;
    let step = Step {
        stage: Stage::Nominated,
        date: received,
        reason: None,
    };
    insert_step(conn, id, &step, None, file, operator).await
}

/// Updates a known candidate from a later file, in the audit trail.
async fn update_nominated(
    conn: &mut sqlx::AnyConnection,
    year: i32,
    c: &CandidateRecord,
    e: &NominationEntry,
    (file, source_id, operator): By<'_>,
) -> Result<()> {
    update_candidate(conn, c.id, e, source_id).await?;
    let detail = format!(
        "{year} 编号{}: {} ({}) from {file}",
        c.number,
        e.name,
        e.id_number.masked()
    );
    audit(conn, operator, "selection-update", &detail, false).await?;
    Ok(())
}

/// Records one checked step of a candidate, in the audit trail.
async fn record_step(
    conn: &mut sqlx::AnyConnection,
    year: i32,
    c: &CandidateRecord,
    s: &NewStep,
    source: &str,
    operator: &str,
) -> Result<()> {
    let document = s.document.as_deref();
    insert_step(conn, c.id, &s.step, document, source, operator).await?;
    let detail = format!(
        "{year} 编号{} {}: {} on {}{}",
        c.number,
        c.entry.id_number.masked(),
        s.step.stage.code(),
        s.step.date,
        document.map(|d| format!(" ({d})")).unwrap_or_default()
    );
    audit(conn, operator, "selection-step", &detail, false).await?;
    Ok(())
}

/// How an objection was resolved before, when it was: the same outcome again is nothing to
/// do (`Ok(false)`), another one is refused.
async fn earlier_resolution(
    conn: &mut sqlx::AnyConnection,
    objection_id: i64,
    outcome: ObjectionOutcome,
) -> Result<Option<std::result::Result<bool, String>>> {
    let Some(r) = sqlx::query(
        "SELECT outcome, resolved_on FROM objection_resolutions WHERE objection_id = $1",
    )
    .bind(objection_id)
    .fetch_optional(conn)
    .await?
    else {
        return Ok(None);
    };
    let code: String = r.try_get(0)?;
    let on: String = r.try_get(1)?;
    if code == outcome.code() {
        return Ok(Some(Ok(false)));
    }
    let was = ObjectionOutcome::parse(&code).map_or("?", |o| o.label());
    Ok(Some(Err(format!(
        "异议{objection_id}已于{on}处理为{was}，不能改为{}",
        outcome.label()
    ))))
}

/// An upheld objection: the candidate withdraws (退出) on `date` (or the day of their last
/// step, when later), the objection the reason; nothing when they already left.
async fn withdraw_upheld(
    conn: &mut sqlx::AnyConnection,
    year: i32,
    candidate_id: i64,
    date: NaiveDate,
    summary: &str,
    operator: &str,
) -> Result<()> {
    let all = load_candidates(conn, year).await?;
    let Some(c) = all.iter().find(|c| c.id == candidate_id) else {
        return Ok(());
    };
    if c.stage().is_final() {
        return Ok(());
    }
    let step = Step {
        stage: Stage::Withdrawn,
        date: date.max(c.since()),
        reason: Some(format!("异议属实：{summary}")),
    };
    insert_step(
        conn,
        candidate_id,
        &step,
        None,
        "selection resolve",
        operator,
    )
    .await
}

/// The candidate a score row is for (None: the same score is recorded already), or the
/// column and why it is refused.
fn score_verdict<'a>(
    all: &'a [CandidateRecord],
    e: &ScoreEntry,
    year: i32,
) -> std::result::Result<Option<&'a CandidateRecord>, (&'static str, String)> {
    let Some(c) = all.iter().find(|c| c.entry.id_number == e.id_number) else {
        return Err((
            "身份证号码",
            format!(
                "身份证号码{}不是{year}年度评选的候选人",
                e.id_number.masked()
            ),
        ));
    };
    if c.entry.name != e.name.trim() {
        return Err((
            "姓名",
            format!("姓名“{}”与候选人的姓名“{}”不符", e.name, c.entry.name),
        ));
    }
    if let Some((_, s)) = c.scores.iter().find(|(x, _)| *x == e.expert) {
        if *s == e.score {
            return Ok(None);
        }
        return Err((
            "得分",
            format!(
                "评审专家“{}”对{}的得分已录入为{s}，不能改为{}",
                e.expert, c.entry.name, e.score
            ),
        ));
    }
    if c.stage() != Stage::Review {
        return Err((
            "身份证号码",
            format!(
                "{}当前阶段为{}，不在评审阶段，不能录入评审成绩",
                c.entry.name,
                c.stage().label()
            ),
        ));
    }
    Ok(Some(c))
}

/// The roster rows of the candidates to approve, each checked by `check`; every refusal, named
/// by the candidate, otherwise.
fn approval_entries(
    ready: &[&CandidateRecord],
    step: &Step,
    document: &str,
    check: StepCheck<'_>,
) -> std::result::Result<Vec<RosterEntry>, Vec<String>> {
    let mut refusals = Vec::new();
    let mut entries = Vec::new();
    for c in ready {
        match check(c, step).and_then(|()| roster_entry(c, step.date, document)) {
            Ok(e) => entries.push(e),
            Err(why) => refusals.push(format!("编号{} {}：{why}", c.number, c.entry.name)),
        }
    }
    if refusals.is_empty() {
        Ok(entries)
    } else {
        Err(refusals)
    }
}

/// The roster import's refusals, each named by the candidate (the row is the 编号).
fn roster_refusals(problems: &[RosterProblem], ready: &[&CandidateRecord]) -> Vec<String> {
    problems
        .iter()
        .map(|p| {
            let who = p
                .row
                .and_then(|r| ready.iter().find(|c| c.number == i64::from(r)))
                .map(|c| format!("编号{} {}", c.number, c.entry.name))
                .unwrap_or_default();
            format!("{who}：{}（{}）", p.message, p.column)
        })
        .collect()
}

/// Records a candidate's 批准 step and the appointment the roster import made of them; returns
/// the appointment's id.
/// How many candidates of the round `year` have become appointments.
async fn approved_in_round(conn: &mut sqlx::AnyConnection, year: i32) -> Result<usize> {
    let n: i64 = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM candidate_appointments ca JOIN candidates c ON c.id = ca.candidate_id WHERE c.year = $1")
        .bind(year)
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    Ok(n as usize)
}

async fn record_approval(
    conn: &mut sqlx::AnyConnection,
    c: &CandidateRecord,
    step: &Step,
    document: &str,
    label: &str,
    operator: &str,
) -> Result<i64> {
    let appointment_id: i64 = sqlx::query("SELECT a.id FROM appointments a JOIN technicians t ON t.id = a.technician_id WHERE t.id_number = $1 AND a.approval_date = $2 AND a.voided_at IS NULL")
        .bind(c.entry.id_number.as_str())
        .bind(step.date.to_string())
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    insert_step(conn, c.id, step, Some(document), label, operator).await?;
    sqlx::query(
        "INSERT INTO candidate_appointments (candidate_id, appointment_id) VALUES ($1, $2)",
    )
    .bind(c.id)
    .bind(appointment_id)
    .execute(&mut *conn)
    .await?;
    Ok(appointment_id)
}

/// The roster row an approved candidate becomes.
fn roster_entry(
    c: &CandidateRecord,
    date: NaiveDate,
    document: &str,
) -> std::result::Result<RosterEntry, String> {
    let e = &c.entry;
    let account = e
        .bank_account
        .clone()
        .filter(|a| !a.trim().is_empty())
        .ok_or("没有银行账号：请在推荐汇总表中补充开户行和银行账号后重新导入")?;
    let bank = e
        .bank_name
        .clone()
        .filter(|a| !a.trim().is_empty())
        .ok_or("没有开户行：请在推荐汇总表中补充开户行后重新导入")?;
    Ok(RosterEntry {
        id_number: e.id_number.clone(),
        name: e.name.clone(),
        unit: e.unit.clone(),
        occupation: e.occupation.clone(),
        level: e.level.clone(),
        approval_date: date,
        approval_no: document.to_string(),
        bank_account: account,
        bank_name: bank,
        phone: e.phone.clone(),
        email: e.email.clone(),
        // The candidate's 编号: the roster checks name the row they refuse by it.
        row: u32::try_from(c.number).ok(),
    })
}

fn no_round(year: i32) -> StoreError {
    StoreError::Usage(format!(
        "{year}年度评选尚未开启：请先运行 `chieftech selection open --year {year} --deadline YYYY-MM-DD`"
    ))
}

/// Two nominations say the same (the row number and the file aside).
fn same_nomination(a: &NominationEntry, b: &NominationEntry) -> bool {
    NominationEntry {
        row: None,
        received: None,
        ..a.clone()
    } == NominationEntry {
        row: None,
        received: None,
        ..b.clone()
    }
}

/// Every round, by year, on a connection (a transaction of the caller's).
pub(crate) async fn rounds_in(conn: &mut sqlx::AnyConnection) -> Result<Vec<RoundRecord>> {
    let years: Vec<i64> = sqlx::query("SELECT year FROM selection_rounds ORDER BY year")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()?;
    let mut out = Vec::new();
    for y in years {
        out.extend(load_round(conn, y as i32).await?);
    }
    Ok(out)
}

async fn load_round(conn: &mut sqlx::AnyConnection, year: i32) -> Result<Option<RoundRecord>> {
    let Some(r) = sqlx::query("SELECT year, deadline, approval_by, document, opened_at, operator FROM selection_rounds WHERE year = $1")
        .bind(i64::from(year))
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(RoundRecord {
        year: r.try_get::<i64, _>(0)? as i32,
        deadline: parse_date(&r.try_get::<String, _>(1)?)?,
        approval_by: parse_date(&r.try_get::<String, _>(2)?)?,
        document: r.try_get(3)?,
        opened_at: r.try_get(4)?,
        operator: r.try_get(5)?,
    }))
}

const CANDIDATE_COLUMNS: &str = "id, number, id_number, name, nominator, unit, occupation, level, certificate_no, achievements, phone, notice_from, notice_to, received, bank_name, bank_account, email, source_row";

/// The candidates of a round with everything recorded of them, on a connection.
pub(crate) async fn load_candidates(
    conn: &mut sqlx::AnyConnection,
    year: i32,
) -> Result<Vec<CandidateRecord>> {
    let sql = format!("SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE year = $1 ORDER BY number");
    let mut out: Vec<CandidateRecord> = Vec::new();
    for r in sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(i64::from(year))
        .fetch_all(&mut *conn)
        .await?
    {
        let id_text: String = r.try_get(2)?;
        let id: i64 = r.try_get(0)?;
        let id_number = crate::rules::IdNumber::parse(&id_text)
            .map_err(|_| StoreError::Corrupt(format!("the ID number of candidate {id}")))?;
        let received = parse_date(&r.try_get::<String, _>(13)?)?;
        out.push(CandidateRecord {
            id,
            year,
            number: r.try_get(1)?,
            entry: NominationEntry {
                nominator: r.try_get(4)?,
                name: r.try_get(3)?,
                id_number,
                unit: r.try_get(5)?,
                occupation: r.try_get(6)?,
                level: r.try_get(7)?,
                certificate_no: r.try_get(8)?,
                achievements: r.try_get(9)?,
                phone: r.try_get(10)?,
                notice_from: parse_date(&r.try_get::<String, _>(11)?)?,
                notice_to: parse_date(&r.try_get::<String, _>(12)?)?,
                received: Some(received),
                bank_name: r.try_get(14)?,
                bank_account: r.try_get(15)?,
                email: r.try_get(16)?,
                row: r.try_get::<Option<i64>, _>(17)?.map(|n| n as u32),
            },
            received,
            steps: Vec::new(),
            objections: Vec::new(),
            scores: Vec::new(),
            appointment_id: None,
        });
    }
    let index: HashMap<i64, usize> = out.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    attach_steps(conn, year, &index, &mut out).await?;
    attach_objections(conn, year, &index, &mut out).await?;
    attach_scores(conn, year, &index, &mut out).await?;
    Ok(out)
}

/// Each candidate's steps, in the order recorded.
async fn attach_steps(
    conn: &mut sqlx::AnyConnection,
    year: i32,
    index: &HashMap<i64, usize>,
    out: &mut [CandidateRecord],
) -> Result<()> {
    for r in sqlx::query("SELECT s.candidate_id, s.stage, s.step_date, s.reason, s.document, s.source, s.operator, s.recorded_at FROM candidate_steps s JOIN candidates c ON c.id = s.candidate_id WHERE c.year = $1 ORDER BY s.id")
        .bind(i64::from(year))
        .fetch_all(&mut *conn)
        .await?
    {
        let Some(&i) = index.get(&r.try_get::<i64, _>(0)?) else { continue };
        let code: String = r.try_get(1)?;
        let stage = Stage::parse(&code).ok_or_else(|| StoreError::Corrupt(format!("stage `{code}`")))?;
        out[i].steps.push(StepRecord {
            step: Step {
                stage,
                date: parse_date(&r.try_get::<String, _>(2)?)?,
                reason: r.try_get(3)?,
            },
            document: r.try_get(4)?,
            source: r.try_get(5)?,
            operator: r.try_get(6)?,
            recorded_at: r.try_get(7)?,
        });
    }
    Ok(())
}

/// Each candidate's objections, with how each ended.
async fn attach_objections(
    conn: &mut sqlx::AnyConnection,
    year: i32,
    index: &HashMap<i64, usize>,
    out: &mut [CandidateRecord],
) -> Result<()> {
    for r in sqlx::query("SELECT o.candidate_id, o.id, o.stage, o.received, o.summary, o.raised_by, x.resolved_on, x.outcome, x.note FROM candidate_objections o JOIN candidates c ON c.id = o.candidate_id LEFT JOIN objection_resolutions x ON x.objection_id = o.id WHERE c.year = $1 ORDER BY o.id")
        .bind(i64::from(year))
        .fetch_all(&mut *conn)
        .await?
    {
        let Some(&i) = index.get(&r.try_get::<i64, _>(0)?) else { continue };
        let code: String = r.try_get(2)?;
        let stage = Stage::parse(&code).ok_or_else(|| StoreError::Corrupt(format!("stage `{code}`")))?;
        let resolved_on: Option<String> = r.try_get(6)?;
        let outcome: Option<String> = r.try_get(7)?;
        let resolution = match (resolved_on, outcome) {
            (Some(d), Some(o)) => Some((
                parse_date(&d)?,
                ObjectionOutcome::parse(&o).ok_or_else(|| StoreError::Corrupt(format!("objection outcome `{o}`")))?,
                r.try_get(8)?,
            )),
            _ => None,
        };
        out[i].objections.push(ObjectionRecord {
            id: r.try_get(1)?,
            stage,
            received: parse_date(&r.try_get::<String, _>(3)?)?,
            summary: r.try_get(4)?,
            raised_by: r.try_get(5)?,
            resolution,
        });
    }
    Ok(())
}

/// Each candidate's scores, and the appointment an approved one became.
async fn attach_scores(
    conn: &mut sqlx::AnyConnection,
    year: i32,
    index: &HashMap<i64, usize>,
    out: &mut [CandidateRecord],
) -> Result<()> {
    for r in sqlx::query("SELECT s.candidate_id, s.expert, s.score_centi FROM candidate_scores s JOIN candidates c ON c.id = s.candidate_id WHERE c.year = $1 ORDER BY s.id")
        .bind(i64::from(year))
        .fetch_all(&mut *conn)
        .await?
    {
        let Some(&i) = index.get(&r.try_get::<i64, _>(0)?) else { continue };
        out[i]
            .scores
            .push((r.try_get(1)?, Decimal::new(r.try_get::<i64, _>(2)?, 2)));
    }
    for r in sqlx::query("SELECT x.candidate_id, x.appointment_id FROM candidate_appointments x JOIN candidates c ON c.id = x.candidate_id WHERE c.year = $1")
        .bind(i64::from(year))
        .fetch_all(&mut *conn)
        .await?
    {
        if let Some(&i) = index.get(&r.try_get::<i64, _>(0)?) {
            out[i].appointment_id = Some(r.try_get(1)?);
        }
    }
    Ok(())
}

async fn insert_candidate(
    conn: &mut sqlx::AnyConnection,
    year: i32,
    number: i64,
    e: &NominationEntry,
    received: NaiveDate,
    source_id: i64,
) -> Result<i64> {
    let r = sqlx::query("INSERT INTO candidates (year, number, id_number, name, nominator, unit, occupation, level, certificate_no, achievements, phone, notice_from, notice_to, received, bank_name, bank_account, email, source_id, source_row) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) RETURNING id")
        .bind(i64::from(year))
        .bind(number)
        .bind(e.id_number.as_str())
        .bind(e.name.trim())
        .bind(e.nominator.as_str())
        .bind(e.unit.as_str())
        .bind(e.occupation.as_str())
        .bind(e.level.as_str())
        .bind(e.certificate_no.as_str())
        .bind(e.achievements.as_str())
        .bind(e.phone.as_str())
        .bind(e.notice_from.to_string())
        .bind(e.notice_to.to_string())
        .bind(received.to_string())
        .bind(e.bank_name.clone())
        .bind(e.bank_account.clone())
        .bind(e.email.clone())
        .bind(source_id)
        .bind(e.row.map(i64::from))
        .fetch_one(conn)
        .await?;
    Ok(r.try_get(0)?)
}

async fn update_candidate(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    e: &NominationEntry,
    source_id: i64,
) -> Result<()> {
    sqlx::query("UPDATE candidates SET nominator = $1, unit = $2, occupation = $3, level = $4, certificate_no = $5, achievements = $6, phone = $7, notice_from = $8, notice_to = $9, bank_name = $10, bank_account = $11, email = $12, source_id = $13, source_row = $14 WHERE id = $15")
        .bind(e.nominator.as_str())
        .bind(e.unit.as_str())
        .bind(e.occupation.as_str())
        .bind(e.level.as_str())
        .bind(e.certificate_no.as_str())
        .bind(e.achievements.as_str())
        .bind(e.phone.as_str())
        .bind(e.notice_from.to_string())
        .bind(e.notice_to.to_string())
        .bind(e.bank_name.clone())
        .bind(e.bank_account.clone())
        .bind(e.email.clone())
        .bind(source_id)
        .bind(e.row.map(i64::from))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

async fn insert_step(
    conn: &mut sqlx::AnyConnection,
    candidate_id: i64,
    step: &Step,
    document: Option<&str>,
    source: &str,
    operator: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO candidate_steps (candidate_id, stage, step_date, document, reason, source, operator, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(candidate_id)
        .bind(step.stage.code())
        .bind(step.date.to_string())
        .bind(document.map(str::to_string))
        .bind(step.reason.clone())
        .bind(source)
        .bind(operator)
        .bind(super::now_text())
        .execute(conn)
        .await?;
    Ok(())
}
