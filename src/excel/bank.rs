//! The bank's batch-payment (代发) workbook: one row per person paid, in the layout of a bank
//! template (`config/banks/*.toml`: sheet, columns and headers, text or number amounts, purpose
//! text, maximum rows per file, whether a totals row is allowed).
//!
//! Rows are written in rust_xlsxwriter's constant-memory mode, so a file of a million rows
//! needs no more memory than one of ten. ID and account numbers are always text cells (Excel
//! keeps 15 significant digits of a number); text that starts with `=`, `+`, `-` or `@` is
//! written as a quote-prefixed text cell, never as a formula. Nothing is masked here: the bank
//! needs full numbers, so the files are written with mode 0600 by [`crate::jobs::export`].

use super::bank_return::ReturnLayout;
use super::bank_text::{TextLayout, TextPart};
use super::summary::text_width;
use crate::rules::money::{fen_grouped, fen_str};
use chrono::{NaiveDate, NaiveDateTime};
use rust_xlsxwriter::{
    DocProperties, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};
use serde::Deserialize;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

/// The built-in default template (a copy of `config/banks/default.toml`).
pub const DEFAULT_TEMPLATE: &str = include_str!("../../config/banks/default.toml");

/// Excel's rows per worksheet, header and totals included.
pub const EXCEL_MAX_ROWS: u32 = 1_048_576;

/// A bank file that cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum BankError {
    /// The template cannot be read or is not usable (a configuration error, exit status 2).
    #[error("bank template {origin}: {message}")]
    Template { origin: String, message: String },
    /// More rows than the template allows in one file (the caller splits into parts).
    #[error("{rows} payment rows do not fit one bank file of at most {max} rows")]
    TooManyRows { rows: u64, max: u32 },
    #[error("cannot write the bank workbook: {0}")]
    Xlsx(#[from] XlsxError),
    /// A text bank file's payment row `row` (1-based within the part) cannot be written: a
    /// character the encoding cannot hold, or the separator in an unquoted field.
    #[error("银行文件第{row}笔的“{column}”：{message}")]
    TextField {
        row: u64,
        column: String,
        message: String,
    },
    /// A text bank file's header, trailer or column-header line cannot be written.
    #[error("银行文件的{line}：{message}")]
    TextLine { line: String, message: String },
    #[error("cannot write the bank file: {0}")]
    Io(#[from] std::io::Error),
}

/// What kind of file a bank template writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BankFormat {
    /// An .xlsx workbook.
    #[default]
    Xlsx,
    /// Delimited text (.txt/.csv) as the template's `[text]` table says.
    Text,
}

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// 序号, 1-based within the file.
    Seq,
    Name,
    IdNumber,
    Account,
    BankName,
    Amount,
    Purpose,
    /// The person's unit (工作单位).
    Unit,
    /// The column's `value` in every row.
    Const,
}

/// How amounts are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AmountCell {
    /// Number cells shown `#,##0.00`.
    #[default]
    Number,
    /// Text cells `1234.50`.
    Text,
}

/// One column of a bank template.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub field: Field,
    pub header: String,
    /// Width in characters.
    #[serde(default)]
    pub width: Option<u16>,
    /// The text of a `const` column.
    #[serde(default)]
    pub value: Option<String>,
}

/// A bank's batch-payment layout (see `config/banks/default.toml` for every key).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankTemplate {
    /// Recorded with each export.
    pub name: String,
    /// The bank the layout is for.
    pub bank: String,
    /// `xlsx` (the default) or `text` (with a `[text]` table).
    #[serde(default)]
    pub format: BankFormat,
    /// Worksheet name (xlsx only; required there).
    #[serde(default)]
    pub sheet: String,
    /// Optional line above the header; `{year}`, `{run}`, `{program}`, `{purpose}`, `{batch}`
    /// (the part's batch reference), `{payer}` (付款单位) and `{date}` filled in.
    #[serde(default)]
    pub title: Option<String>,
    /// Purpose text (用途) with `{year}`, `{run}`, `{program}` placeholders.
    pub purpose: String,
    /// Maximum payment rows per file.
    pub max_rows: u32,
    /// Whether a 合计 row follows the payment rows.
    #[serde(default)]
    pub totals_row: bool,
    #[serde(default)]
    pub amount: AmountCell,
    pub columns: Vec<Column>,
    /// The text layout (`format = "text"` only).
    #[serde(default)]
    pub text: Option<TextLayout>,
    /// The layout of the bank's return file (回盘); None: [`ReturnLayout::default_for`].
    #[serde(default, rename = "return")]
    pub returns: Option<ReturnLayout>,
}

impl BankTemplate {
    /// The built-in default template.
    pub fn builtin() -> BankTemplate {
        BankTemplate::parse(DEFAULT_TEMPLATE, "built-in default").expect("built-in template")
    }

    /// Reads and checks a template file.
    pub fn load(path: &Path) -> Result<BankTemplate, BankError> {
        let text = std::fs::read_to_string(path).map_err(|e| BankError::Template {
            origin: path.display().to_string(),
            message: format!("cannot read it: {e}"),
        })?;
        BankTemplate::parse(&text, &path.display().to_string())
    }

    /// Parses and checks template text (`origin` names it in errors).
    pub fn parse(text: &str, origin: &str) -> Result<BankTemplate, BankError> {
        let err = |message: String| BankError::Template {
            origin: origin.to_string(),
            message,
        };
        let t: BankTemplate = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        t.check().map_err(err)?;
        Ok(t)
    }

    /// Checks a template read from TOML; the message says what is wrong.
    fn check(&self) -> Result<(), String> {
        self.check_columns()?;
        match self.format {
            BankFormat::Xlsx => self.check_xlsx()?,
            BankFormat::Text => self.check_text()?,
        }
        if let Some(r) = &self.returns {
            r.check().map_err(|m| format!("[return] {m}"))?;
        }
        Ok(())
    }

    /// The columns: some, the name, account and amount among them, `value` where it belongs.
    fn check_columns(&self) -> Result<(), String> {
        if self.columns.is_empty() {
            return Err("it has no [[columns]]".into());
        }
        for (f, key) in [
            (Field::Name, "name"),
            (Field::Account, "account"),
            (Field::Amount, "amount"),
        ] {
            if !self.columns.iter().any(|c| c.field == f) {
                return Err(format!("a bank file needs a `{key}` column"));
            }
        }
        for c in &self.columns {
            if (c.field == Field::Const) != c.value.is_some() {
                return Err(format!(
                    "column `{}`: `value` belongs to field = \"const\" columns, and they need one",
                    c.header
                ));
            }
        }
        if self.columns.len() > 200 {
            return Err("too many columns".into());
        }
        Ok(())
    }

    /// An xlsx template: no `[text]`, a valid sheet name, rows that fit a sheet.
    fn check_xlsx(&self) -> Result<(), String> {
        if self.text.is_some() {
            return Err("a [text] table belongs to format = \"text\" templates".into());
        }
        if self.sheet.is_empty() {
            return Err("an xlsx template needs `sheet` (the worksheet's name)".into());
        }
        if rust_xlsxwriter::utility::check_sheet_name(&self.sheet).is_err() {
            return Err(format!("`{}` is not a valid worksheet name", self.sheet));
        }
        let overhead = self.header_row() + 1 + u32::from(self.totals_row);
        if self.max_rows == 0 || self.max_rows > EXCEL_MAX_ROWS - overhead {
            return Err(format!(
                "max_rows must be between 1 and {} (Excel's rows per sheet)",
                EXCEL_MAX_ROWS - overhead
            ));
        }
        Ok(())
    }

    /// A text template: a valid `[text]`, none of the xlsx keys that would be lost silently.
    fn check_text(&self) -> Result<(), String> {
        let Some(text) = &self.text else {
            return Err("format = \"text\" needs a [text] table".into());
        };
        text.check()?;
        if self.title.is_some() {
            return Err(
                "`title` is for xlsx templates; a text file's first line is [text] header_line"
                    .into(),
            );
        }
        if self.totals_row {
            return Err("`totals_row` is for xlsx templates; a text file's totals go in [text] trailer_line ({count}, {total})".into());
        }
        if self.max_rows == 0 {
            return Err("max_rows must be at least 1".into());
        }
        Ok(())
    }

    /// The extension of the files the template writes: `xlsx`, `txt` or `csv`.
    pub fn extension(&self) -> &str {
        match (self.format, &self.text) {
            (BankFormat::Text, Some(t)) => t.extension(),
            (BankFormat::Text, None) => "txt",
            (BankFormat::Xlsx, _) => "xlsx",
        }
    }

    /// The layout of the bank's return file: the `[return]` table, or the default for this
    /// template's columns ([`ReturnLayout::default_for`]).
    pub fn return_layout(&self) -> ReturnLayout {
        self.returns
            .clone()
            .unwrap_or_else(|| ReturnLayout::default_for(self))
    }

    /// The template a configuration names (`None`: the built-in default).
    pub fn from_config(path: Option<PathBuf>) -> Result<BankTemplate, BankError> {
        match path {
            Some(p) => BankTemplate::load(&p),
            None => Ok(BankTemplate::builtin()),
        }
    }

    /// The zero-based row of the header (1 when there is a title line).
    pub fn header_row(&self) -> u32 {
        u32::from(self.title.is_some())
    }
}

/// Fills `{year}`, `{run}`, `{program}` (and `{purpose}`) into a template text.
pub fn fill(text: &str, year: i32, run: i64, program: &str, purpose: &str) -> String {
    text.replace("{year}", &year.to_string())
        .replace("{run}", &run.to_string())
        .replace("{program}", program)
        .replace("{purpose}", purpose)
}

/// Whether a spreadsheet would take this text for a formula if typed in (`=`, `+`, `-`, `@`).
pub fn formula_like(s: &str) -> bool {
    s.starts_with(['=', '+', '-', '@'])
}

/// One person paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankRow {
    pub name: String,
    pub id_number: String,
    pub account: String,
    pub bank_name: String,
    pub unit: String,
    /// Amount in fen (> 0).
    pub fen: i64,
}

/// What a bank file says besides its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankFileInfo {
    /// The purpose text, filled in.
    pub purpose: String,
    /// The title line, filled in (when the template has one).
    pub title: Option<String>,
    /// The batch reference, stored as the document title.
    pub batch_ref: String,
    /// Stored as the document author and company.
    pub organization: String,
    /// The document's creation time (UTC): fixed, so re-exports are byte-identical.
    pub created: NaiveDateTime,
    /// The date printed in each page's header: the approval's day in Asia/Shanghai.
    pub date: NaiveDate,
}

/// Control totals of one bank file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartTotals {
    pub rows: u64,
    pub fen: i64,
}

struct Formats {
    header: Format,
    text: Format,
    text_quoted: Format,
    number: Format,
    amount: Format,
    title: Format,
    total_text: Format,
    total_amount: Format,
}

impl Formats {
    fn new() -> Formats {
        let base = Format::new()
            .set_border(FormatBorder::Thin)
            .set_font_size(10);
        Formats {
            header: base
                .clone()
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_background_color(0xDDEBF7),
            // Indented: left-aligned text keeps a gap from the right-aligned amount beside it.
            text: base.clone().set_num_format("@").set_indent(1),
            text_quoted: base
                .clone()
                .set_num_format("@")
                .set_indent(1)
                .set_quote_prefix(),
            number: base.clone().set_align(FormatAlign::Center),
            amount: base.clone().set_num_format("#,##0.00"),
            title: Format::new().set_bold().set_font_size(12),
            total_text: base.clone().set_bold(),
            total_amount: base.set_bold().set_num_format("#,##0.00"),
        }
    }
}

/// Writes a text cell; formula-like text gets a quote prefix and stays text.
pub(crate) fn put_text(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    s: &str,
    plain: &Format,
    quoted: &Format,
) -> Result<(), XlsxError> {
    let f = if formula_like(s) { quoted } else { plain };
    ws.write_string_with_format(row, col, s, f)?;
    Ok(())
}

/// Writes one bank file (at most `template.max_rows` rows) to `out` and returns its control
/// totals. Rows are streamed: memory does not grow with their number.
pub fn write_bank_file<W, I>(
    template: &BankTemplate,
    info: &BankFileInfo,
    rows: I,
    out: W,
) -> Result<PartTotals, BankError>
where
    W: Write + Seek + Send,
    I: IntoIterator<Item = BankRow>,
{
    let mut w = BankWriter::new(template, info.clone())?;
    for r in rows {
        w.push(&r)?;
    }
    w.finish(out)
}

/// One bank file written a row at a time (constant memory), an .xlsx workbook or a text
/// file as the template's `format` says: [`BankWriter::new`] starts it, [`BankWriter::push`]
/// adds a row, [`BankWriter::finish`] writes the totals (row, or header and trailer lines) and
/// the file. [`write_bank_file`] is the same over an iterator.
pub struct BankWriter<'a> {
    part: Part<'a>,
}

/// The writer of one kind of file.
enum Part<'a> {
    Xlsx(Box<XlsxPart<'a>>),
    Text(Box<TextPart<'a>>),
}

impl<'a> BankWriter<'a> {
    /// Starts the file: for an .xlsx its properties, heading and print setup; for a text
    /// file its column-header line (when the layout has one).
    pub fn new(template: &'a BankTemplate, info: BankFileInfo) -> Result<Self, BankError> {
        let part = match (template.format, &template.text) {
            (BankFormat::Xlsx, _) => Part::Xlsx(Box::new(XlsxPart::new(template, info)?)),
            (BankFormat::Text, Some(layout)) => {
                Part::Text(Box::new(TextPart::new(template, layout, info)?))
            }
            (BankFormat::Text, None) => {
                return Err(BankError::Template {
                    origin: template.name.clone(),
                    message: "format = \"text\" needs a [text] table".into(),
                })
            }
        };
        Ok(BankWriter { part })
    }

    /// Gives a text file's header and trailer lines their `{year}`, `{run}` and `{program}`
    /// (an .xlsx's title comes filled in [`BankFileInfo::title`]). A text file whose lines use
    /// them cannot be finished without.
    pub fn set_run(&mut self, year: i32, run: i64, program: &str) {
        if let Part::Text(t) = &mut self.part {
            t.set_run(year, run, program);
        }
    }

    /// Compresses an .xlsx at zlib's fastest level (a text file is not compressed): for the
    /// parts of a run too large for one file, where level 6 was half of the bank writer's time
    /// (a million people: 149 parts, about 3 s of the export's CPU; issue 15). Each part is
    /// about a sixth larger (430 KB against 370 KB for 5,000 rows). A run that fits one file
    /// keeps the default level.
    pub fn compress_fast(&mut self) {
        if let Part::Xlsx(x) = &mut self.part {
            x.wb.set_zip_compression_level(1);
        }
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        match &self.part {
            Part::Xlsx(x) => x.totals.rows,
            Part::Text(t) => t.rows(),
        }
    }

    /// Adds a row; refuses one past the template's maximum.
    pub fn push(&mut self, r: &BankRow) -> Result<(), BankError> {
        let (rows, max) = match &self.part {
            Part::Xlsx(x) => (x.totals.rows, x.sheet.template.max_rows),
            Part::Text(t) => (t.rows(), t.max_rows()),
        };
        if rows >= u64::from(max) {
            return Err(BankError::TooManyRows {
                rows: rows + 1,
                max,
            });
        }
        match &mut self.part {
            Part::Xlsx(x) => x.push(r),
            Part::Text(t) => t.push(r),
        }
    }

    /// Finishes the file, writes it to `out` and returns its control totals.
    pub fn finish<W: Write + Seek + Send>(self, out: W) -> Result<PartTotals, BankError> {
        match self.part {
            Part::Xlsx(x) => x.finish(out),
            Part::Text(t) => t.finish(out),
        }
    }
}

/// An .xlsx bank file being written.
struct XlsxPart<'a> {
    sheet: BankSheet<'a>,
    wb: Workbook,
    /// The template's widths, widened to the content seen.
    widths: Vec<f64>,
    header: u32,
    totals: PartTotals,
}

impl<'a> XlsxPart<'a> {
    fn new(template: &'a BankTemplate, info: BankFileInfo) -> Result<Self, BankError> {
        let sheet = BankSheet {
            template,
            date: crate::rules::month::cn_date(info.date),
            info,
            f: Formats::new(),
        };
        let mut wb = Workbook::new();
        wb.set_properties(&sheet.properties());
        let ws = wb.add_worksheet_with_constant_memory()?;
        ws.set_name(&template.sheet)?;
        sheet.write_heading(ws)?;
        sheet.print_setup(ws);
        Ok(XlsxPart {
            widths: sheet.initial_widths(),
            header: template.header_row(),
            sheet,
            wb,
            totals: PartTotals::default(),
        })
    }

    fn push(&mut self, r: &BankRow) -> Result<(), BankError> {
        self.totals.rows += 1;
        self.totals.fen += r.fen;
        let row = self.header + self.totals.rows as u32;
        self.sheet.widen(&mut self.widths, r);
        let ws = self.wb.worksheet_from_index(0)?;
        self.sheet.write_row(ws, row, self.totals.rows, r)?;
        Ok(())
    }

    /// The totals row (when the template has one) and the widths; writes the file to `out`
    /// and returns its control totals.
    fn finish<W: Write + Seek + Send>(mut self, out: W) -> Result<PartTotals, BankError> {
        let (sheet, totals) = (&self.sheet, self.totals);
        let ws = self.wb.worksheet_from_index(0)?;
        if sheet.template.totals_row {
            sheet.write_totals_row(ws, self.header + totals.rows as u32 + 1, totals)?;
            sheet.widen_for_totals(&mut self.widths, totals);
        }
        for (i, w) in self.widths.iter().enumerate() {
            ws.set_column_width(i as u16, *w)?;
        }
        self.wb.save_to_writer(out)?;
        Ok(totals)
    }
}

/// What a bank file's rows are written with: the layout, the file's facts, the formats and
/// the date as printed.
struct BankSheet<'a> {
    template: &'a BankTemplate,
    info: BankFileInfo,
    f: Formats,
    /// The creation date, `2024年12月1日`.
    date: String,
}

impl BankSheet<'_> {
    /// The document properties: batch, purpose, payer, creation time.
    fn properties(&self) -> DocProperties {
        let info = &self.info;
        DocProperties::new()
            .set_title(&info.batch_ref)
            .set_subject(&info.purpose)
            .set_author(&info.organization)
            .set_company(&info.organization)
            .set_creation_datetime(&info.created)
    }

    /// Each column's width before the rows: the template's, or its header's, purpose's or
    /// constant's, or what an ID number or an amount needs.
    fn initial_widths(&self) -> Vec<f64> {
        self.template
            .columns
            .iter()
            .map(|c| {
                let content = match c.field {
                    Field::IdNumber => 18.0,
                    Field::Amount => 12.0,
                    Field::Purpose => text_width(&self.info.purpose),
                    Field::Const => text_width(c.value.as_deref().unwrap_or("")),
                    _ => 4.0,
                };
                f64::from(c.width.unwrap_or(0))
                    .max(content + 2.0)
                    .max(text_width(&c.header) + 2.0)
            })
            .collect()
    }

    /// The title line (if any) and the header row, frozen and repeated on printed pages.
    fn write_heading(&self, ws: &mut Worksheet) -> Result<(), XlsxError> {
        let (info, f) = (&self.info, &self.f);
        let header = self.template.header_row();
        if let Some(title) = &info.title {
            let title = title
                .replace("{batch}", &info.batch_ref)
                .replace("{payer}", &info.organization)
                .replace("{date}", &self.date);
            put_text(ws, 0, 0, &title, &f.title, &f.title)?;
        }
        ws.set_row_height(header, 20)?;
        for (i, c) in self.template.columns.iter().enumerate() {
            put_text(ws, header, i as u16, &c.header, &f.header, &f.header)?;
        }
        ws.set_freeze_panes(header + 1, 0)?;
        ws.set_repeat_rows(header, header)?;
        Ok(())
    }

    /// A4 landscape, one page wide; batch, payer and date in the page header, 经办/复核 in the
    /// footer.
    fn print_setup(&self, ws: &mut Worksheet) {
        // The bank's import layout keeps its first rows (the header in row 1 for most banks), so
        // what identifies the printed list — batch, payer, date — and the 经办/复核 lines are in
        // the page header and footer, not in cells.
        let info = &self.info;
        let amp = |s: &str| s.replace('&', "&&");
        ws.set_paper_size(9)
            .set_landscape()
            .set_print_fit_to_pages(1, 0)
            .set_print_center_horizontally(true)
            .set_margins(0.5, 0.5, 0.9, 0.9, 0.3, 0.3)
            .set_header(format!(
                "&L付款单位：{}&C&\"-,Bold\"代发清单　{}&R批次号：{}　日期：{}",
                amp(&info.organization),
                amp(&info.purpose),
                amp(&info.batch_ref),
                self.date
            ))
            .set_footer(format!(
                "&L经办：＿＿＿＿＿＿　　复核：＿＿＿＿＿＿　　（{}）&C第 &P 页，共 &N 页&R付款单位（盖章）",
                amp(&info.batch_ref)
            ));
    }

    /// Widens the columns to a row's name, numbers, bank and unit (at most 50 characters).
    fn widen(&self, widths: &mut [f64], r: &BankRow) {
        for (i, c) in self.template.columns.iter().enumerate() {
            let seen = match c.field {
                Field::Name => text_width(&r.name),
                Field::IdNumber => text_width(&r.id_number),
                Field::Account => text_width(&r.account),
                Field::BankName => text_width(&r.bank_name),
                Field::Unit => text_width(&r.unit),
                _ => 0.0,
            };
            widths[i] = widths[i].max((seen + 2.0).min(50.0));
        }
    }

    /// Writes the payment row `seq` (1-based) at `row`.
    fn write_row(
        &self,
        ws: &mut Worksheet,
        row: u32,
        seq: u64,
        r: &BankRow,
    ) -> Result<(), XlsxError> {
        let f = &self.f;
        for (i, c) in self.template.columns.iter().enumerate() {
            let col = i as u16;
            let text =
                |s: &str, ws: &mut Worksheet| put_text(ws, row, col, s, &f.text, &f.text_quoted);
            match c.field {
                Field::Seq => {
                    ws.write_number_with_format(row, col, seq as f64, &f.number)?;
                }
                Field::Name => text(&r.name, ws)?,
                Field::IdNumber => text(&r.id_number, ws)?,
                Field::Account => text(&r.account, ws)?,
                Field::BankName => text(&r.bank_name, ws)?,
                Field::Unit => text(&r.unit, ws)?,
                Field::Purpose => text(&self.info.purpose, ws)?,
                Field::Const => text(c.value.as_deref().unwrap_or(""), ws)?,
                Field::Amount => match self.template.amount {
                    AmountCell::Number => {
                        ws.write_number_with_format(row, col, r.fen as f64 / 100.0, &f.amount)?;
                    }
                    AmountCell::Text => text(&fen_str(r.fen), ws)?,
                },
            }
        }
        Ok(())
    }

    /// The column the 合计 label goes in: the first that is not an amount.
    fn label_col(&self) -> usize {
        self.template
            .columns
            .iter()
            .position(|c| c.field != Field::Amount)
            .unwrap_or(0)
    }

    /// Writes the 合计 row at `row`: the label, the total amount, the other cells blank.
    fn write_totals_row(
        &self,
        ws: &mut Worksheet,
        row: u32,
        totals: PartTotals,
    ) -> Result<(), XlsxError> {
        let f = &self.f;
        let label_col = self.label_col() as u16;
        for (i, c) in self.template.columns.iter().enumerate() {
            let col = i as u16;
            if c.field == Field::Amount {
                match self.template.amount {
                    AmountCell::Number => {
                        ws.write_number_with_format(
                            row,
                            col,
                            totals.fen as f64 / 100.0,
                            &f.total_amount,
                        )?;
                    }
                    AmountCell::Text => {
                        ws.write_string_with_format(row, col, fen_str(totals.fen), &f.total_text)?;
                    }
                }
            } else if col == label_col {
                ws.write_string_with_format(
                    row,
                    col,
                    format!("合计（{}笔）", totals.rows),
                    &f.total_text,
                )?;
            } else {
                ws.write_blank(row, col, &f.total_text)?;
            }
        }
        Ok(())
    }

    /// Widens the label's and the amount's columns to the 合计 row.
    fn widen_for_totals(&self, widths: &mut [f64], totals: PartTotals) {
        let total = format!("合计（{}笔）", totals.rows);
        let label_col = self.label_col();
        widths[label_col] = widths[label_col].max(text_width(&total) + 2.0);
        if let Some(a) = self
            .template
            .columns
            .iter()
            .position(|c| c.field == Field::Amount)
        {
            widths[a] = widths[a].max(fen_grouped(totals.fen).len() as f64 + 3.0);
        }
    }
}

/// A one-line description of a part for logs and the export report (no personal data).
pub fn describe_part(file: &str, batch_ref: &str, totals: PartTotals) -> String {
    format!(
        "{file}: batch {batch_ref}, {} rows, {} yuan",
        totals.rows,
        fen_grouped(totals.fen)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_templates_parse() {
        let t = BankTemplate::builtin();
        assert_eq!(t.name, "default");
        let headers: Vec<&str> = t.columns.iter().map(|c| c.header.as_str()).collect();
        assert_eq!(
            headers,
            [
                "序号",
                "姓名",
                "身份证号码",
                "银行账号",
                "开户行",
                "金额（元）",
                "用途"
            ]
        );
        assert!(t.totals_row);
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config/banks/example-second-bank.toml");
        let t2 = BankTemplate::load(&path).unwrap();
        assert_eq!(t2.amount, AmountCell::Text);
        assert!(!t2.totals_row);
        assert_eq!(t2.header_row(), 1);
        assert_eq!(t2.extension(), "xlsx");
        let r2 = t2.return_layout();
        assert_eq!(r2.date.as_deref(), Some("处理日期"));
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config/banks/example-text-bank.toml");
        let t3 = BankTemplate::load(&path).unwrap();
        assert_eq!((t3.format, t3.extension()), (BankFormat::Text, "txt"));
        assert_eq!(t3.return_layout().separator.as_deref(), Some("|"));
    }

    #[test]
    fn a_template_without_return_gets_the_default_layout() {
        let start = DEFAULT_TEMPLATE.find("\n[return]").unwrap();
        let t = BankTemplate::parse(&DEFAULT_TEMPLATE[..start], "t.toml").unwrap();
        assert!(t.returns.is_none());
        // The shipped [return] spells the default out.
        assert_eq!(Some(t.return_layout()), BankTemplate::builtin().returns);
    }

    #[test]
    fn bad_text_templates_are_refused() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config/banks/example-text-bank.toml"),
        )
        .unwrap();
        let cases = [
            (
                "separator = \"|\"\nquote",
                "separator = \"\"\nquote",
                "separator",
            ),
            ("decimals = 2", "decimals = 5", "decimals"),
            ("decimals = 2", "decimals = 2\ncolour = 1", "colour"),
            ("T|{count}|{total}", "T|{count}|{sum}", "{sum}"),
            (
                "format = \"text\"",
                "format = \"text\"\ntitle = \"x\"",
                "header_line",
            ),
            (
                "format = \"text\"",
                "format = \"text\"\ntotals_row = true",
                "trailer_line",
            ),
            (
                "format = \"text\"",
                "format = \"xlsx\"\nsheet = \"s\"",
                "[text]",
            ),
            (
                "encoding = \"gbk\"\nline",
                "encoding = \"big5\"\nline",
                "big5",
            ),
            ("status = \"状态\"", "status = \"金额\"", "two columns"),
            ("batch_ref = \"批次号\"\n", "", "row_no"),
            (
                "failed_values = [\"失败\", \"F\"]",
                "failed_values = [\"成功\"]",
                "both",
            ),
        ];
        for (from, to, expected) in cases {
            assert!(text.contains(from), "{from}");
            let mut bad = text.replacen(from, to, 1);
            if expected == "row_no" {
                bad = bad.replace(
                    "account = \"收款账号\"\namount = \"金额\"",
                    "amount = \"金额\"",
                );
            }
            let e = BankTemplate::parse(&bad, "t.toml").unwrap_err().to_string();
            assert!(e.contains(expected), "{expected}: {e}");
        }
    }

    #[test]
    fn bad_templates_are_refused() {
        let base = BankTemplate::builtin();
        let no_account = r#"
name = "x"
bank = "x"
sheet = "s"
purpose = "p"
max_rows = 10
[[columns]]
field = "name"
header = "姓名"
[[columns]]
field = "amount"
header = "金额"
"#;
        let e = BankTemplate::parse(no_account, "t.toml").unwrap_err();
        assert!(e.to_string().contains("account"), "{e}");
        let too_many = DEFAULT_TEMPLATE.replace("max_rows = 5000", "max_rows = 2000000");
        let e = BankTemplate::parse(&too_many, "t.toml").unwrap_err();
        assert!(e.to_string().contains("max_rows"), "{e}");
        let bad_sheet = DEFAULT_TEMPLATE.replace("sheet = \"代发明细\"", "sheet = \"a[b]\"");
        assert!(BankTemplate::parse(&bad_sheet, "t.toml").is_err());
        assert_eq!(base.sheet, "代发明细");
    }

    /// A part compressed fast holds the same cells as one at the default level, in a larger
    /// file (the level is what changed, not the content).
    #[test]
    fn a_part_compressed_fast_holds_the_same_cells() {
        use calamine::Reader;
        let template = BankTemplate::builtin();
        let write = |fast: bool| {
            let info = BankFileInfo {
                purpose: "2024年度津贴".into(),
                title: Some("代发".into()),
                batch_ref: "ZD2024-1-1".into(),
                organization: "张店区人社局".into(),
                created: NaiveDate::from_ymd_opt(2024, 12, 1)
                    .unwrap()
                    .and_hms_opt(8, 0, 0)
                    .unwrap(),
                date: NaiveDate::from_ymd_opt(2024, 12, 1).unwrap(),
            };
            let mut w = BankWriter::new(&template, info).unwrap();
            if fast {
                w.compress_fast();
            }
            for i in 0..3000_i64 {
                w.push(&BankRow {
                    name: format!("技师{i}"),
                    id_number: format!("370303198001{:06}", i),
                    account: format!("6222021603{:09}", i * 7919),
                    bank_name: "中国工商银行淄博张店支行".into(),
                    unit: "淄博示例机械有限公司".into(),
                    fen: 600_000 + i,
                })
                .unwrap();
            }
            let mut out = std::io::Cursor::new(Vec::new());
            w.finish(&mut out).unwrap();
            out.into_inner()
        };
        let (default, fast) = (write(false), write(true));
        assert!(
            fast.len() > default.len(),
            "fast {} bytes, default {}",
            fast.len(),
            default.len()
        );
        let cells = |bytes: Vec<u8>| {
            let mut wb: calamine::Xlsx<_> =
                calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
            wb.worksheet_range(&template.sheet).unwrap()
        };
        let (a, b) = (cells(default), cells(fast));
        assert_eq!(a.height(), b.height());
        assert!(a.height() > 3000);
        assert!(a.rows().eq(b.rows()), "the same cells");
    }

    #[test]
    fn fill_and_formula_like() {
        assert_eq!(
            fill(
                "{year}年度{program}第{run}批",
                2025,
                1,
                "张店区首席技师津贴",
                ""
            ),
            "2025年度张店区首席技师津贴第1批"
        );
        for s in ["=1+1", "+86", "-5", "@SUM(A1)"] {
            assert!(formula_like(s), "{s}");
        }
        assert!(!formula_like("李娜"));
    }
}
