//! Matching a bank return file (回盘) to the payments of an exported run: `docs/rules.md`,
//! "After the bank".
//!
//! Pure: the payments (each bank-file row an export wrote, with the state the ledger has for
//! it) and the return file's rows go in; what to record, what is already recorded, and every
//! mismatch come out. Nothing here reads a file or a database.
//!
//! - A row that names a batch reference and a row number (序号) is matched to that row of that
//!   bank file part; its amount must be the payment's, and an ID or account it also gives must
//!   be the payment's.
//! - A row without them is matched by ID number (or account) and amount to a payment of the
//!   run not matched by an earlier row.
//! - A payment answers once: a row saying what the ledger already has is a no-op (a second
//!   reconcile of the same file changes nothing); a row saying the opposite is refused with
//!   the reason (a failed payment is owed and re-issued, never marked paid afterwards).
//! - A payment of a batch the file covers (of the whole run when the file names no batch) with
//!   no row in the file and no earlier answer is missing.

use chrono::NaiveDate;
use std::collections::HashMap;

/// A payment's state (exported → paid | failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentState {
    /// Sent to the bank, not answered yet.
    Exported,
    Paid {
        date: NaiveDate,
    },
    Failed {
        date: NaiveDate,
        reason: String,
    },
}

impl PaymentState {
    /// The state's code (`exported`, `paid`, `failed`).
    pub fn code(&self) -> &'static str {
        match self {
            PaymentState::Exported => "exported",
            PaymentState::Paid { .. } => "paid",
            PaymentState::Failed { .. } => "failed",
        }
    }

    /// The state in Chinese, for workbooks and notices.
    pub fn label(&self) -> &'static str {
        match self {
            PaymentState::Exported => "已报送银行",
            PaymentState::Paid { .. } => "已到账",
            PaymentState::Failed { .. } => "发放失败",
        }
    }
}

/// One bank-file row of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub batch_ref: String,
    /// 1-based row (序号) within its part.
    pub row_no: u32,
    pub id_number: String,
    pub account: String,
    pub fen: i64,
    pub state: PaymentState,
}

/// One row of a return file, as read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReturnLine {
    /// The row (or line) of the file, 1-based.
    pub row: u32,
    pub batch_ref: Option<String>,
    pub row_no: Option<u32>,
    pub id_number: Option<String>,
    pub account: Option<String>,
    pub fen: i64,
    pub paid: bool,
    pub reason: Option<String>,
    pub date: Option<NaiveDate>,
}

/// What the bank said of a payment, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The row of the file.
    pub row: u32,
    /// Index into the payments given.
    pub payment: usize,
    /// `Paid` or `Failed`.
    pub state: PaymentState,
}

/// A row that does not match, or a payment the file leaves out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The row of the file; None: a payment missing from the file.
    pub row: Option<u32>,
    /// The column concerned (a field name: `batch_ref`, `row_no`, `id_number`, `account`,
    /// `amount`, `status`), when one is.
    pub column: Option<&'static str>,
    /// What is wrong (Chinese, for the clerk).
    pub message: String,
}

/// The result of matching a return file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reconciliation {
    /// Answers to record (payments still exported).
    pub answers: Vec<Answer>,
    /// Rows that say what the ledger already has (row, payment).
    pub unchanged: Vec<(u32, usize)>,
    pub mismatches: Vec<Mismatch>,
}

impl Reconciliation {
    /// Whether the whole file matches.
    pub fn is_clean(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Matches `rows` to `payments`; `today` dates an answer the file gives no date for.
pub fn reconcile(payments: &[Payment], rows: &[ReturnLine], today: NaiveDate) -> Reconciliation {
    let index = Index::new(payments);
    let mut out = Reconciliation::default();
    // payment → the row that answered it in this file.
    let mut answered: HashMap<usize, u32> = HashMap::new();
    // The batches the file covers: those its rows name or answer.
    let mut batches: Vec<&str> = Vec::new();
    for row in rows {
        if let Some(b) = row.batch_ref.as_deref() {
            if !batches.contains(&b) {
                batches.push(b);
            }
        }
        match find(&index, payments, row, &answered) {
            Ok(p) => {
                answered.insert(p, row.row);
                if !batches.contains(&payments[p].batch_ref.as_str()) {
                    batches.push(payments[p].batch_ref.as_str());
                }
                settle(&mut out, payments, p, row, today);
            }
            Err(m) => out.mismatches.push(m),
        }
    }
    for (i, p) in payments.iter().enumerate() {
        let covered = batches.contains(&p.batch_ref.as_str());
        if covered && p.state == PaymentState::Exported && !answered.contains_key(&i) {
            out.mismatches.push(Mismatch {
                row: None,
                column: None,
                message: format!(
                    "代发文件（批次 {}）第{}行，金额 {} 元，回盘文件中没有这一行",
                    p.batch_ref,
                    p.row_no,
                    super::money::fen_str(p.fen)
                ),
            });
        }
    }
    out
}

/// Payments by (batch, row) and by ID number and account.
struct Index<'a> {
    by_row: HashMap<(&'a str, u32), usize>,
    by_id: HashMap<&'a str, Vec<usize>>,
    by_account: HashMap<&'a str, Vec<usize>>,
    batches: Vec<&'a str>,
}

impl<'a> Index<'a> {
    fn new(payments: &'a [Payment]) -> Index<'a> {
        let mut ix = Index {
            by_row: HashMap::new(),
            by_id: HashMap::new(),
            by_account: HashMap::new(),
            batches: Vec::new(),
        };
        for (i, p) in payments.iter().enumerate() {
            ix.by_row.insert((p.batch_ref.as_str(), p.row_no), i);
            ix.by_id.entry(p.id_number.as_str()).or_default().push(i);
            ix.by_account.entry(p.account.as_str()).or_default().push(i);
            if !ix.batches.contains(&p.batch_ref.as_str()) {
                ix.batches.push(p.batch_ref.as_str());
            }
        }
        ix
    }
}

fn mismatch(row: &ReturnLine, column: &'static str, message: String) -> Mismatch {
    Mismatch {
        row: Some(row.row),
        column: Some(column),
        message,
    }
}

/// The payment a row answers, or why it answers none.
fn find(
    index: &Index<'_>,
    payments: &[Payment],
    row: &ReturnLine,
    answered: &HashMap<usize, u32>,
) -> Result<usize, Mismatch> {
    let p = match (
        row.batch_ref.as_deref(),
        row.row_no,
        index.batches.as_slice(),
    ) {
        (Some(batch), Some(no), _) => find_by_row(index, payments, row, batch, no)?,
        // A file without batch references answers a run of one part by its rows.
        (None, Some(no), [only]) => find_by_row(index, payments, row, only, no)?,
        _ => find_by_person(index, payments, row, answered)?,
    };
    if let Some(first) = answered.get(&p) {
        return Err(mismatch(
            row,
            "row_no",
            format!(
                "与第{first}行重复：同一笔款项（批次 {} 第{}行）出现两次",
                payments[p].batch_ref, payments[p].row_no
            ),
        ));
    }
    Ok(p)
}

fn find_by_row(
    index: &Index<'_>,
    payments: &[Payment],
    row: &ReturnLine,
    batch: &str,
    no: u32,
) -> Result<usize, Mismatch> {
    if !index.batches.contains(&batch) {
        return Err(mismatch(
            row,
            "batch_ref",
            format!(
                "批次号 {batch} 不是本次发放的批次（本次为 {}）",
                index.batches.join("、")
            ),
        ));
    }
    let Some(&p) = index.by_row.get(&(batch, no)) else {
        return Err(mismatch(
            row,
            "row_no",
            format!("批次 {batch} 的代发文件没有第{no}行"),
        ));
    };
    let pay = &payments[p];
    if pay.fen != row.fen {
        return Err(amount_differs(row, pay));
    }
    if row
        .id_number
        .as_deref()
        .is_some_and(|id| id != pay.id_number)
    {
        return Err(mismatch(
            row,
            "id_number",
            format!("身份证号码与代发文件（批次 {batch} 第{no}行）不符"),
        ));
    }
    if row.account.as_deref().is_some_and(|a| a != pay.account) {
        return Err(mismatch(
            row,
            "account",
            format!("账号与代发文件（批次 {batch} 第{no}行）不符"),
        ));
    }
    Ok(p)
}

fn amount_differs(row: &ReturnLine, pay: &Payment) -> Mismatch {
    mismatch(
        row,
        "amount",
        format!(
            "金额不符：代发文件（批次 {} 第{}行）为 {} 元，回盘为 {} 元",
            pay.batch_ref,
            pay.row_no,
            super::money::fen_str(pay.fen),
            super::money::fen_str(row.fen)
        ),
    )
}

/// A row without batch and row number: by ID number (else account) and amount, the first
/// payment not yet answered in this file.
fn find_by_person(
    index: &Index<'_>,
    payments: &[Payment],
    row: &ReturnLine,
    answered: &HashMap<usize, u32>,
) -> Result<usize, Mismatch> {
    let (candidates, column, what) = match (row.id_number.as_deref(), row.account.as_deref()) {
        (Some(id), _) => (index.by_id.get(id), "id_number", "身份证号码"),
        (None, Some(acc)) => (index.by_account.get(acc), "account", "账号"),
        (None, None) => {
            return Err(mismatch(
                row,
                "id_number",
                "这一行既没有批次号和序号，也没有身份证号码或账号，无法对应到代发文件的行".into(),
            ))
        }
    };
    let Some(candidates) = candidates else {
        return Err(mismatch(
            row,
            column,
            format!("本次发放的代发文件中没有这个{what}"),
        ));
    };
    let same_amount: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&p| payments[p].fen == row.fen)
        .collect();
    match same_amount.iter().find(|p| !answered.contains_key(p)) {
        Some(&p) => Ok(p),
        None if !same_amount.is_empty() => Ok(same_amount[0]),
        None => Err(amount_differs(row, &payments[candidates[0]])),
    }
}

/// Records the row's answer for payment `p`, or notes it as already recorded, or refuses an
/// answer contrary to the recorded one.
fn settle(
    out: &mut Reconciliation,
    payments: &[Payment],
    p: usize,
    row: &ReturnLine,
    today: NaiveDate,
) {
    let date = row.date.unwrap_or(today);
    let state = if row.paid {
        PaymentState::Paid { date }
    } else {
        PaymentState::Failed {
            date,
            reason: row
                .reason
                .clone()
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| "银行未说明原因".into()),
        }
    };
    let pay = &payments[p];
    match (&pay.state, row.paid) {
        (PaymentState::Exported, _) => out.answers.push(Answer {
            row: row.row,
            payment: p,
            state,
        }),
        (PaymentState::Paid { .. }, true) | (PaymentState::Failed { .. }, false) => {
            out.unchanged.push((row.row, p))
        }
        (PaymentState::Failed { date, reason }, true) => out.mismatches.push(mismatch(
            row,
            "status",
            format!(
                "这笔款项（批次 {} 第{}行）已于 {date} 记为发放失败（{reason}），不能再记为成功：失败的款项由下一次发放重发；如银行确已入账，请与银行核实后联系区人社局",
                pay.batch_ref, pay.row_no
            ),
        )),
        (PaymentState::Paid { date }, false) => out.mismatches.push(mismatch(
            row,
            "status",
            format!(
                "这笔款项（批次 {} 第{}行）已于 {date} 记为成功到账，不能再记为失败；请与银行核实",
                pay.batch_ref, pay.row_no
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn payments() -> Vec<Payment> {
        (1..=4)
            .map(|i| Payment {
                batch_ref: if i <= 3 {
                    "CT-2024-R1-P1"
                } else {
                    "CT-2024-R1-P2"
                }
                .into(),
                row_no: if i <= 3 { i } else { 1 },
                id_number: format!("ID{i}"),
                account: format!("AC{i}"),
                fen: 600_000 + i64::from(i),
                state: PaymentState::Exported,
            })
            .collect()
    }

    fn by_row(p: &Payment, paid: bool, row: u32) -> ReturnLine {
        ReturnLine {
            row,
            batch_ref: Some(p.batch_ref.clone()),
            row_no: Some(p.row_no),
            fen: p.fen,
            paid,
            reason: (!paid).then(|| "账户已销户".to_string()),
            ..Default::default()
        }
    }

    #[test]
    fn a_whole_batch_matches_by_row() {
        let ps = payments();
        let rows: Vec<ReturnLine> = ps[..3]
            .iter()
            .enumerate()
            .map(|(i, p)| by_row(p, i != 1, i as u32 + 2))
            .collect();
        let r = reconcile(&ps, &rows, d("2025-01-10"));
        assert!(r.is_clean(), "{:?}", r.mismatches);
        assert_eq!(r.answers.len(), 3);
        assert_eq!(
            r.answers[1].state,
            PaymentState::Failed {
                date: d("2025-01-10"),
                reason: "账户已销户".into()
            }
        );
        // The second part is not in the file and is not missing.
        assert!(r.answers.iter().all(|a| a.payment < 3));
    }

    #[test]
    fn a_row_left_out_of_a_covered_batch_is_missing() {
        let ps = payments();
        let rows = vec![by_row(&ps[0], true, 2), by_row(&ps[2], true, 3)];
        let r = reconcile(&ps, &rows, d("2025-01-10"));
        assert_eq!(r.mismatches.len(), 1);
        assert_eq!(r.mismatches[0].row, None);
        assert!(r.mismatches[0].message.contains("第2行"));
    }

    #[test]
    fn unknown_batch_row_amount_and_duplicates_are_named() {
        let ps = payments();
        let mut unknown_batch = by_row(&ps[0], true, 2);
        unknown_batch.batch_ref = Some("CT-1999-R1-P1".into());
        let mut unknown_row = by_row(&ps[0], true, 3);
        unknown_row.row_no = Some(99);
        let mut wrong_amount = by_row(&ps[1], true, 4);
        wrong_amount.fen += 1;
        let dup_a = by_row(&ps[2], true, 5);
        let dup_b = by_row(&ps[2], true, 6);
        let r = reconcile(
            &ps,
            &[unknown_batch, unknown_row, wrong_amount, dup_a, dup_b],
            d("2025-01-10"),
        );
        let cols: Vec<(Option<u32>, Option<&str>)> =
            r.mismatches.iter().map(|m| (m.row, m.column)).collect();
        assert!(cols.contains(&(Some(2), Some("batch_ref"))));
        assert!(cols.contains(&(Some(3), Some("row_no"))));
        assert!(cols.contains(&(Some(4), Some("amount"))));
        assert!(cols.contains(&(Some(6), Some("row_no"))));
        assert!(r
            .mismatches
            .iter()
            .any(|m| m.message.contains("与第5行重复")));
    }

    #[test]
    fn rows_without_batch_match_by_id_and_amount() {
        let ps = payments();
        let rows: Vec<ReturnLine> = ps
            .iter()
            .enumerate()
            .map(|(i, p)| ReturnLine {
                row: i as u32 + 2,
                id_number: Some(p.id_number.clone()),
                fen: p.fen,
                paid: true,
                ..Default::default()
            })
            .collect();
        let r = reconcile(&ps, &rows, d("2025-01-10"));
        assert!(r.is_clean());
        assert_eq!(r.answers.len(), 4);
        let mut wrong = rows[0].clone();
        wrong.fen = 1;
        let r = reconcile(&ps, &[wrong], d("2025-01-10"));
        assert_eq!(r.mismatches[0].column, Some("amount"));
        // A file that answers no row covers no batch: nothing is missing.
        assert_eq!(r.mismatches.len(), 1);
        // A file answering part of the first batch leaves the rest of that batch missing.
        let r = reconcile(&ps, &rows[..1], d("2025-01-10"));
        assert_eq!(r.mismatches.len(), 2, "{:?}", r.mismatches);
        assert!(r.mismatches.iter().all(|m| m.row.is_none()));
    }

    #[test]
    fn a_second_answer_is_a_no_op_and_a_contrary_one_is_refused() {
        let mut ps = payments();
        ps[0].state = PaymentState::Paid {
            date: d("2025-01-05"),
        };
        ps[1].state = PaymentState::Failed {
            date: d("2025-01-05"),
            reason: "户名不符".into(),
        };
        let rows = vec![
            by_row(&ps[0], true, 2),
            by_row(&ps[1], false, 3),
            by_row(&ps[2], true, 4),
        ];
        let r = reconcile(&ps, &rows, d("2025-01-10"));
        assert!(r.is_clean());
        assert_eq!(r.unchanged, vec![(2, 0), (3, 1)]);
        assert_eq!(r.answers.len(), 1);
        let later_paid = vec![by_row(&ps[1], true, 7)];
        let r = reconcile(&ps, &later_paid, d("2025-01-10"));
        assert_eq!(r.mismatches.len(), 2, "{:?}", r.mismatches);
        assert!(r.mismatches[0].message.contains("户名不符"));
        assert_eq!(r.mismatches[0].column, Some("status"));
    }
}
