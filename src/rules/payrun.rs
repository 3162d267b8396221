//! A payment run's lines: deltas of each month due against what approved runs paid, their
//! kinds, per-person netting and the months no policy covers: `docs/rules.md` §9.

use super::change::{Appointment, Change};
use super::eligibility::Timeline;
use super::money::to_fen;
use super::month::Month;
use super::policy::RulesConfig;
use std::collections::BTreeMap;
use std::fmt;

/// The kind of a run line (明细).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LineKind {
    /// A month of the run's year.
    Regular,
    /// A cohort-year month of the year before, deferred to this run (次年发放).
    Deferred,
    /// A month that was due earlier, or already had a line, and is paid now (补发).
    Arrears,
    /// A negative delta: money to be paid back (追缴).
    Recovery,
    /// A failed payment of an earlier run paid again (重发). Never computed from months:
    /// a run's re-issues are kept beside its lines and never count as a month paid.
    Reissue,
    /// An instalment of a planned recovery taken from what the bank would pay (分期抵扣):
    /// kept beside the lines, like re-issues.
    Offset,
}

impl LineKind {
    pub fn code(self) -> &'static str {
        match self {
            LineKind::Regular => "regular",
            LineKind::Deferred => "deferred",
            LineKind::Arrears => "arrears",
            LineKind::Recovery => "recovery",
            LineKind::Reissue => "reissue",
            LineKind::Offset => "offset",
        }
    }

    /// Every kind, in a fixed order ([`pack_lines`]' one-byte codes are places in it).
    pub const ALL: [LineKind; 6] = [
        LineKind::Regular,
        LineKind::Deferred,
        LineKind::Arrears,
        LineKind::Recovery,
        LineKind::Reissue,
        LineKind::Offset,
    ];

    pub fn from_code(c: &str) -> Option<LineKind> {
        LineKind::ALL
            .into_iter()
            .find(|k| k.code() == c || k.short() == c)
    }

    /// One-letter code for compact storage.
    pub fn short(self) -> &'static str {
        match self {
            LineKind::Regular => "r",
            LineKind::Deferred => "d",
            LineKind::Arrears => "a",
            LineKind::Recovery => "x",
            LineKind::Reissue => "f",
            LineKind::Offset => "o",
        }
    }

    /// Chinese label for workbooks.
    pub fn label(self) -> &'static str {
        match self {
            LineKind::Regular => "当年发放",
            LineKind::Deferred => "次年发放",
            LineKind::Arrears => "补发",
            LineKind::Recovery => "追缴",
            LineKind::Reissue => "重发",
            LineKind::Offset => "分期抵扣",
        }
    }
}

impl fmt::Display for LineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One month's delta in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub month: Month,
    pub kind: LineKind,
    /// Delta in fen (negative for recoveries).
    pub fen: i64,
}

/// What approved runs paid for one month of one appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Paid {
    pub fen: i64,
    /// Whether an approved run has a line for the month (even if the lines sum to zero).
    pub has_line: bool,
}

/// One appointment's input to a run: the appointment and its person's recorded changes.
#[derive(Debug, Clone)]
pub struct AppointmentInput<'a> {
    pub appointment: &'a Appointment,
    /// The person's recorded, non-voided changes.
    pub changes: &'a [Change],
    /// What approved runs paid, by month.
    pub paid: &'a BTreeMap<Month, Paid>,
    /// The appointment was voided as recorded in error: it earns nothing, so whatever was
    /// paid for it is recovered.
    pub void: bool,
}

/// The result of a run for one appointment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppointmentResult {
    pub lines: Vec<Line>,
    /// Months due that no policy version covers.
    pub uncovered: Vec<Month>,
}

impl AppointmentResult {
    pub fn net(&self) -> i64 {
        self.lines.iter().map(|l| l.fen).sum()
    }
}

/// Computes one appointment's lines for the run of `year` (docs/rules.md "When money is paid").
pub fn compute_appointment(
    year: i32,
    input: &AppointmentInput<'_>,
    cfg: &RulesConfig,
) -> AppointmentResult {
    let a = input.appointment;
    let timeline = Timeline::new(a, input.changes, cfg);
    let (first, last) = timeline.term_months();
    let mut result = AppointmentResult::default();
    let mut months: Vec<Month> = first
        .through(last)
        .take_while(|m| a.due_year(*m) <= year)
        .collect();
    // Months paid but outside the term (cannot happen with a fixed approval date; kept safe).
    for m in input.paid.keys() {
        if (*m < first || *m > last) && a.due_year(*m) <= year {
            months.push(*m);
        }
    }
    for m in months {
        let breakdown = timeline.month(m, cfg);
        if breakdown.uncovered && !input.void {
            result.uncovered.push(m);
        }
        let amount = if input.void || m < first || m > last {
            0
        } else {
            to_fen(breakdown.amount)
        };
        let paid = input.paid.get(&m).copied().unwrap_or_default();
        let delta = amount - paid.fen;
        if delta == 0 {
            continue;
        }
        let kind = line_kind(year, a.due_year(m), m, delta, paid.has_line);
        result.lines.push(Line {
            month: m,
            kind,
            fen: delta,
        });
    }
    result.lines.sort_by_key(|l| l.month);
    result.uncovered.sort();
    result
}

/// The kind of a line (docs/rules.md: recovery, arrears, regular, deferred).
pub fn line_kind(year: i32, due: i32, month: Month, delta: i64, has_line: bool) -> LineKind {
    if delta < 0 {
        LineKind::Recovery
    } else if due < year || has_line {
        LineKind::Arrears
    } else if month.year() == year {
        LineKind::Regular
    } else {
        LineKind::Deferred
    }
}

/// A person's total in a run, split into what the bank pays and what is recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Net {
    /// Sum of all lines (应发/应追).
    pub net: i64,
    /// What goes into the bank file (≥ 0).
    pub bank: i64,
    /// What goes onto the recovery list (≤ 0).
    pub recovery: i64,
}

/// Nets a person's lines: with offsetting, a positive sum is paid and a negative one
/// recovered; without, positive lines are paid and negative ones recovered, each summed.
pub fn net_person<'a>(lines: impl IntoIterator<Item = &'a Line>, offset: bool) -> Net {
    let mut pos = 0i64;
    let mut neg = 0i64;
    for l in lines {
        if l.fen >= 0 {
            pos += l.fen;
        } else {
            neg += l.fen;
        }
    }
    let net = pos + neg;
    if offset {
        Net {
            net,
            bank: net.max(0),
            recovery: net.min(0),
        }
    } else {
        Net {
            net,
            bank: pos,
            recovery: neg,
        }
    }
}

/// The most months one stretch of [`encode_lines`]' text may stand for (`*999`): longer
/// stretches are written as several, and [`decode_lines`] refuses a larger count rather than
/// allocate what a damaged row asks for.
pub const MAX_STRETCH: usize = 999;

/// Encodes lines compactly for storage: each line as its month, kind and amount
/// (`2023-05r30645`), and a stretch of lines on consecutive months with one kind and one
/// amount as its first line and how many months (`2024-01r50000*12`, a year paid in full), so a
/// run item is a few dozen bytes however many months it pays. Lines stay in their order;
/// [`decode_lines`] gives them back exactly.
///
/// ```
/// use chieftech::rules::payrun::{decode_lines, encode_lines, Line, LineKind};
/// let lines: Vec<Line> = (1..=12)
///     .map(|m| Line { month: format!("2024-{m:02}").parse().unwrap(), kind: LineKind::Regular, fen: 50_000 })
///     .collect();
/// assert_eq!(encode_lines(&lines), "2024-01r50000*12");
/// assert_eq!(decode_lines("2024-01r50000*12"), Some(lines));
/// ```
pub fn encode_lines(lines: &[Line]) -> String {
    let mut s = String::with_capacity(16 * lines.len().min(4));
    let mut rest = lines;
    while let Some(first) = rest.first().copied() {
        let stretch = stretch_len(rest, MAX_STRETCH);
        if !s.is_empty() {
            s.push(',');
        }
        first.month.push_to(&mut s);
        s.push_str(first.kind.short());
        push_int(&mut s, first.fen);
        if stretch > 1 {
            s.push('*');
            push_int(&mut s, stretch as i64);
        }
        rest = &rest[stretch..];
    }
    s
}

/// How many lines at the start of `lines` (at most `max`) are one stretch: the first line and
/// those after it on the months that follow, with its kind and amount.
fn stretch_len(lines: &[Line], max: usize) -> usize {
    let Some(&first) = lines.first() else {
        return 0;
    };
    lines
        .iter()
        .take(max)
        .zip(stretch_from(first, i32::MAX))
        .take_while(|(l, expected)| **l == *expected)
        .count()
}

/// The stretch of `months` lines that starts with `first`: its kind and amount on each month
/// from its own on.
fn stretch_from(first: Line, months: i32) -> impl Iterator<Item = Line> {
    (0..months).map(move |n| Line {
        month: first.month.plus(n),
        ..first
    })
}

/// Appends an integer in decimal, as `Display` writes it.
fn push_int(s: &mut String, v: i64) {
    if v < 0 {
        s.push('-');
    }
    let mut n = v.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // ASCII digits only.
    s.push_str(std::str::from_utf8(&digits[i..]).unwrap_or_default());
}

/// Inverse of [`encode_lines`]; `None` on a malformed text (a stretch of no months or of
/// more than [`MAX_STRETCH`] included). Text written before stretches were (one line a month)
/// reads as it always did.
pub fn decode_lines(s: &str) -> Option<Vec<Line>> {
    let mut lines = Vec::new();
    if s.is_empty() {
        return Some(lines);
    }
    for item in s.split(',') {
        let month: Month = item.get(..7)?.parse().ok()?;
        let kind = LineKind::from_code(item.get(7..8)?)?;
        let amount = item.get(8..)?;
        let (fen, months) = match amount.split_once('*') {
            None => (amount, 1),
            Some((fen, n)) => (
                fen,
                n.parse::<usize>()
                    .ok()
                    .filter(|n| (2..=MAX_STRETCH).contains(n))?,
            ),
        };
        let fen: i64 = fen.parse().ok()?;
        lines.extend(stretch_from(Line { month, kind, fen }, months as i32));
    }
    Some(lines)
}

/// The bytes of one run of lines in [`pack_lines`]' form.
const PACKED_RUN: usize = 14;

/// Packs lines into bytes for holding many people's in memory (a run's notices at province
/// scale; the ledger stores [`encode_lines`]' text): each stretch of lines on consecutive months
/// with one kind and one amount is one run of [`PACKED_RUN`] bytes (its first month's index, how
/// many months, the kind's place in [`LineKind::ALL`], the amount), so a year paid in full is
/// 14 bytes instead of 12 lines of text. Appends to `out`; [`unpack_lines`] gives back the same
/// lines in the same order.
pub fn pack_lines(lines: &[Line], out: &mut Vec<u8>) {
    let mut rest = lines;
    while let Some(first) = rest.first().copied() {
        let run = stretch_len(rest, usize::from(u8::MAX));
        let kind = LineKind::ALL.iter().position(|k| *k == first.kind);
        out.extend_from_slice(&first.month.index().to_le_bytes());
        out.push(run as u8);
        out.push(kind.unwrap_or_default() as u8);
        out.extend_from_slice(&first.fen.to_le_bytes());
        rest = &rest[run..];
    }
}

/// Inverse of [`pack_lines`]; `None` on bytes it did not write.
pub fn unpack_lines(bytes: &[u8]) -> Option<Vec<Line>> {
    let mut lines = Vec::new();
    for run in bytes.chunks(PACKED_RUN) {
        let run: &[u8; PACKED_RUN] = run.try_into().ok()?;
        let [m0, m1, m2, m3, count, kind, fen @ ..] = *run;
        let month = Month::from_index(i32::from_le_bytes([m0, m1, m2, m3]));
        let kind = *LineKind::ALL.get(usize::from(kind))?;
        let fen = i64::from_le_bytes(fen);
        lines.extend(stretch_from(Line { month, kind, fen }, i32::from(count)));
    }
    Some(lines)
}

/// Encodes a list of months: `2026-09,2026-10`.
pub fn encode_months(months: &[Month]) -> String {
    months
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Inverse of [`encode_months`].
pub fn decode_months(s: &str) -> Option<Vec<Month>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    s.split(',').map(|m| m.parse().ok()).collect()
}
