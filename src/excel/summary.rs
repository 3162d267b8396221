//! The finance office's summary workbook of an approved run (`summary-<year>-run<N>.xlsx`).
//!
//! Sheets: 汇总 (totals by unit, by cohort and by line kind, head counts, the grand total in
//! figures and in Chinese capitals, the control totals of every bank file part with its batch
//! reference, signature lines with 制表日期 and 单位（盖章）, and a chart of totals by unit on its
//! own page), 明细 (every line with its reason), 追缴 (the recovery list with reasons and
//! signature lines) and 未覆盖 (one line per person whose months no policy version covers).
//!
//! The writer is pure: [`SummaryModel`] holds everything, built by [`crate::jobs::export`].
//!
//! Printing: every sheet is A4 landscape, fitted to one page wide, with column widths taken
//! from the content (a CJK character counts two) so that fitting never shrinks a page below
//! about 85 %; wrapped cells get row heights for their lines; each sheet starts with the title
//! and a line with 编制单位, year and batch, repeated on every printed page with the table's
//! header; page numbers are in the footer; manual page breaks keep each table of 汇总 whole
//! (see [`Pager`]) and put the chart on its own page. Amounts are `#,##0.00`. Text that starts
//! with `=`, `+`, `-` or `@` is written as quote-prefixed text, never as a formula.

use super::bank::put_text;
use super::style::{self, headers, set_widths, yuan};
use crate::rules::money::capitals;
use crate::rules::{LineKind, Month};
use chrono::NaiveDateTime;
use rust_xlsxwriter::{
    Chart, ChartType, DocProperties, Format, FormatAlign, Workbook, Worksheet, XlsxError,
};
use std::collections::BTreeMap;
use std::io::{Seek, Write};

/// Sheet names, in order.
pub const SHEETS: [&str; 5] = ["汇总", "明细", "追缴", "未覆盖", "追缴余额"];

/// One unit's totals; a person counts in their unit on the run's date (`rules::unit::unit_on`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnitTotal {
    pub unit: String,
    pub people_paid: usize,
    /// Paid through the bank (≥ 0).
    pub paid_fen: i64,
    pub people_recovering: usize,
    /// To be recovered (≤ 0).
    pub recovered_fen: i64,
}

/// One cohort's (评选年度) lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CohortTotal {
    pub cohort_year: i32,
    pub people: usize,
    pub lines: usize,
    /// Sum of positive lines.
    pub positive_fen: i64,
    /// Sum of negative lines (≤ 0).
    pub negative_fen: i64,
}

/// One line kind's count and sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindTotal {
    pub kind: LineKind,
    pub lines: usize,
    pub fen: i64,
}

/// The control totals of one bank file part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartControl {
    pub batch_ref: String,
    pub file_name: String,
    /// The bank template's bank.
    pub bank: String,
    pub rows: u64,
    pub fen: i64,
    pub sha256: String,
}

/// One line of the run (明细).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailRow {
    /// As shown (masked by the caller).
    pub id_number: String,
    pub name: String,
    pub unit: String,
    pub cohort_year: i32,
    pub approval_no: String,
    /// The month, or the first of a stretch of months.
    pub month: Month,
    /// The last month of the stretch (`month` for one month).
    pub to: Month,
    pub kind: LineKind,
    /// The row's amount (a stretch's sum).
    pub fen: i64,
    pub reason: String,
}

impl DetailRow {
    /// The 月份 cell: `2024-03`, or `2024-01至2024-12` for a stretch.
    pub fn months_text(&self) -> String {
        if self.to == self.month {
            self.month.to_string()
        } else {
            format!("{}至{}", self.month, self.to)
        }
    }
}

/// One person on the recovery list (追缴).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryRow {
    pub id_number: String,
    pub name: String,
    pub unit: String,
    /// To be recovered (< 0).
    pub fen: i64,
    /// The months concerned, e.g. `2022-09至2022-12`.
    pub months: String,
    pub reason: String,
}

/// One person's open recovery balance (追缴余额): what runs recovered, what was paid back or
/// offset, what is still open, and the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceRow {
    pub id_number: String,
    pub name: String,
    pub due_fen: i64,
    pub recovered_fen: i64,
    pub open_fen: i64,
    /// `自2025-01起分12个月，每月500.00元`, or 未分期（一次退回）.
    pub plan: String,
}

/// One person with months no policy covers (未覆盖).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UncoveredRow {
    pub id_number: String,
    pub name: String,
    pub unit: String,
    /// The months as ranges, e.g. `2026-09至2026-12`.
    pub months: String,
    /// How many months.
    pub count: usize,
    /// What the months would earn at the last policy's rate, when it can be told.
    pub fen: Option<i64>,
}

/// Everything the summary workbook shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SummaryModel {
    /// `2025年度张店区首席技师津贴发放汇总表`
    pub title: String,
    pub organization: String,
    pub year: i32,
    pub seq: i64,
    pub supplementary: bool,
    /// The run's business date (计算日期).
    pub today: String,
    pub computed_by: String,
    pub approved_by: String,
    /// Date of approval, `2025-12-01` (also the 制表日期).
    pub approved_on: String,
    pub units: Vec<UnitTotal>,
    pub cohorts: Vec<CohortTotal>,
    pub kinds: Vec<KindTotal>,
    pub paid_fen: i64,
    /// ≤ 0.
    pub recovered_fen: i64,
    pub people_paid: usize,
    pub people_recovering: usize,
    pub parts: Vec<PartControl>,
    /// Line rows per 明细 sheet: more continue on 明细(2), 明细(3)… (below Excel's row limit).
    pub detail_rows_per_sheet: usize,
    /// Up to this many lines each 明细 row is as high as its wrapped texts; above it rows keep
    /// one line and do not wrap (a row height costs memory until the workbook is saved).
    pub detail_fitted_rows_max: usize,
    pub recoveries: Vec<RecoveryRow>,
    /// Every open recovery balance when the run was approved (追缴余额).
    pub balances: Vec<BalanceRow>,
    pub uncovered: Vec<UncoveredRow>,
    /// Printed under the 未覆盖 table: why the months are not paid, how the amount is told.
    pub uncovered_note: String,
    /// Explanatory lines printed under the totals.
    pub notes: Vec<String>,
}

impl SummaryModel {
    /// Uncovered months of all people.
    pub fn uncovered_months(&self) -> usize {
        self.uncovered.iter().map(|u| u.count).sum()
    }
}

/// Where things are on the 汇总 sheet (zero-based rows), for tests and readers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SummaryLayout {
    /// Header row of the unit table; units follow, then its 合计 row.
    pub unit_header: u32,
    pub cohort_header: u32,
    pub kind_header: u32,
    /// Row of 发放总额（小写）; 大写 is the next row.
    pub grand_total: u32,
    pub parts_header: u32,
    pub signatures: u32,
    /// The row the chart is anchored at (none without units).
    pub chart: Option<u32>,
    /// The manual page breaks of 汇总 (a page starts at each of these rows).
    pub page_breaks: Vec<u32>,
}

// ---------------------------------------------------------------------------------------------
// Print layout helpers, shared by the other workbooks chieftech writes.

/// Whether a character takes two columns (CJK ideographs, kana, hangul, full-width forms).
pub fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

/// The width of a text in Excel's character units: a CJK character counts two; of a text of
/// several lines, the longest.
pub fn text_width(s: &str) -> f64 {
    s.lines()
        .map(|l| l.chars().map(|c| if is_wide(c) { 2.0 } else { 1.0 }).sum())
        .fold(0.0, f64::max)
}

/// A column width for these texts (and the header), plus padding, between `min` and `max`.
pub fn fit_width<'a>(texts: impl IntoIterator<Item = &'a str>, min: f64, max: f64) -> f64 {
    let w = texts.into_iter().map(text_width).fold(0.0, f64::max) + 1.5;
    w.clamp(min, max)
}

/// The lines a text takes in a wrapped cell `width` characters wide.
pub fn wrapped_lines(s: &str, width: f64) -> u32 {
    let room = (width - 1.5).max(1.0);
    s.split('\n')
        .map(|l| ((text_width(l) / room).ceil() as u32).max(1))
        .sum::<u32>()
        .max(1)
}

/// Points per printed line of 10-point text (CJK fonts are taller than Latin ones).
pub const LINE_PT: f64 = 14.0;

/// The height (points) of a row whose tallest cell has `lines` lines.
pub fn lines_height(lines: u32) -> f64 {
    (f64::from(lines) * LINE_PT + 4.0).max(18.0)
}

/// `2025-12-01` → `2025年12月1日` (other text unchanged).
pub fn cn_date(iso: &str) -> String {
    match chrono::NaiveDate::parse_from_str(iso.get(..10).unwrap_or(iso), "%Y-%m-%d") {
        Ok(d) => crate::rules::month::cn_date(d),
        Err(_) => iso.to_string(),
    }
}

/// The printable height (points) of an A4 landscape page with the margins of [`print_setup`],
/// less a safety allowance for the footer: what [`Pager`] fills.
pub const PAGE_PT: f64 = 480.0;

/// Decides manual page breaks: rows are grouped in blocks (a table with its title, header and
/// 合计 row; the signatures); a block that does not fit on the rest of a page starts a new
/// one, a block taller than a page is broken between rows. Heights are the explicit row
/// heights, so the breaks hold whatever the printer's scale (fitting to width only shrinks).
#[derive(Debug, Clone)]
pub struct Pager {
    heights: BTreeMap<u32, f64>,
    blocks: Vec<(u32, u32, bool)>,
    repeat_pt: f64,
}

impl Pager {
    /// A pager for a sheet whose repeated rows (title, header) take `repeat_pt` points.
    pub fn new(repeat_pt: f64) -> Pager {
        Pager {
            heights: BTreeMap::new(),
            blocks: Vec::new(),
            repeat_pt,
        }
    }

    /// Sets a row's height on the sheet and remembers it.
    pub fn height(&mut self, ws: &mut Worksheet, row: u32, pt: f64) -> Result<(), XlsxError> {
        ws.set_row_height(row, pt)?;
        self.heights.insert(row, pt);
        Ok(())
    }

    /// Rows `first..=last` stay on one page when they can; `own_page` starts a page with them.
    pub fn block(&mut self, first: u32, last: u32, own_page: bool) {
        self.blocks.push((first, last.max(first), own_page));
    }

    fn row_pt(&self, r: u32) -> f64 {
        self.heights.get(&r).copied().unwrap_or(15.0)
    }

    /// The rows that start a page.
    pub fn breaks(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let mut used = self.repeat_pt;
        let room = PAGE_PT - self.repeat_pt;
        for &(first, last, own) in &self.blocks {
            let h: f64 = (first..=last).map(|r| self.row_pt(r)).sum();
            let fresh = used <= self.repeat_pt + 0.1;
            if !fresh && (own || used + h > PAGE_PT) {
                // Own page, or does not fit the rest of this one: start a page.
                out.push(first);
                used = self.repeat_pt;
            }
            if used + h <= PAGE_PT || h <= room {
                used += h;
                continue;
            }
            // Taller than a page: break between its rows.
            for r in first..=last {
                let rh = self.row_pt(r);
                if used + rh > PAGE_PT && used > self.repeat_pt + 0.1 {
                    out.push(r);
                    used = self.repeat_pt;
                }
                used += rh;
            }
        }
        out.retain(|&r| r > 0);
        out.dedup();
        out
    }

    /// Writes the breaks to the sheet and returns them.
    pub fn apply(&self, ws: &mut Worksheet) -> Result<Vec<u32>, XlsxError> {
        let b = self.breaks();
        if !b.is_empty() {
            ws.set_page_breaks(&b)?;
        }
        Ok(b)
    }
}

/// A4 landscape, one page wide, rows `first..=last` repeated on every page, page numbers and
/// the identification of the document in the footer.
pub fn print_setup(
    ws: &mut Worksheet,
    repeat_first: u32,
    repeat_last: u32,
    footer_left: &str,
) -> Result<(), XlsxError> {
    ws.set_paper_size(9)
        .set_landscape()
        .set_print_fit_to_pages(1, 0)
        .set_print_center_horizontally(true)
        .set_margins(0.5, 0.5, 0.6, 0.6, 0.3, 0.3)
        .set_footer(format!(
            "&L{}&C第 &P 页，共 &N 页",
            footer_left.replace('&', "&&")
        ));
    ws.set_repeat_rows(repeat_first, repeat_last)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------

struct Formats {
    title: Format,
    subtitle: Format,
    section: Format,
    header: Format,
    text: Format,
    text_quoted: Format,
    text_center: Format,
    wrap: Format,
    wrap_quoted: Format,
    int: Format,
    amount: Format,
    total_text: Format,
    total_int: Format,
    total_amount: Format,
    label: Format,
    big_amount: Format,
    capitals: Format,
    small: Format,
    hash: Format,
    note: Format,
    signature: Format,
}

impl Formats {
    fn new() -> Formats {
        let cell = style::cell();
        let total = style::total(&cell);
        Formats {
            title: style::title(),
            subtitle: style::subtitle(),
            section: style::section(),
            header: style::header(&cell),
            text: text_cell(&cell, false, false),
            text_quoted: text_cell(&cell, false, true),
            text_center: cell
                .clone()
                .set_num_format("@")
                .set_align(FormatAlign::Center),
            wrap: text_cell(&cell, true, false),
            wrap_quoted: text_cell(&cell, true, true),
            int: cell
                .clone()
                .set_num_format("0")
                .set_align(FormatAlign::Center),
            amount: cell.clone().set_num_format("#,##0.00"),
            total_text: total.clone(),
            total_int: total
                .clone()
                .set_num_format("0")
                .set_align(FormatAlign::Center),
            total_amount: total.set_num_format("#,##0.00"),
            label: cell.clone().set_bold().set_background_color(0xF2F2F2),
            big_amount: cell.clone().set_bold().set_num_format("¥#,##0.00"),
            capitals: cell.clone().set_bold(),
            small: Format::new().set_font_size(9),
            hash: cell
                .set_font_size(7)
                .set_text_wrap()
                .set_font_name("Consolas"),
            note: Format::new()
                .set_font_size(9)
                .set_text_wrap()
                .set_align(FormatAlign::Top),
            signature: Format::new()
                .set_font_size(11)
                .set_align(FormatAlign::Bottom),
        }
    }

    fn text_pair(&self) -> (&Format, &Format) {
        (&self.text, &self.text_quoted)
    }
}

/// A text cell (`@`, indented), wrapped or not, quote-prefixed or not.
fn text_cell(cell: &Format, wrap: bool, quoted: bool) -> Format {
    let mut f = cell.clone().set_num_format("@");
    if wrap {
        f = f.set_text_wrap();
    }
    f = f.set_indent(1);
    if quoted {
        f = f.set_quote_prefix();
    }
    f
}

/// The line under the title: who, which year, which batch.
fn id_line(m: &SummaryModel) -> String {
    let batch = if m.supplementary {
        "（补发批次）"
    } else {
        ""
    };
    format!(
        "编制单位：{}　　发放年度：{}年　　批次：第{}批{}　　计算日期：{}　　审批日期：{}",
        m.organization,
        m.year,
        m.seq,
        batch,
        cn_date(&m.today),
        cn_date(&m.approved_on)
    )
}

/// `2025年度张店区首席技师津贴发放汇总表` → `2025年度张店区首席技师津贴追缴清单`.
fn sheet_title(m: &SummaryModel, what: &str) -> String {
    let base = m.title.trim_end_matches("汇总表").trim_end_matches("发放");
    format!("{base}{what}")
}

fn footer_text(m: &SummaryModel, sheet: &str) -> String {
    format!("{} {}年度第{}批 {}", m.organization, m.year, m.seq, sheet)
}

/// Title (row 0) and identification line (row 1) across `cols` columns.
fn title_rows(
    ws: &mut Worksheet,
    m: &SummaryModel,
    title: &str,
    cols: u16,
    f: &Formats,
) -> Result<(), XlsxError> {
    ws.set_row_height(0, 30)?;
    ws.merge_range(0, 0, 0, cols - 1, title, &f.title)?;
    ws.set_row_height(1, 20)?;
    ws.merge_range(1, 0, 1, cols - 1, &id_line(m), &f.subtitle)?;
    Ok(())
}

/// Writes the summary workbook of a model and its 明细 lines to `out`; returns where the 汇总
/// sheet's parts are. See [`SummaryWriter`] to hand over the lines one at a time.
pub fn write_summary<W: Write + Seek + Send>(
    m: &SummaryModel,
    details: &[DetailRow],
    created: NaiveDateTime,
    out: W,
) -> Result<SummaryLayout, XlsxError> {
    let mut w = SummaryWriter::new(m.clone(), created)?;
    for d in details {
        w.push(d.clone())?;
    }
    w.finish(m, out)
}

/// The summary workbook written while the run streams by: [`SummaryWriter::new`] starts the
/// workbook from the model's head (title, organization, year, batch, dates, the 明细
/// settings), [`SummaryWriter::push`] adds one 明细 line at a time, [`SummaryWriter::finish`]
/// writes 汇总 (first sheet), 追缴, 未覆盖 and 追缴余额 from the complete model and saves.
///
/// Whether 明细 rows get fitted heights depends on how many lines there are, so the first
/// `detail_fitted_rows_max` lines are held until it is known: a run with no more is written
/// fitted at the end (its column widths taken from all its lines); one with more goes on
/// streaming into constant-memory sheets, one line in memory at a time, and its column widths
/// are set when it is saved.
pub struct SummaryWriter {
    wb: Workbook,
    /// The model's head: what the 明细 sheets' titles and footers show.
    head: SummaryModel,
    f: Formats,
    cursor: DetailCursor,
    widths: DetailWidths,
    /// Lines held until the run is known to exceed `detail_fitted_rows_max`; `None` once it did.
    held: Option<Vec<DetailRow>>,
}

impl SummaryWriter {
    /// Starts the workbook: its properties and the (empty) 汇总 sheet.
    pub fn new(head: SummaryModel, created: NaiveDateTime) -> Result<SummaryWriter, XlsxError> {
        let mut wb = Workbook::new();
        wb.set_properties(
            &DocProperties::new()
                .set_title(&head.title)
                .set_subject(format!("{}年第{}批", head.year, head.seq))
                .set_author(&head.organization)
                .set_company(&head.organization)
                .set_creation_datetime(&created),
        );
        wb.add_worksheet().set_name(SHEETS[0])?;
        let cursor = DetailCursor {
            per_sheet: head.detail_rows_per_sheet.max(1),
            widths: DetailWidths::default().columns(),
            sheet: 0,
            index: 0,
            first: 0,
            rows: 0,
            sheet_fen: 0,
            all_fen: 0,
            fitted: false,
        };
        Ok(SummaryWriter {
            wb,
            head,
            f: Formats::new(),
            cursor,
            widths: DetailWidths::default(),
            held: Some(Vec::new()),
        })
    }

    /// Adds the next line of 明细, on a new sheet when the current one is full (taken, not
    /// borrowed: the first lines are held).
    pub fn push(&mut self, d: DetailRow) -> Result<(), XlsxError> {
        self.widths.add(&d);
        if let Some(held) = self.held.as_mut() {
            if held.len() < self.head.detail_fitted_rows_max {
                held.push(d);
                return Ok(());
            }
            // More lines than fit with fitted heights: stream from here on.
            let held = self.held.take().unwrap_or_default();
            // A province's 明细 is most of the file and most of the time spent saving it.
            self.wb.set_zip_compression_level(1);
            self.open_details(false)?;
            for h in &held {
                self.write(h)?;
            }
        }
        self.write(&d)
    }

    /// Opens the first 明细 sheet, rows fitted or not.
    fn open_details(&mut self, fitted: bool) -> Result<(), XlsxError> {
        self.cursor.fitted = fitted;
        self.cursor.widths = self.widths.columns();
        open_detail_sheet(&mut self.wb, &self.head, &mut self.cursor, &self.f)
    }

    /// Writes one line into the current 明细 sheet, closing it first when full.
    fn write(&mut self, d: &DetailRow) -> Result<(), XlsxError> {
        let c = &mut self.cursor;
        if c.rows == c.per_sheet {
            close_detail_sheet(self.wb.worksheet_from_index(c.sheet)?, c, false, &self.f)?;
            c.index += 1;
            c.first += c.rows;
            open_detail_sheet(&mut self.wb, &self.head, c, &self.f)?;
        }
        write_detail_row(self.wb.worksheet_from_index(c.sheet)?, c, d, &self.f)?;
        c.rows += 1;
        c.sheet_fen += d.fen;
        c.all_fen += d.fen;
        Ok(())
    }

    /// Writes the held lines (fitted) or closes the streamed 明细 and sets its sheets' column
    /// widths; then writes 汇总 from `m` (the complete model, with the head given to
    /// [`SummaryWriter::new`]), adds 追缴, 未覆盖 and 追缴余额 and saves the workbook to `out`.
    pub fn finish<W: Write + Seek + Send>(
        mut self,
        m: &SummaryModel,
        out: W,
    ) -> Result<SummaryLayout, XlsxError> {
        if m.title != self.head.title || (m.year, m.seq) != (self.head.year, self.head.seq) {
            return Err(XlsxError::ParameterError(format!(
                "the summary of {}年第{}批 was finished with the model of {}年第{}批",
                self.head.year, self.head.seq, m.year, m.seq
            )));
        }
        if let Some(held) = self.held.take() {
            self.open_details(true)?;
            for h in &held {
                self.write(h)?;
            }
        }
        let c = &self.cursor;
        close_detail_sheet(self.wb.worksheet_from_index(c.sheet)?, c, true, &self.f)?;
        let widths = self.widths.columns();
        for sheet in c.sheet - c.index..=c.sheet {
            set_widths(self.wb.worksheet_from_index(sheet)?, &widths)?;
        }
        let layout = write_totals_sheet(self.wb.worksheet_from_index(0)?, m, &self.f)?;
        write_recoveries_sheet(self.wb.add_worksheet(), m, &self.f)?;
        write_uncovered_sheet(self.wb.add_worksheet(), m, &self.f)?;
        write_balances_sheet(self.wb.add_worksheet(), m, &self.f)?;
        self.wb.save_to_writer(out)?;
        Ok(layout)
    }
}

/// The signature block of the bureau and the finance office, from `row`; returns the last row.
fn signature_block(
    ws: &mut Worksheet,
    pager: &mut Pager,
    m: &SummaryModel,
    row: u32,
    last_col: u16,
    f: &Formats,
) -> Result<u32, XlsxError> {
    let row = sign_lines(ws, pager, m, row, last_col, f)?;
    seal_lines(ws, pager, m, row, last_col, f)
}

/// Text across columns `a..=b` of a row (one cell when `a == b`).
fn span(
    ws: &mut Worksheet,
    row: u32,
    a: u16,
    b: u16,
    s: &str,
    f: &Format,
) -> Result<(), XlsxError> {
    if a == b {
        ws.write_string_with_format(row, a, s, f).map(|_| ())
    } else {
        ws.merge_range(row, a, row, b, s, f).map(|_| ())
    }
}

/// 经办人, 审核人 and 负责人 in three thirds of the width, with who computed and approved
/// the run and a date line below; returns the next row.
fn sign_lines(
    ws: &mut Worksheet,
    pager: &mut Pager,
    m: &SummaryModel,
    row: u32,
    last_col: u16,
    f: &Formats,
) -> Result<u32, XlsxError> {
    let third = (last_col + 1) / 3;
    let spans = [
        (0, third.saturating_sub(1)),
        (third, 2 * third - 1),
        (2 * third, last_col),
    ];
    let rows: [([&str; 3], f64, &Format); 2] = [
        (
            [
                "经办人：＿＿＿＿＿＿＿＿",
                "审核人：＿＿＿＿＿＿＿＿",
                "负责人：＿＿＿＿＿＿＿＿",
            ],
            30.0,
            &f.signature,
        ),
        (
            [
                &format!("（系统计算：{}）", m.computed_by),
                &format!("（系统审批：{}）", m.approved_by),
                "日期：　　　　年　　月　　日",
            ],
            16.0,
            &f.small,
        ),
    ];
    let mut row = row;
    for (texts, pt, format) in rows {
        pager.height(ws, row, pt)?;
        for (i, text) in texts.iter().enumerate() {
            span(ws, row, spans[i].0, spans[i].1, text, format)?;
        }
        row += 1;
    }
    Ok(row)
}

/// 编制单位（盖章） with 制表日期, then the finance office's opinion and seal, each in two
/// halves of the width; returns the last row.
fn seal_lines(
    ws: &mut Worksheet,
    pager: &mut Pager,
    m: &SummaryModel,
    row: u32,
    last_col: u16,
    f: &Formats,
) -> Result<u32, XlsxError> {
    let half = last_col / 2;
    let lines = [
        (
            format!("编制单位（盖章）：{}", m.organization),
            format!("制表日期：{}", cn_date(&m.approved_on)),
        ),
        (
            "区财政局审核意见：＿＿＿＿＿＿＿＿　　审核人：＿＿＿＿＿＿".to_string(),
            "单位（盖章）　　　　　　年　　月　　日".to_string(),
        ),
    ];
    for (k, (left, right)) in lines.iter().enumerate() {
        let r = row + k as u32;
        pager.height(ws, r, 36.0)?;
        span(ws, r, 0, half, left, &f.signature)?;
        span(ws, r, half + 1, last_col, right, &f.signature)?;
    }
    Ok(row + 1)
}

fn write_totals_sheet(
    ws: &mut Worksheet,
    m: &SummaryModel,
    f: &Formats,
) -> Result<SummaryLayout, XlsxError> {
    let mut lay = SummaryLayout::default();
    ws.set_name(SHEETS[0])?;
    let unit_w = fit_width(
        m.units
            .iter()
            .map(|u| u.unit.as_str())
            .chain(m.parts.iter().map(|p| p.file_name.as_str())),
        20.0,
        30.0,
    );
    let widths = [5.0, unit_w, 14.0, 15.0, 10.0, 15.0, 20.0];
    set_widths(ws, &widths)?;
    title_rows(ws, m, &m.title, 7, f)?;
    ws.set_freeze_panes(2, 0)?;
    print_setup(ws, 0, 1, &footer_text(m, SHEETS[0]))?;
    let mut pager = Pager::new(50.0);
    let mut row = 2;
    for section in [
        by_unit,
        by_cohort,
        by_kind,
        grand_total,
        bank_parts,
        notes_and_signatures,
        unit_chart,
    ] {
        row = section(ws, m, f, &mut pager, &mut lay, &widths, row)?;
    }
    lay.page_breaks = pager.apply(ws)?;
    Ok(lay)
}

/// The height of an ordinary row and of a section title, in points.
const ROW_PT: f64 = 18.0;
const SECTION_PT: f64 = 26.0;

/// 一、按单位汇总: one row per unit, and the 合计.
fn by_unit(
    ws: &mut Worksheet,
    m: &SummaryModel,
    f: &Formats,
    pager: &mut Pager,
    lay: &mut SummaryLayout,
    widths: &[f64; 7],
    row: u32,
) -> Result<u32, XlsxError> {
    let mut row = row;
    let block = row;
    pager.height(ws, row, SECTION_PT)?;
    ws.write_string_with_format(row, 0, "一、按单位汇总", &f.section)?;
    row += 1;
    lay.unit_header = row;
    pager.height(ws, row, 30.0)?;
    headers(
        ws,
        row,
        &[
            "序号",
            "工作单位",
            "发放人数",
            "发放金额（元）",
            "追缴人数",
            "追缴金额（元）",
            "净额（元）",
        ],
        &f.header,
    )?;
    let (mut pp, mut pf, mut rp, mut rf) = (0usize, 0i64, 0usize, 0i64);
    for (i, u) in m.units.iter().enumerate() {
        row += 1;
        let lines = wrapped_lines(&u.unit, widths[1]);
        pager.height(ws, row, lines_height(lines))?;
        ws.write_number_with_format(row, 0, (i + 1) as f64, &f.int)?;
        put_text(ws, row, 1, &u.unit, &f.wrap, &f.wrap_quoted)?;
        ws.write_number_with_format(row, 2, u.people_paid as f64, &f.int)?;
        ws.write_number_with_format(row, 3, yuan(u.paid_fen), &f.amount)?;
        ws.write_number_with_format(row, 4, u.people_recovering as f64, &f.int)?;
        ws.write_number_with_format(row, 5, yuan(-u.recovered_fen), &f.amount)?;
        ws.write_number_with_format(row, 6, yuan(u.paid_fen + u.recovered_fen), &f.amount)?;
        pp += u.people_paid;
        pf += u.paid_fen;
        rp += u.people_recovering;
        rf += u.recovered_fen;
    }
    row += 1;
    pager.height(ws, row, ROW_PT)?;
    ws.write_blank(row, 0, &f.total_text)?;
    ws.write_string_with_format(row, 1, "合计", &f.total_text)?;
    ws.write_number_with_format(row, 2, pp as f64, &f.total_int)?;
    ws.write_number_with_format(row, 3, yuan(pf), &f.total_amount)?;
    ws.write_number_with_format(row, 4, rp as f64, &f.total_int)?;
    ws.write_number_with_format(row, 5, yuan(-rf), &f.total_amount)?;
    ws.write_number_with_format(row, 6, yuan(pf + rf), &f.total_amount)?;
    pager.block(block, row, false);
    Ok(row)
}

/// 二、按评选年度汇总: one row per cohort year, and the 合计.
fn by_cohort(
    ws: &mut Worksheet,
    m: &SummaryModel,
    f: &Formats,
    pager: &mut Pager,
    lay: &mut SummaryLayout,
    _widths: &[f64; 7],
    row: u32,
) -> Result<u32, XlsxError> {
    let mut row = row;
    let (t, _) = f.text_pair();
    row += 1;
    let block = row;
    pager.height(ws, row, SECTION_PT)?;
    ws.write_string_with_format(row, 0, "二、按评选年度汇总", &f.section)?;
    row += 1;
    lay.cohort_header = row;
    pager.height(ws, row, 30.0)?;
    headers(
        ws,
        row,
        &[
            "序号",
            "评选年度",
            "人数",
            "明细笔数",
            "应发金额（元）",
            "追缴金额（元）",
            "净额（元）",
        ],
        &f.header,
    )?;
    let (mut cp, mut cl, mut cpos, mut cneg) = (0usize, 0usize, 0i64, 0i64);
    for (i, c) in m.cohorts.iter().enumerate() {
        row += 1;
        pager.height(ws, row, ROW_PT)?;
        ws.write_number_with_format(row, 0, (i + 1) as f64, &f.int)?;
        ws.write_string_with_format(row, 1, format!("{}年度", c.cohort_year), t)?;
        ws.write_number_with_format(row, 2, c.people as f64, &f.int)?;
        ws.write_number_with_format(row, 3, c.lines as f64, &f.int)?;
        ws.write_number_with_format(row, 4, yuan(c.positive_fen), &f.amount)?;
        ws.write_number_with_format(row, 5, yuan(-c.negative_fen), &f.amount)?;
        ws.write_number_with_format(row, 6, yuan(c.positive_fen + c.negative_fen), &f.amount)?;
        cp += c.people;
        cl += c.lines;
        cpos += c.positive_fen;
        cneg += c.negative_fen;
    }
    row += 1;
    pager.height(ws, row, ROW_PT)?;
    ws.write_blank(row, 0, &f.total_text)?;
    ws.write_string_with_format(row, 1, "合计", &f.total_text)?;
    ws.write_number_with_format(row, 2, cp as f64, &f.total_int)?;
    ws.write_number_with_format(row, 3, cl as f64, &f.total_int)?;
    ws.write_number_with_format(row, 4, yuan(cpos), &f.total_amount)?;
    ws.write_number_with_format(row, 5, yuan(-cneg), &f.total_amount)?;
    ws.write_number_with_format(row, 6, yuan(cpos + cneg), &f.total_amount)?;
    pager.block(block, row, false);
    Ok(row)
}

/// 三、按明细类型汇总: one row per line kind, and the 合计.
fn by_kind(
    ws: &mut Worksheet,
    m: &SummaryModel,
    f: &Formats,
    pager: &mut Pager,
    lay: &mut SummaryLayout,
    _widths: &[f64; 7],
    row: u32,
) -> Result<u32, XlsxError> {
    let mut row = row;
    let (t, _) = f.text_pair();
    row += 1;
    let block = row;
    pager.height(ws, row, SECTION_PT)?;
    ws.write_string_with_format(row, 0, "三、按明细类型汇总", &f.section)?;
    row += 1;
    lay.kind_header = row;
    pager.height(ws, row, 30.0)?;
    headers(
        ws,
        row,
        &["序号", "明细类型", "笔数", "金额（元）"],
        &f.header,
    )?;
    let (mut kl, mut kf) = (0usize, 0i64);
    for (i, k) in m.kinds.iter().enumerate() {
        row += 1;
        pager.height(ws, row, ROW_PT)?;
        ws.write_number_with_format(row, 0, (i + 1) as f64, &f.int)?;
        ws.write_string_with_format(row, 1, k.kind.label(), t)?;
        ws.write_number_with_format(row, 2, k.lines as f64, &f.int)?;
        ws.write_number_with_format(row, 3, yuan(k.fen), &f.amount)?;
        kl += k.lines;
        kf += k.fen;
    }
    row += 1;
    pager.height(ws, row, ROW_PT)?;
    ws.write_blank(row, 0, &f.total_text)?;
    ws.write_string_with_format(row, 1, "合计（净额）", &f.total_text)?;
    ws.write_number_with_format(row, 2, kl as f64, &f.total_int)?;
    ws.write_number_with_format(row, 3, yuan(kf), &f.total_amount)?;
    pager.block(block, row, false);
    Ok(row)
}

/// 四、合计: the totals in figures and in capitals, and the uncovered months.
fn grand_total(
    ws: &mut Worksheet,
    m: &SummaryModel,
    f: &Formats,
    pager: &mut Pager,
    lay: &mut SummaryLayout,
    _widths: &[f64; 7],
    row: u32,
) -> Result<u32, XlsxError> {
    let mut row = row;
    row += 1;
    let block = row;
    pager.height(ws, row, SECTION_PT)?;
    ws.write_string_with_format(row, 0, "四、合计", &f.section)?;
    row += 1;
    lay.grand_total = row;
    let money_rows: [(&str, i64, &str, usize); 2] = [
        ("发放总额", m.paid_fen, "发放人数", m.people_paid),
        (
            "追缴总额",
            -m.recovered_fen,
            "追缴人数",
            m.people_recovering,
        ),
    ];
    for (label, fen, count_label, count) in money_rows {
        pager.height(ws, row, 20.0)?;
        ws.merge_range(row, 0, row, 1, &format!("{label}（小写）"), &f.label)?;
        ws.write_number_with_format(row, 2, yuan(fen), &f.big_amount)?;
        ws.write_string_with_format(row, 3, count_label, &f.label)?;
        ws.write_number_with_format(row, 4, count as f64, &f.int)?;
        ws.write_string_with_format(row, 5, "", &f.label)?;
        ws.write_blank(row, 6, &f.text)?;
        row += 1;
        pager.height(ws, row, 20.0)?;
        ws.merge_range(row, 0, row, 1, &format!("{label}（大写）"), &f.label)?;
        ws.merge_range(row, 2, row, 6, &capitals(fen), &f.capitals)?;
        row += 1;
    }
    pager.height(ws, row, 20.0)?;
    ws.merge_range(row, 0, row, 1, "未覆盖月份", &f.label)?;
    ws.write_number_with_format(row, 2, m.uncovered_months() as f64, &f.int)?;
    let uncovered_text = if m.uncovered.is_empty() {
        "无".to_string()
    } else {
        format!(
            "{}人，见“未覆盖”表：须出台后续政策后发放",
            m.uncovered.len()
        )
    };
    ws.merge_range(row, 3, row, 6, &uncovered_text, &f.text)?;
    pager.block(block, row, false);
    Ok(row)
}

/// 五、代发文件控制数: each bank file part with its control totals.
fn bank_parts(
    ws: &mut Worksheet,
    m: &SummaryModel,
    f: &Formats,
    pager: &mut Pager,
    lay: &mut SummaryLayout,
    widths: &[f64; 7],
    row: u32,
) -> Result<u32, XlsxError> {
    let mut row = row;
    let (_, tq) = f.text_pair();
    row += 1;
    let block = row;
    pager.height(ws, row, SECTION_PT)?;
    ws.write_string_with_format(row, 0, "五、代发文件控制数", &f.section)?;
    row += 1;
    lay.parts_header = row;
    pager.height(ws, row, 30.0)?;
    headers(
        ws,
        row,
        &[
            "序号",
            "代发文件",
            "批次号",
            "笔数",
            "金额（元）",
            "代发格式",
            "SHA-256（文件校验值）",
        ],
        &f.header,
    )?;
    let (mut pr, mut pfen) = (0u64, 0i64);
    for (i, p) in m.parts.iter().enumerate() {
        row += 1;
        let lines = wrapped_lines(&p.bank, widths[5]).max(3);
        pager.height(ws, row, lines_height(lines))?;
        ws.write_number_with_format(row, 0, (i + 1) as f64, &f.int)?;
        put_text(ws, row, 1, &p.file_name, &f.wrap, &f.wrap_quoted)?;
        put_text(ws, row, 2, &p.batch_ref, &f.text_center, tq)?;
        ws.write_number_with_format(row, 3, p.rows as f64, &f.int)?;
        ws.write_number_with_format(row, 4, yuan(p.fen), &f.amount)?;
        put_text(ws, row, 5, &p.bank, &f.wrap, &f.wrap_quoted)?;
        ws.write_string_with_format(row, 6, &p.sha256, &f.hash)?;
        pr += p.rows;
        pfen += p.fen;
    }
    row += 1;
    pager.height(ws, row, ROW_PT)?;
    ws.write_blank(row, 0, &f.total_text)?;
    ws.write_string_with_format(
        row,
        1,
        if m.parts.is_empty() {
            "本批次无应发人员，未生成代发文件"
        } else {
            "合计"
        },
        &f.total_text,
    )?;
    ws.write_blank(row, 2, &f.total_text)?;
    ws.write_number_with_format(row, 3, pr as f64, &f.total_int)?;
    ws.write_number_with_format(row, 4, yuan(pfen), &f.total_amount)?;
    ws.write_blank(row, 5, &f.total_text)?;
    ws.write_blank(row, 6, &f.total_text)?;
    pager.block(block, row, false);
    Ok(row)
}

/// The notes and the signature lines, kept together on one page.
fn notes_and_signatures(
    ws: &mut Worksheet,
    m: &SummaryModel,
    f: &Formats,
    pager: &mut Pager,
    lay: &mut SummaryLayout,
    widths: &[f64; 7],
    row: u32,
) -> Result<u32, XlsxError> {
    let mut row = row;
    row += 1;
    let block = row;
    pager.height(ws, row, 10.0)?;
    for n in &m.notes {
        row += 1;
        let lines = wrapped_lines(n, widths.iter().sum::<f64>() * 1.1);
        pager.height(ws, row, f64::from(lines) * 12.5 + 3.0)?;
        ws.merge_range(row, 0, row, 6, n, &f.note)?;
    }
    row += 1;
    lay.signatures = row;
    row = signature_block(ws, pager, m, row, 6, f)?;
    pager.block(block, row, false);
    Ok(row)
}

/// 六、the chart of totals by unit, on a page of its own.
fn unit_chart(
    ws: &mut Worksheet,
    m: &SummaryModel,
    f: &Formats,
    pager: &mut Pager,
    lay: &mut SummaryLayout,
    widths: &[f64; 7],
    row: u32,
) -> Result<u32, XlsxError> {
    let mut row = row;
    if !m.units.is_empty() {
        row += 1;
        let block = row;
        pager.height(ws, row, SECTION_PT)?;
        ws.write_string_with_format(row, 0, "六、各单位发放金额（图）", &f.section)?;
        row += 1;
        lay.chart = Some(row);
        let first_unit = lay.unit_header + 1;
        let last_unit = lay.unit_header + m.units.len() as u32;
        let mut chart = Chart::new(ChartType::Bar);
        chart
            .add_series()
            .set_name("发放金额（元）")
            .set_categories((SHEETS[0], first_unit, 1, last_unit, 1))
            .set_values((SHEETS[0], first_unit, 3, last_unit, 3));
        chart.title().set_name("各单位发放金额（元）");
        chart.x_axis().set_num_format("#,##0");
        chart.y_axis().set_reverse();
        chart.legend().set_hidden();
        // One page: the page's height less the repeated title, the section line and a margin.
        let covered_max = ((PAGE_PT - 50.0 - SECTION_PT - 20.0) / 15.0).floor() as u32;
        let covered = ((m.units.len() as u32 * 18 + 70) / 15 + 1).clamp(14, covered_max);
        for r in row..row + covered {
            pager.height(ws, r, 15.0)?;
        }
        let width_px: f64 = widths.iter().map(|w| w * 7.0 + 5.0).sum();
        chart
            .set_width(width_px as u32)
            .set_height(covered * 20 - 10);
        ws.insert_chart(row, 0, &chart)?;
        pager.block(block, row + covered - 1, true);
    }
    Ok(row)
}

/// The header row of 明细, 追缴 and 未覆盖 (below the title and the identification line).
pub const LIST_HEADER: u32 = 2;

/// The widest text of each content-sized 明细 column, gathered line by line as the
/// [`SummaryWriter`] is given them (说明 has a fixed width and wraps).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DetailWidths {
    id_number: f64,
    name: f64,
    unit: f64,
    approval_no: f64,
    months: f64,
    kind: f64,
    amount: f64,
}

impl DetailWidths {
    /// Takes one row's texts into account.
    pub fn add(&mut self, d: &DetailRow) {
        let wider = |w: &mut f64, s: &str| *w = w.max(text_width(s));
        wider(&mut self.id_number, &d.id_number);
        wider(&mut self.name, &d.name);
        wider(&mut self.unit, &d.unit);
        wider(&mut self.approval_no, &d.approval_no);
        wider(&mut self.kind, d.kind.label());
        wider(&mut self.amount, &crate::rules::money::fen_grouped(d.fen));
        if d.to != d.month {
            wider(&mut self.months, &d.months_text());
        }
    }

    /// The widths of the ten columns, each clamped as [`fit_width`] does.
    fn columns(&self) -> [f64; 10] {
        let fit = |w: f64, min: f64, max: f64| (w + 1.5).clamp(min, max);
        [
            5.0,
            fit(self.id_number, 12.0, 20.0),
            fit(self.name, 8.0, 10.0),
            fit(self.unit, 10.0, 18.0),
            6.0,
            fit(self.approval_no, 10.0, 14.0),
            fit(self.months, 8.0, 18.0),
            fit(self.kind, 6.0, 10.0),
            fit(self.amount.max(text_width("1,000,000.00")), 11.0, 13.0),
            26.0,
        ]
    }
}

/// The name of the `index`th 明细 sheet: 明细, 明细(2), 明细(3)…
pub fn detail_sheet_name(index: usize) -> String {
    if index == 0 {
        SHEETS[1].to_string()
    } else {
        format!("{}({})", SHEETS[1], index + 1)
    }
}

/// The 明细 column headers.
const DETAIL_HEADERS: [&str; 10] = [
    "序号",
    "身份证号码",
    "姓名",
    "工作单位",
    "评选年度",
    "称号批准文号",
    "月份",
    "类型",
    "金额（元）",
    "说明",
];

/// Where the streaming 明细 writer stands.
struct DetailCursor {
    /// Lines per sheet; the column widths the fitted rows' heights are taken from.
    per_sheet: usize,
    widths: [f64; 10],
    /// The workbook index of the current sheet, its number (0 for 明细), its first row's 序号
    /// less one, and its lines so far.
    sheet: usize,
    index: usize,
    first: usize,
    rows: usize,
    sheet_fen: i64,
    all_fen: i64,
    /// Rows as high as their wrapped texts, or one line each without wrapping.
    fitted: bool,
}

/// Adds the next 明细 sheet (constant memory) with its title, header and print setup.
fn open_detail_sheet(
    wb: &mut Workbook,
    m: &SummaryModel,
    c: &mut DetailCursor,
    f: &Formats,
) -> Result<(), XlsxError> {
    let ws = wb.add_worksheet_with_constant_memory()?;
    let sheet_name = detail_sheet_name(c.index);
    ws.set_name(&sheet_name)?;
    let title = if c.index == 0 {
        sheet_title(m, "明细表")
    } else {
        sheet_title(m, &format!("明细表（续{}）", c.index))
    };
    title_rows(ws, m, &title, DETAIL_HEADERS.len() as u16, f)?;
    ws.set_row_height(LIST_HEADER, 30)?;
    headers(ws, LIST_HEADER, &DETAIL_HEADERS, &f.header)?;
    ws.set_freeze_panes(LIST_HEADER + 1, 0)?;
    print_setup(ws, 0, LIST_HEADER, &footer_text(m, &sheet_name))?;
    c.sheet = wb.worksheets().len() - 1;
    c.rows = 0;
    c.sheet_fen = 0;
    Ok(())
}

/// One line of 明细, its row as high as its wrapped texts.
fn write_detail_row(
    ws: &mut Worksheet,
    c: &DetailCursor,
    d: &DetailRow,
    f: &Formats,
) -> Result<(), XlsxError> {
    let row = LIST_HEADER + 1 + c.rows as u32;
    let (wrap, wrap_quoted) = if c.fitted {
        let lines = wrapped_lines(&d.reason, c.widths[9])
            .max(wrapped_lines(&d.unit, c.widths[3]))
            .max(wrapped_lines(&d.approval_no, c.widths[5]));
        ws.set_row_height(row, lines_height(lines))?;
        (&f.wrap, &f.wrap_quoted)
    } else {
        (&f.text, &f.text_quoted)
    };
    ws.write_number_with_format(row, 0, (c.first + c.rows + 1) as f64, &f.int)?;
    put_text(ws, row, 1, &d.id_number, &f.text, &f.text_quoted)?;
    put_text(ws, row, 2, &d.name, &f.text, &f.text_quoted)?;
    put_text(ws, row, 3, &d.unit, wrap, wrap_quoted)?;
    ws.write_number_with_format(row, 4, f64::from(d.cohort_year), &f.int)?;
    put_text(ws, row, 5, &d.approval_no, wrap, wrap_quoted)?;
    ws.write_string_with_format(row, 6, d.months_text(), &f.text_center)?;
    ws.write_string_with_format(row, 7, d.kind.label(), &f.text_center)?;
    ws.write_number_with_format(row, 8, yuan(d.fen), &f.amount)?;
    put_text(ws, row, 9, &d.reason, wrap, wrap_quoted)?;
    Ok(())
}

/// The 小计 row of a full sheet, or the 合计 row of all lines under the `last` one.
fn close_detail_sheet(
    ws: &mut Worksheet,
    c: &DetailCursor,
    last: bool,
    f: &Formats,
) -> Result<(), XlsxError> {
    let row = LIST_HEADER + 1 + c.rows as u32;
    ws.set_row_height(row, 20)?;
    let (label, total) = if last && c.index == 0 {
        (format!("合计（{}笔）", c.rows), c.all_fen)
    } else if last {
        (
            format!(
                "合计（全部{}笔，共{}张明细表）",
                c.first + c.rows,
                c.index + 1
            ),
            c.all_fen,
        )
    } else {
        (
            format!(
                "小计（本表{}笔，续见{}）",
                c.rows,
                detail_sheet_name(c.index + 1)
            ),
            c.sheet_fen,
        )
    };
    for col in 0..DETAIL_HEADERS.len() as u16 {
        match col {
            1 => ws.write_string_with_format(row, col, &label, &f.total_text)?,
            8 => ws.write_number_with_format(row, col, yuan(total), &f.total_amount)?,
            9 => ws.write_string_with_format(row, col, capitals(total), &f.total_text)?,
            _ => ws.write_blank(row, col, &f.total_text)?,
        };
    }
    // The end of the list on paper; also keeps the constant-memory writer from writing the
    // 合计 row (the last one with a height of its own) a second time.
    ws.write_string_with_format(row + 1, 1, "（以下空白）", &f.small)?;
    Ok(())
}

/// The rows of 未覆盖 and their 合计 row; returns the 合计 row.
fn uncovered_lines(
    ws: &mut Worksheet,
    u: &[UncoveredRow],
    widths: &[f64; 7],
    f: &Formats,
) -> Result<u32, XlsxError> {
    let (mut months, mut fen, mut known) = (0usize, 0i64, true);
    for (i, x) in u.iter().enumerate() {
        let row = LIST_HEADER + 1 + i as u32;
        let lines = wrapped_lines(&x.months, widths[4]).max(wrapped_lines(&x.unit, widths[3]));
        ws.set_row_height(row, lines_height(lines))?;
        ws.write_number_with_format(row, 0, (i + 1) as f64, &f.int)?;
        put_text(ws, row, 1, &x.id_number, &f.text, &f.text_quoted)?;
        put_text(ws, row, 2, &x.name, &f.text, &f.text_quoted)?;
        put_text(ws, row, 3, &x.unit, &f.wrap, &f.wrap_quoted)?;
        put_text(ws, row, 4, &x.months, &f.wrap, &f.wrap_quoted)?;
        ws.write_number_with_format(row, 5, x.count as f64, &f.int)?;
        match x.fen {
            Some(v) => {
                ws.write_number_with_format(row, 6, yuan(v), &f.amount)?;
                fen += v;
            }
            None => {
                ws.write_string_with_format(row, 6, "无法估算", &f.text_center)?;
                known = false;
            }
        }
        months += x.count;
    }
    let row = LIST_HEADER + 1 + u.len() as u32;
    ws.set_row_height(row, 20)?;
    for c in 0..7u16 {
        match c {
            1 => ws.write_string_with_format(
                row,
                c,
                format!("合计（{}人）", u.len()),
                &f.total_text,
            )?,
            5 => ws.write_number_with_format(row, c, months as f64, &f.total_int)?,
            6 if known => ws.write_number_with_format(row, c, yuan(fen), &f.total_amount)?,
            _ => ws.write_blank(row, c, &f.total_text)?,
        };
    }
    Ok(row)
}

/// The title, identification line and frozen header of a list sheet, printed on every page.
fn list_head(
    ws: &mut Worksheet,
    m: &SummaryModel,
    sheet: &str,
    what: &str,
    names: &[&str],
    f: &Formats,
) -> Result<(), XlsxError> {
    title_rows(ws, m, &sheet_title(m, what), names.len() as u16, f)?;
    ws.set_row_height(LIST_HEADER, 30)?;
    headers(ws, LIST_HEADER, names, &f.header)?;
    ws.set_freeze_panes(LIST_HEADER + 1, 0)?;
    print_setup(ws, 0, LIST_HEADER, &footer_text(m, sheet))
}

fn write_recoveries_sheet(
    ws: &mut Worksheet,
    m: &SummaryModel,
    f: &Formats,
) -> Result<(), XlsxError> {
    ws.set_name(SHEETS[2])?;
    let r = &m.recoveries;
    let widths = [
        5.0,
        fit_width(r.iter().map(|x| x.id_number.as_str()), 12.0, 20.0),
        fit_width(r.iter().map(|x| x.name.as_str()), 8.0, 10.0),
        fit_width(r.iter().map(|x| x.unit.as_str()), 14.0, 24.0),
        14.0,
        fit_width(r.iter().map(|x| x.months.as_str()), 12.0, 20.0),
        40.0,
    ];
    set_widths(ws, &widths)?;
    let names = [
        "序号",
        "身份证号码",
        "姓名",
        "工作单位",
        "追缴金额（元）",
        "涉及月份",
        "追缴原因",
    ];
    list_head(ws, m, SHEETS[2], "追缴清单", &names, f)?;
    let mut pager = Pager::new(30.0 + 20.0 + 30.0);
    pager.height(ws, LIST_HEADER, 30.0)?;
    let mut total = 0i64;
    for (i, x) in r.iter().enumerate() {
        let row = LIST_HEADER + 1 + i as u32;
        let lines = wrapped_lines(&x.reason, widths[6])
            .max(wrapped_lines(&x.unit, widths[3]))
            .max(wrapped_lines(&x.months, widths[5]));
        pager.height(ws, row, lines_height(lines))?;
        ws.write_number_with_format(row, 0, (i + 1) as f64, &f.int)?;
        put_text(ws, row, 1, &x.id_number, &f.text, &f.text_quoted)?;
        put_text(ws, row, 2, &x.name, &f.text, &f.text_quoted)?;
        put_text(ws, row, 3, &x.unit, &f.wrap, &f.wrap_quoted)?;
        ws.write_number_with_format(row, 4, yuan(-x.fen), &f.amount)?;
        put_text(ws, row, 5, &x.months, &f.wrap, &f.wrap_quoted)?;
        put_text(ws, row, 6, &x.reason, &f.wrap, &f.wrap_quoted)?;
        total += x.fen;
    }
    let row = LIST_HEADER + 1 + r.len() as u32;
    pager.height(ws, row, 20.0)?;
    for c in 0..7u16 {
        match c {
            1 => ws.write_string_with_format(
                row,
                c,
                format!("合计（{}人）", r.len()),
                &f.total_text,
            )?,
            4 => ws.write_number_with_format(row, c, yuan(-total), &f.total_amount)?,
            6 => ws.write_string_with_format(row, c, capitals(-total), &f.total_text)?,
            _ => ws.write_blank(row, c, &f.total_text)?,
        };
    }
    pager.block(LIST_HEADER + 1, row, false);
    let first = row + 1;
    pager.height(ws, first, 10.0)?;
    let last = signature_block(ws, &mut pager, m, first + 1, 6, f)?;
    pager.block(first, last, false);
    pager.apply(ws)?;
    Ok(())
}

/// 追缴余额: every open recovery balance, with its plan, and the totals.
fn write_balances_sheet(
    ws: &mut Worksheet,
    m: &SummaryModel,
    f: &Formats,
) -> Result<(), XlsxError> {
    ws.set_name(SHEETS[4])?;
    let b = &m.balances;
    let widths = [
        5.0,
        fit_width(b.iter().map(|x| x.id_number.as_str()), 12.0, 20.0),
        fit_width(b.iter().map(|x| x.name.as_str()), 8.0, 10.0),
        14.0,
        14.0,
        14.0,
        fit_width(b.iter().map(|x| x.plan.as_str()), 16.0, 30.0),
    ];
    set_widths(ws, &widths)?;
    let names = [
        "序号",
        "身份证号码",
        "姓名",
        "应追缴合计（元）",
        "已追回（元）",
        "未追回余额（元）",
        "分期计划",
    ];
    list_head(ws, m, SHEETS[4], "追缴余额表", &names, f)?;
    let mut pager = Pager::new(30.0 + 20.0 + 30.0);
    pager.height(ws, LIST_HEADER, 30.0)?;
    let mut sums = [0i64; 3];
    for (i, x) in b.iter().enumerate() {
        let row = LIST_HEADER + 1 + i as u32;
        pager.height(ws, row, lines_height(wrapped_lines(&x.plan, widths[6])))?;
        ws.write_number_with_format(row, 0, (i + 1) as f64, &f.int)?;
        put_text(ws, row, 1, &x.id_number, &f.text, &f.text_quoted)?;
        put_text(ws, row, 2, &x.name, &f.text, &f.text_quoted)?;
        for (k, fen) in [x.due_fen, x.recovered_fen, x.open_fen]
            .into_iter()
            .enumerate()
        {
            ws.write_number_with_format(row, 3 + k as u16, yuan(fen), &f.amount)?;
            sums[k] += fen;
        }
        put_text(ws, row, 6, &x.plan, &f.wrap, &f.wrap_quoted)?;
    }
    let row = LIST_HEADER + 1 + b.len() as u32;
    pager.height(ws, row, 20.0)?;
    for c in 0..7u16 {
        match c {
            1 => ws.write_string_with_format(
                row,
                c,
                format!("合计（{}人）", b.len()),
                &f.total_text,
            )?,
            3..=5 => ws.write_number_with_format(
                row,
                c,
                yuan(sums[usize::from(c) - 3]),
                &f.total_amount,
            )?,
            _ => ws.write_blank(row, c, &f.total_text)?,
        };
    }
    pager.block(LIST_HEADER + 1, row, false);
    balances_note(ws, &mut pager, row + 1, f)?;
    pager.apply(ws)?;
    Ok(())
}

/// The note under the 追缴余额 table.
fn balances_note(
    ws: &mut Worksheet,
    pager: &mut Pager,
    row: u32,
    f: &Formats,
) -> Result<(), XlsxError> {
    pager.height(ws, row, 20.0)?;
    span(ws, row, 0, 6, "说明：余额为本批次批准时的数；未分期的款项应一次退回，分期的按计划从以后各批次应发款中抵扣，或由本人退回后登记。", &f.note)?;
    pager.block(row, row, false);
    Ok(())
}

fn write_uncovered_sheet(
    ws: &mut Worksheet,
    m: &SummaryModel,
    f: &Formats,
) -> Result<(), XlsxError> {
    ws.set_name(SHEETS[3])?;
    let u = &m.uncovered;
    let widths = [
        5.0,
        fit_width(u.iter().map(|x| x.id_number.as_str()), 12.0, 20.0),
        fit_width(u.iter().map(|x| x.name.as_str()), 8.0, 10.0),
        fit_width(u.iter().map(|x| x.unit.as_str()), 14.0, 28.0),
        fit_width(u.iter().map(|x| x.months.as_str()), 18.0, 36.0),
        6.0,
        16.0,
    ];
    set_widths(ws, &widths)?;
    let names = [
        "序号",
        "身份证号码",
        "姓名",
        "工作单位",
        "未覆盖月份",
        "月数",
        "影响金额（元）",
    ];
    list_head(ws, m, SHEETS[3], "未覆盖月份清单", &names, f)?;
    if u.is_empty() {
        ws.set_row_height(LIST_HEADER + 1, 20)?;
        ws.merge_range(
            LIST_HEADER + 1,
            0,
            LIST_HEADER + 1,
            6,
            "本批次没有未覆盖的月份",
            &f.text,
        )?;
        return Ok(());
    }
    let row = uncovered_lines(ws, u, &widths, f)?;
    if !m.uncovered_note.is_empty() {
        let r = row + 2;
        let w: f64 = widths.iter().sum();
        ws.set_row_height(
            r,
            f64::from(wrapped_lines(&m.uncovered_note, w * 1.1)) * 12.5 + 4.0,
        )?;
        ws.merge_range(r, 0, r, 6, &m.uncovered_note, &f.note)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_count_cjk_double() {
        assert_eq!(text_width("abc"), 3.0);
        assert_eq!(text_width("张店区"), 6.0);
        assert_eq!(text_width("（1）"), 5.0);
        assert_eq!(text_width("短\n更长一些"), 8.0);
        assert_eq!(fit_width(["张店区"], 4.0, 40.0), 7.5);
        assert_eq!(fit_width(["张店区"], 10.0, 40.0), 10.0);
        assert_eq!(wrapped_lines("", 10.0), 1);
        assert_eq!(wrapped_lines(&"张".repeat(20), 21.5), 2);
        assert_eq!(cn_date("2024-12-01"), "2024年12月1日");
        assert_eq!(cn_date("2024-12-01T09:00:00Z"), "2024年12月1日");
    }

    #[test]
    fn pager_keeps_blocks_whole() {
        let mut p = Pager::new(50.0);
        for r in 0..100 {
            p.heights.insert(r, 20.0);
        }
        // 10 rows (200 pt), 10 rows (200 pt): fit one page (480) with 50 repeated.
        p.block(2, 11, false);
        p.block(12, 21, false);
        // The next block of 5 rows does not fit the rest (430 + 100 > 480): a new page.
        p.block(22, 26, false);
        // An own-page block.
        p.block(27, 28, true);
        assert_eq!(p.breaks(), vec![22, 27]);
        // A block taller than a page breaks between its rows.
        let mut q = Pager::new(50.0);
        for r in 0..100 {
            q.heights.insert(r, 20.0);
        }
        q.block(2, 60, false);
        let b = q.breaks();
        assert_eq!(b, vec![23, 44]);
    }
}
