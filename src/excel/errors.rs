//! The error workbook a clerk fixes and sends back: beside the input (`X.xlsx` or `X.xls` →
//! `X.errors.xlsx`, mode 0600), every sheet that was read copied row for row — at the same row
//! numbers, so the messages' row numbers hold in it too — with a 错误说明 column after the
//! header's last column. Cells with a problem are shaded; the explanation names each column.
//!
//! Printed, it is A4 landscape, one page wide, at a readable scale (issue 11): column widths
//! come from the content (a CJK character counts two; the first [`MEASURED_ROWS`] rows are
//! measured), and when they would not fit the page at [`MIN_SCALE`] the widest text columns
//! (unit, bank, e-mail, 错误说明) are narrowed and their cells wrap, each row as high as its
//! wrapped lines. ID, account, phone and date columns keep their width.
//!
//! The copy is streamed (rust_xlsxwriter's constant-memory worksheets), so a large roster's
//! error workbook costs little memory.

use super::read::{CellProblem, Column, Header, InputLimits, ReadError, Value, Workbook};
use super::roster::SheetLayout;
use super::summary::text_width;
use super::template::{cell_kind, decorate_sheet, CellKind, TemplateFormats};
use rust_xlsxwriter::{
    Color, Format, FormatAlign, FormatBorder, FormatPattern, Workbook as XlsxWorkbook, Worksheet,
    XlsxError,
};
use std::collections::HashMap;
use std::io::{Read, Seek};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// The header of the added column.
pub const EXPLANATION: &str = "错误说明";

/// Writing an error workbook failed (a failure outside the input: the disk).
#[derive(Debug, thiserror::Error)]
pub enum ErrorWorkbookError {
    #[error("cannot write the error workbook {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write the error workbook {path}: {source}")]
    Xlsx {
        path: String,
        source: rust_xlsxwriter::XlsxError,
    },
    #[error("cannot read {path} again to copy its rows: {source}")]
    Read {
        path: String,
        source: super::read::ReadError,
    },
}

/// Rows measured for the column widths (the rest of a large sheet wraps to them).
pub const MEASURED_ROWS: u32 = 5_000;

/// The smallest scale the widths may make the sheet print at, as [`printed_scale`] estimates
/// it.
pub const MIN_SCALE: f64 = 0.72;

/// The printable width of an A4 landscape page with this workbook's margins (points).
const PRINTABLE_PT: f64 = 841.9 - 2.0 * 0.3 * 72.0;

/// A column of words is never narrowed below this (characters).
const MIN_WRAPPED_WIDTH: f64 = 8.0;

/// The widest a column gets (characters).
const MAX_WIDTH: f64 = 40.0;

/// The 错误说明 column: never narrowed below this (characters).
const MIN_EXPLANATION_WIDTH: f64 = 18.0;

/// The header row's height (points; two lines of the template's header).
const HEADER_PT: f64 = 32.0;

/// Points per line of 11-point text (the workbook's font; CJK fonts' lines are taller than
/// Latin ones).
const LINE_PT: f64 = 16.0;

/// Which template sheet an input sheet's columns are (for its notes and checks).
fn template_sheet_of(columns: &[Column]) -> &'static str {
    if columns.iter().any(|c| c.name == super::changes::KIND) {
        super::changes::CHANGES_SHEET
    } else if columns
        .iter()
        .any(|c| c.name == super::nominations::NOMINATOR)
    {
        super::nominations::NOMINATIONS_SHEET
    } else if columns.iter().any(|c| c.name == super::scores::EXPERT) {
        super::scores::SCORES_SHEET
    } else if columns.iter().any(|c| c.name == super::roster::UNIT_NAME) {
        super::roster::UNITS_SHEET
    } else {
        super::roster::ROSTER_SHEET
    }
}

/// `dir/X.xlsx` → `dir/X.errors.xlsx`.
pub fn error_workbook_path(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".into());
    input.with_file_name(format!("{stem}.errors.xlsx"))
}

/// One sheet to copy: where its header is and which columns it has.
#[derive(Debug, Clone, Copy)]
pub struct SheetToCopy<'a> {
    pub layout: &'a SheetLayout,
    pub columns: &'a [Column],
}

/// What stopped a copy: writing, reading the input again, or creating the file.
#[derive(Debug)]
enum Failure {
    Xlsx(XlsxError),
    Read(ReadError),
    Io(std::io::Error),
}

impl From<XlsxError> for Failure {
    fn from(e: XlsxError) -> Failure {
        Failure::Xlsx(e)
    }
}

impl From<ReadError> for Failure {
    fn from(e: ReadError) -> Failure {
        Failure::Read(e)
    }
}

/// Writes the error workbook of `input` and returns its path. `problems` are those of this
/// file; warnings are listed too, marked 提示.
pub fn write_error_workbook(
    input: &Path,
    sheets: &[SheetToCopy<'_>],
    problems: &[CellProblem],
) -> Result<PathBuf, ErrorWorkbookError> {
    write_error_workbook_with(input, sheets, problems, &InputLimits::default())
}

/// [`write_error_workbook`], opening the input again under the `limits` it was read with.
pub fn write_error_workbook_with(
    input: &Path,
    sheets: &[SheetToCopy<'_>],
    problems: &[CellProblem],
    limits: &InputLimits,
) -> Result<PathBuf, ErrorWorkbookError> {
    let out_path = error_workbook_path(input);
    let path = || out_path.display().to_string();
    let book = build_workbook(input, &out_path, sheets, problems, limits)
        .and_then(|book| save_private(book, &out_path));
    book.map_err(|f| match f {
        Failure::Xlsx(source) => ErrorWorkbookError::Xlsx {
            path: path(),
            source,
        },
        Failure::Read(source) => ErrorWorkbookError::Read {
            path: input.display().to_string(),
            source,
        },
        Failure::Io(source) => ErrorWorkbookError::Io {
            path: path(),
            source,
        },
    })?;
    Ok(out_path)
}

/// Every sheet of the input copied with its marks (or, with no sheet, the bare list).
fn build_workbook(
    input: &Path,
    out_path: &Path,
    sheets: &[SheetToCopy<'_>],
    problems: &[CellProblem],
    limits: &InputLimits,
) -> Result<XlsxWorkbook, Failure> {
    let mut source = Workbook::open_with(input, limits)?;
    let mut book = XlsxWorkbook::new();
    let formats = Formats::new();
    let out_name = out_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for (n, sheet) in sheets.iter().enumerate() {
        let mut copy = SheetCopy::new(sheet, problems, &formats);
        copy.measure(&mut source)?;
        let mut ws = book.new_worksheet_with_constant_memory()?;
        if ws.set_name(&sheet.layout.sheet).is_err() {
            ws.set_name(format!("Sheet{}", n + 1))?;
        }
        copy.write(&mut ws, &mut source)?;
        copy.finish(&mut ws, &out_name)?;
        book.push_worksheet(ws);
    }
    if sheets.is_empty() {
        list_problems(&mut book, problems)?;
    }
    Ok(book)
}

/// A workbook of one column listing the problems (an input with no sheet to copy).
fn list_problems(book: &mut XlsxWorkbook, problems: &[CellProblem]) -> Result<(), XlsxError> {
    let ws = book.add_worksheet();
    ws.write_string(0, 0, EXPLANATION)?;
    for (i, p) in problems.iter().enumerate() {
        ws.write_string(i as u32 + 1, 0, p.to_string())?;
    }
    Ok(())
}

/// Saves the workbook to a new file readable by its owner only.
fn save_private(mut book: XlsxWorkbook, path: &Path) -> Result<(), Failure> {
    let file = create_private(path).map_err(Failure::Io)?;
    book.save_to_writer(file)?;
    Ok(())
}

/// The cell formats of an error workbook.
struct Formats {
    /// The template's (its header style).
    template: TemplateFormats,
    /// Data cells, wrapped and at the top of their row: plain, text (`@`), date; and shaded.
    plain: Format,
    text: Format,
    date: Format,
    bad: Format,
    bad_text: Format,
    bad_date: Format,
    /// Cells above the header (a title), as they were: text (`@`) or shaded.
    title_text: Format,
    title_bad: Format,
    /// The 错误说明 cells and its header.
    explanation: Format,
    explanation_header: Format,
}

impl Formats {
    fn new() -> Formats {
        let shade = |f: Format| {
            f.set_background_color(Color::RGB(0xFFEB9C))
                .set_pattern(FormatPattern::Solid)
        };
        let plain = Format::new().set_text_wrap().set_align(FormatAlign::Top);
        let date = Format::new()
            .set_num_format("yyyy-mm-dd")
            .set_align(FormatAlign::Top);
        let text = plain.clone().set_num_format("@");
        Formats {
            template: TemplateFormats::new(),
            bad: shade(plain.clone()),
            bad_text: shade(text.clone()),
            bad_date: shade(date.clone()),
            plain,
            text,
            date,
            title_text: Format::new().set_num_format("@"),
            title_bad: shade(Format::new()),
            explanation: Format::new()
                .set_font_color(Color::RGB(0xC00000))
                .set_text_wrap()
                .set_align(FormatAlign::Top),
            explanation_header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::VerticalCenter)
                .set_border(FormatBorder::Thin)
                .set_background_color(Color::RGB(0xFCE4D6))
                .set_font_color(Color::RGB(0xC00000)),
        }
    }

    /// The format of a non-date cell of a column of `kind`: in the table (`in_table`: wrapped)
    /// or above it (as it was).
    fn cell(&self, kind: CellKind, shaded: bool, in_table: bool) -> Option<&Format> {
        let text = kind == CellKind::Text;
        match (in_table, shaded, text) {
            (true, false, false) => Some(&self.plain),
            (true, false, true) => Some(&self.text),
            (true, true, false) => Some(&self.bad),
            (true, true, true) => Some(&self.bad_text),
            (false, false, false) => None,
            (false, false, true) => Some(&self.title_text),
            (false, true, _) => Some(&self.title_bad),
        }
    }

    /// The format of a date cell.
    fn date(&self, shaded: bool) -> &Format {
        if shaded {
            &self.bad_date
        } else {
            &self.date
        }
    }
}

/// The messages and shaded columns of one row.
#[derive(Debug, Default)]
struct RowMarks {
    messages: Vec<String>,
    columns: Vec<usize>,
}

/// The problems of one sheet, by row (a problem without a row goes on the header's).
fn marks_of(sheet: &SheetToCopy<'_>, problems: &[CellProblem]) -> HashMap<u32, RowMarks> {
    let header = sheet.layout.header.as_ref();
    let header_row = header.map_or(1, |h| h.row);
    let mut by_row: HashMap<u32, RowMarks> = HashMap::new();
    for p in problems
        .iter()
        .filter(|p| p.sheet.as_deref() == Some(sheet.layout.sheet.as_str()))
    {
        let entry = by_row.entry(p.row.unwrap_or(header_row)).or_default();
        let tag = if p.is_error() { "" } else { "提示：" };
        entry.messages.push(match &p.column {
            Some(c) => format!("{tag}【{c}】{}", p.message),
            None => format!("{tag}{}", p.message),
        });
        if let (Some(c), Some(h)) = (&p.column, header) {
            let col = sheet
                .columns
                .iter()
                .position(|k| k.name == c)
                .and_then(|i| h.positions.get(i).copied().flatten());
            entry.columns.extend(col);
        }
    }
    by_row
}

/// The input columns a sheet has, by position (the template's notes, validation, header
/// style and text/date formats go on them).
fn named_columns<'a>(sheet: &SheetToCopy<'a>) -> Vec<(u16, &'a str)> {
    sheet
        .layout
        .header
        .as_ref()
        .map(|h| {
            sheet
                .columns
                .iter()
                .zip(&h.positions)
                .filter_map(|(c, p)| p.map(|p| (p as u16, c.name)))
                .collect()
        })
        .unwrap_or_default()
}

/// The scale a sheet of these column widths (characters) prints at, fitted to the width of
/// A4 landscape, as LibreOffice prints it without Calibri: its substitute's digits (the unit
/// of column widths) are 9⅓ pixels of ¾ point, a third wider than Calibri's, so Excel prints
/// the same sheet larger.
pub fn printed_scale(widths: &[f64]) -> f64 {
    let pt: f64 = widths.iter().map(|w| (w * 9.33 + 12.0) * 0.75).sum();
    (PRINTABLE_PT / pt).min(1.0)
}

/// Narrows the widest of the `wrapping` columns, half a character at a time, until the sheet
/// prints at [`MIN_SCALE`] or more, or none can be narrowed further (below `floor[i]`).
fn fit_to_page(widths: &mut [f64], floor: &[f64]) {
    while printed_scale(widths) < MIN_SCALE {
        let widest = (0..widths.len())
            .filter(|&i| widths[i] - 0.5 >= floor[i])
            .max_by(|&a, &b| widths[a].total_cmp(&widths[b]));
        match widest {
            Some(i) => widths[i] -= 0.5,
            None => break,
        }
    }
}

/// The height (points) of a row whose tallest cell has `lines` lines.
fn row_height(lines: u32) -> f64 {
    f64::from(lines) * LINE_PT + 4.0
}

/// The lines a text takes wrapped in a column `width` characters wide, as Excel wraps it: a
/// column is 7 pixels a character and 5 more, less 3 of padding; a CJK character (two in
/// [`text_width`]) is 14⅔ pixels; a character that does not fit starts the next line.
fn lines_in(text: &str, width: f64) -> u32 {
    let room = ((width * 7.0 + 2.0) / 7.33 - 0.7).max(1.0);
    text.split('\n')
        .map(|l| ((text_width(l) / room).ceil() as u32).max(1))
        .sum::<u32>()
        .max(1)
}

/// One sheet being copied: where its header is, the marks of its rows, its column widths.
struct SheetCopy<'a> {
    sheet: &'a SheetToCopy<'a>,
    header: Option<&'a Header>,
    /// The added column (after the header's last one).
    extra_col: u16,
    kinds: HashMap<usize, CellKind>,
    named: Vec<(u16, &'a str)>,
    by_row: HashMap<u32, RowMarks>,
    /// The widths of the input columns and, last, of 错误说明.
    widths: Vec<f64>,
    formats: &'a Formats,
    /// The last row written.
    last_row: Option<u32>,
}

impl<'a> SheetCopy<'a> {
    fn new(
        sheet: &'a SheetToCopy<'a>,
        problems: &[CellProblem],
        formats: &'a Formats,
    ) -> SheetCopy<'a> {
        let header = sheet.layout.header.as_ref();
        let named = named_columns(sheet);
        let kinds = named
            .iter()
            .map(|(c, n)| (usize::from(*c), cell_kind(n)))
            .collect();
        SheetCopy {
            sheet,
            header,
            extra_col: header.map_or(20, |h| h.width.max(1)) as u16,
            kinds,
            named,
            by_row: marks_of(sheet, problems),
            widths: Vec::new(),
            formats,
            last_row: None,
        }
    }

    fn header_row(&self) -> u32 {
        self.header.map_or(1, |h| h.row)
    }

    fn kind(&self, c: usize) -> CellKind {
        self.kinds.get(&c).copied().unwrap_or(CellKind::Other)
    }

    /// Sets the column widths from the content of the first [`MEASURED_ROWS`] rows and the
    /// messages, narrowing text columns to fit the page.
    fn measure<RS: Read + Seek>(&mut self, source: &mut Workbook<RS>) -> Result<(), ReadError> {
        let header_row = self.header_row();
        let mut seen = vec![0.0; usize::from(self.extra_col)];
        source.for_each_row(&self.sheet.layout.sheet, |row, cells| {
            // Title rows above the header (a merged title, say) do not widen a column.
            if row < header_row {
                return ControlFlow::Continue(());
            }
            for (w, v) in seen.iter_mut().zip(cells) {
                // The header wraps (two lines): half its width is enough.
                let t = text_width(&v.display());
                let t = if row == header_row { t / 2.0 } else { t };
                *w = f64::max(*w, t.min(60.0));
            }
            if row >= header_row.saturating_add(MEASURED_ROWS) {
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })?;
        let explanation = self
            .by_row
            .iter()
            .filter(|(r, _)| **r != header_row)
            .flat_map(|(_, m)| &m.messages)
            .map(|t| text_width(t))
            .fold(text_width(EXPLANATION), f64::max);
        self.set_widths(&seen, explanation);
        Ok(())
    }

    /// The widths from the content seen: ID, account, phone and date columns as wide as their
    /// content, other text and 错误说明 narrowed (and wrapped) as far as the page needs.
    fn set_widths(&mut self, seen: &[f64], explanation: f64) {
        let mut floor = Vec::with_capacity(seen.len() + 1);
        self.widths = seen
            .iter()
            .enumerate()
            .map(|(c, w)| {
                let kind = self.kind(c);
                // Digits need less room around them than words.
                let pad = if kind == CellKind::Other { 1.5 } else { 1.0 };
                let width = (w + pad).clamp(6.0, MAX_WIDTH);
                floor.push(width.min(match kind {
                    CellKind::Other => MIN_WRAPPED_WIDTH,
                    // An ID, a 19-digit account, a phone number, a date keep their line.
                    CellKind::Text => 20.0,
                    CellKind::Date => 11.0,
                }));
                width
            })
            .collect();
        self.widths
            .push((explanation + 1.5).clamp(MIN_EXPLANATION_WIDTH, MAX_WIDTH));
        floor.push(MIN_EXPLANATION_WIDTH);
        fit_to_page(&mut self.widths, &floor);
    }

    fn explanation_width(&self) -> f64 {
        self.widths.last().copied().unwrap_or(MIN_EXPLANATION_WIDTH)
    }

    /// Copies the sheet's rows, then writes the messages of rows it did not hold.
    fn write<RS: Read + Seek>(
        &mut self,
        ws: &mut Worksheet,
        source: &mut Workbook<RS>,
    ) -> Result<(), Failure> {
        let mut failure: Option<XlsxError> = None;
        let name = self.sheet.layout.sheet.clone();
        source.for_each_row(&name, |row, cells| {
            if self.last_row.is_some_and(|l| row <= l) {
                return ControlFlow::Continue(());
            }
            self.last_row = Some(row);
            match self.write_row(ws, row, cells) {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    failure = Some(e);
                    ControlFlow::Break(())
                }
            }
        })?;
        if let Some(e) = failure {
            return Err(e.into());
        }
        // Messages for rows the sheet did not hold (a sheet with no rows at all).
        let mut rest: Vec<u32> = self.by_row.keys().copied().collect();
        rest.sort_unstable();
        for row in rest {
            if self.last_row.is_none_or(|l| row > l) {
                self.write_row(ws, row, &[])?;
                self.last_row = Some(row);
            }
        }
        Ok(())
    }

    /// Writes one row: its cells, shaded where a problem is, and its 错误说明.
    fn write_row(
        &mut self,
        ws: &mut Worksheet,
        row: u32,
        cells: &[Value],
    ) -> Result<(), XlsxError> {
        let r = row.saturating_sub(1);
        let marks = self.by_row.remove(&row);
        let is_header = self.header.is_some_and(|h| h.row == row);
        let text = self.explanation_text(is_header, marks.as_ref());
        if let Some(pt) = self.height(row, cells, text.as_deref(), is_header) {
            ws.set_row_height(r, pt)?;
        }
        let shaded = |c: usize| marks.as_ref().is_some_and(|m| m.columns.contains(&c));
        for (c, v) in cells.iter().enumerate().take(usize::from(self.extra_col)) {
            self.write_cell(ws, row, c, v, is_header, shaded(c))?;
        }
        if let Some(t) = text {
            let f = if is_header {
                &self.formats.explanation_header
            } else {
                &self.formats.explanation
            };
            ws.write_string_with_format(r, self.extra_col, t, f)?;
        }
        Ok(())
    }

    /// The 错误说明 cell of a row: the header's (with the messages of the sheet as a whole),
    /// or a marked row's messages one a line.
    fn explanation_text(&self, is_header: bool, marks: Option<&RowMarks>) -> Option<String> {
        match (is_header, marks) {
            (true, Some(m)) => Some(format!("{EXPLANATION}：{}", m.messages.join("；"))),
            (true, None) => Some(EXPLANATION.to_string()),
            (false, Some(m)) => Some(m.messages.join("\n")),
            (false, None) => None,
        }
    }

    /// A row's height for its wrapped lines (None: the default height of one line).
    fn height(
        &self,
        row: u32,
        cells: &[Value],
        text: Option<&str>,
        is_header: bool,
    ) -> Option<f64> {
        let in_table = self.header.is_none_or(|h| row >= h.row);
        let cell_lines = cells
            .iter()
            .zip(&self.widths)
            .filter(|(v, _)| in_table && matches!(v, Value::Text(_)))
            .map(|(v, w)| lines_in(&v.display(), *w))
            .max()
            .unwrap_or(1);
        let explanation_lines = text.map_or(1, |t| lines_in(t, self.explanation_width()));
        let lines = cell_lines.max(explanation_lines).min(40);
        if is_header {
            Some(row_height(lines).max(HEADER_PT))
        } else if lines > 1 || text.is_some() {
            Some(row_height(lines).max(18.0))
        } else {
            None
        }
    }

    /// Writes one input cell as it was, in the header's style or its column's format.
    fn write_cell(
        &self,
        ws: &mut Worksheet,
        row: u32,
        c: usize,
        v: &Value,
        is_header: bool,
        shaded: bool,
    ) -> Result<(), XlsxError> {
        let (r, col) = (row.saturating_sub(1), c as u16);
        let in_table = self.header.is_none_or(|h| row > h.row);
        let fmt = if is_header {
            Some(&self.formats.template.header)
        } else {
            self.formats.cell(self.kind(c), shaded, in_table)
        };
        match (v, fmt) {
            (Value::Empty, Some(f)) if is_header || shaded => {
                ws.write_blank(r, col, f)?;
            }
            (Value::Empty, _) => {}
            (Value::Text(s), Some(f)) => {
                ws.write_string_with_format(r, col, s, f)?;
            }
            (Value::Text(s), None) => {
                ws.write_string(r, col, s)?;
            }
            (Value::Number(x), Some(f)) => {
                ws.write_number_with_format(r, col, *x, f)?;
            }
            (Value::Number(x), None) => {
                ws.write_number(r, col, *x)?;
            }
            (Value::Bool(b), _) => {
                ws.write_boolean(r, col, *b)?;
            }
            (Value::Date(d), _) => {
                ws.write_datetime_with_format(r, col, *d, self.formats.date(shaded))?;
            }
            (Value::Error(e), _) => {
                ws.write_string(r, col, e)?;
            }
        }
        Ok(())
    }

    /// The template's notes and checks, the widths and the print setup.
    fn finish(&self, ws: &mut Worksheet, out_name: &str) -> Result<(), XlsxError> {
        let header_row0 = self.header_row().saturating_sub(1);
        let last0 = self.last_row.unwrap_or(self.header_row()).saturating_sub(1);
        // Room to add rows with the same checks.
        let kind_sheet = template_sheet_of(self.sheet.columns);
        // A blank cell under the last row: rust_xlsxwriter's constant-memory writer writes a
        // last row that has a height of its own twice, and Excel offers to repair such a file.
        ws.write_blank(last0 + 1, 0, &Format::new())?;
        decorate_sheet(ws, kind_sheet, &self.named, header_row0, last0 + 200)?;
        for (c, w) in self.widths.iter().enumerate() {
            ws.set_column_width(c as u16, *w)?;
        }
        ws.set_paper_size(9)
            .set_landscape()
            .set_print_fit_to_pages(1, 0)
            .set_margins(0.3, 0.3, 0.6, 0.6, 0.3, 0.3)
            .set_header("&C&\"-,Bold\"错误说明：请按最右一列“错误说明”改正标黄的单元格后重新报送")
            .set_footer(format!(
                "&L{}&C第 &P 页，共 &N 页",
                out_name.replace('&', "&&")
            ));
        Ok(())
    }
}

/// Creates (or truncates) a file readable by its owner only (0600 on Unix).
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        options.open(path)
    }
}
