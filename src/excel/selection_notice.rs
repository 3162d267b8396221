//! The public notice lists of a selection round, for the bureau's website: 推荐人选公示名单 (the
//! nominated candidates) and 建议人选公示名单 (the proposed list before inspection). Name, unit,
//! occupation, level and the notice period, with the bureau's contact for objections; an ID
//! number is never on a public list. Laid out for A4; [`to_pdf`] prints it to PDF where
//! LibreOffice is installed.
//!
//! One sheet, 公示名单: the title, a lead paragraph, the table (序号, 姓名, 工作单位, 职业（工种）,
//! 职业资格等级, and 推荐单位 on the nominated list), then the notice period, the contact, and the
//! organization and date, right-aligned. A4 portrait when the table fits it at a readable
//! scale, else landscape; fitted to the page's width, the table's header on every page, page
//! numbers in the footer. Long units wrap; each row is as high as its wrapped lines, and the
//! closing lines are never split from each other.
//!
//! The file is public (mode 0644). As a last guard, a list whose text holds an 18-character
//! run like an ID number ([`contains_id_like`]) is refused, not written.

use super::bank::put_text;
use super::catch_writer_panic;
use super::summary::{fit_width, text_width};
use crate::rules::month::cn_date;
use crate::rules::workdays::Calendar;
use chrono::NaiveDate;
use rust_xlsxwriter::{
    DocProperties, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Which list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// 推荐人选公示名单
    Nominated,
    /// 建议人选公示名单
    Proposed,
}

/// One person on a list. No ID number: the type has no place for one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeRow {
    pub name: String,
    pub unit: String,
    pub occupation: String,
    pub level: String,
    /// 推荐单位 (shown on the nominated list).
    pub nominator: String,
}

/// A notice list to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeList {
    pub kind: NoticeKind,
    pub year: i32,
    /// The programme's name (张店区首席技师), for the title.
    pub program: String,
    /// Who publishes it (张店区人力资源和社会保障局).
    pub organization: String,
    /// The notice's first and last day (5 working days).
    pub period: (NaiveDate, NaiveDate),
    /// Whom to send objections to (the bureau's office, person and phone).
    pub contact: String,
    /// The day the list is published.
    pub published: NaiveDate,
    pub rows: Vec<NoticeRow>,
}

/// Writing a notice failed.
#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error("cannot write the notice {path}: {message}")]
    Write { path: String, message: String },
}

/// The sheet's name.
pub const NOTICE_SHEET: &str = "公示名单";

/// The list's title: `2026年度张店区首席技师推荐人选公示名单`.
pub fn notice_title(list: &NoticeList) -> String {
    let what = match list.kind {
        NoticeKind::Nominated => "推荐人选",
        NoticeKind::Proposed => "建议人选",
    };
    format!("{}年度{}{what}公示名单", list.year, list.program)
}

/// The lead paragraph above the table.
pub fn lead_text(list: &NoticeList) -> String {
    let n = list.rows.len();
    match list.kind {
        NoticeKind::Nominated => format!(
            "经单位推荐，{}年度{}推荐人选共{n}人。现将推荐人选名单予以公示，接受社会监督。",
            list.year, list.program
        ),
        NoticeKind::Proposed => format!(
            "经单位推荐、资格审核和专家评审，确定{}年度{}建议人选共{n}人。现将建议人选名单予以公示，接受社会监督。",
            list.year, list.program
        ),
    }
}

/// The notice period line: `公示期：2026年5月6日至2026年5月11日（5个工作日）。公示期间，…`.
/// The working days are counted with the built-in calendar; outside the years it covers they
/// are not stated.
pub fn period_text(list: &NoticeList) -> String {
    let (from, to) = list.period;
    let days = Calendar::built_in()
        .working_days_between(from, to)
        .ok()
        .filter(|n| *n > 0)
        .map(|n| format!("（{n}个工作日）"))
        .unwrap_or_default();
    format!(
        "公示期：{}至{}{days}。公示期间，对公示人选有异议的，请以书面形式实名向{}反映。",
        cn_date(from),
        cn_date(to),
        list.organization
    )
}

/// Whether a text holds an 18-character run like an ID number: 17 digits and a digit or X
/// (full-width digits counted as digits), not part of a longer run of digits.
pub fn contains_id_like(s: &str) -> bool {
    let chars: Vec<char> = s
        .chars()
        .map(|c| match c {
            '０'..='９' | 'Ｘ' | 'ｘ' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            c => c,
        })
        .collect();
    let digit = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
    (0..chars.len()).any(|i| {
        (i == 0 || !digit(i - 1))
            && (i..i + 17).all(digit)
            && chars
                .get(i + 17)
                .is_some_and(|c| c.is_ascii_digit() || *c == 'X' || *c == 'x')
            && !digit(i + 18)
    })
}

/// Writes the list as an .xlsx workbook, readable by every user (it is public).
pub fn write_notice(path: &Path, list: &NoticeList) -> Result<(), NoticeError> {
    let err = |message: String| NoticeError::Write {
        path: path.display().to_string(),
        message,
    };
    if let Some(what) = id_like_field(list) {
        return Err(err(format!(
            "{what} holds an 18-character number like an ID number; a public list never shows one"
        )));
    }
    let bytes = catch_writer_panic(|| build(list))
        .map_err(&err)?
        .map_err(|e| err(e.to_string()))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
    }
    std::fs::write(path, bytes).map_err(|e| err(e.to_string()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| err(e.to_string()))?;
    }
    Ok(())
}

/// The first field of the list that looks like it holds an ID number.
fn id_like_field(list: &NoticeList) -> Option<String> {
    for (what, s) in [
        ("the programme", &list.program),
        ("the organization", &list.organization),
        ("the contact", &list.contact),
    ] {
        if contains_id_like(s) {
            return Some(what.to_string());
        }
    }
    list.rows.iter().enumerate().find_map(|(i, r)| {
        [&r.name, &r.unit, &r.occupation, &r.level, &r.nominator]
            .into_iter()
            .any(|s| contains_id_like(s))
            .then(|| format!("row {}", i + 1))
    })
}

// ---------------------------------------------------------------------------------------------
// Layout

/// Body text size (points).
const BODY_PT: f64 = 11.0;
/// Points per line of 11-point text (CJK fonts' lines are taller than Latin ones).
const LINE_PT: f64 = 15.0;
/// Margins (inches): left/right, top/bottom.
const SIDE_IN: f64 = 0.6;
const TOP_IN: f64 = 0.7;
const BOTTOM_IN: f64 = 0.8;
/// A4 in points.
const A4: (f64, f64) = (595.3, 841.9);
/// The scale the table is narrowed to (its wrapping columns, down to their floors): fitted to
/// the width, 11-point text prints at 10 points or more.
const TARGET_SCALE: f64 = 0.9;
/// Below this estimated scale, portrait gives way to landscape.
const PORTRAIT_MIN_SCALE: f64 = 0.85;

/// One table column: header and the widths it may take (characters).
struct Col {
    /// The header, broken where it may wrap (`\n`).
    header: &'static str,
    width: f64,
    /// Narrowed no further than this when fitting the page (its cells wrap).
    floor: f64,
}

/// The columns of a list, with their widths for its content.
fn columns(list: &NoticeList) -> Vec<Col> {
    let texts = |f: fn(&NoticeRow) -> &str| list.rows.iter().map(f).collect::<Vec<_>>();
    let fit = |v: &[&str], min: f64, max: f64| fit_width(v.iter().copied(), min, max);
    let col = |header, width, floor| Col {
        header,
        width,
        floor,
    };
    let mut cols = vec![
        col("序号", 5.5, 5.5),
        col("姓名", fit(&texts(|r| &r.name), 9.0, 14.0), 9.0),
        col("工作单位", fit(&texts(|r| &r.unit), 16.0, 40.0), 18.0),
        col(
            "职业\n（工种）",
            fit(&texts(|r| &r.occupation), 10.0, 18.0),
            10.0,
        ),
        col("职业资格\n等级", fit(&texts(|r| &r.level), 9.5, 12.0), 9.5),
    ];
    if list.kind == NoticeKind::Nominated {
        cols.push(col(
            "推荐单位",
            fit(&texts(|r| &r.nominator), 12.0, 30.0),
            14.0,
        ));
    }
    // A header line never wraps.
    for c in &mut cols {
        let header = text_width(c.header) + 2.5;
        c.width = c.width.max(header);
        c.floor = c.floor.max(header);
    }
    cols
}

/// The printed width (points) of columns of these widths at 100 %, as LibreOffice prints them
/// (its substitute for Calibri makes a character 9⅓ pixels of ¾ point, a third wider than
/// Excel's).
fn printed_pt(widths: &[f64]) -> f64 {
    widths.iter().map(|w| (w * 9.33 + 12.0) * 0.75).sum()
}

/// The page's printable width (points).
fn printable_width(landscape: bool) -> f64 {
    let page = if landscape { A4.1 } else { A4.0 };
    page - 2.0 * SIDE_IN * 72.0
}

/// The scale columns of these widths print at, fitted to the page's width.
fn scale_of(cols: &[Col], landscape: bool) -> f64 {
    let widths: Vec<f64> = cols.iter().map(|c| c.width).collect();
    (printable_width(landscape) / printed_pt(&widths)).min(1.0)
}

/// Narrows the widest of the columns that wrap, half a character at a time, until the table
/// prints at [`TARGET_SCALE`] or more or none can be narrowed further; returns the scale.
fn fit(cols: &mut [Col], landscape: bool) -> f64 {
    loop {
        let scale = scale_of(cols, landscape);
        if scale >= TARGET_SCALE {
            return scale;
        }
        let widest = (0..cols.len())
            .filter(|&i| cols[i].width - 0.5 >= cols[i].floor)
            .max_by(|&a, &b| cols[a].width.total_cmp(&cols[b].width));
        match widest {
            Some(i) => cols[i].width -= 0.5,
            None => return scale,
        }
    }
}

/// The orientation (landscape?) and the column widths: portrait when the table prints at
/// [`PORTRAIT_MIN_SCALE`] or more on it, else landscape.
fn layout(list: &NoticeList) -> (bool, Vec<Col>) {
    let mut portrait = columns(list);
    if fit(&mut portrait, false) >= PORTRAIT_MIN_SCALE {
        return (false, portrait);
    }
    let mut landscape = columns(list);
    fit(&mut landscape, true);
    (true, landscape)
}

/// The lines a text of `pt`-point characters takes wrapped in a cell `width` characters wide,
/// as Excel wraps it (it wraps sooner than LibreOffice: a CJK character is 2.1 of its digits,
/// against LibreOffice's 1.5): 7 pixels a character and 5 more, less 3 of padding; a CJK
/// character 14⅔ pixels at 11 points.
fn lines_in(text: &str, width: f64, pt: f64) -> u32 {
    let room = ((width * 7.0 + 2.0) / 7.33 * BODY_PT / pt - 0.7).max(1.0);
    text.split('\n')
        .map(|l| ((text_width(l) / room).ceil() as u32).max(1))
        .sum::<u32>()
        .max(1)
}

/// The height (points) of `lines` lines of `pt`-point text and a little room.
fn height(lines: u32, pt: f64) -> f64 {
    (f64::from(lines) * LINE_PT * pt / BODY_PT + 8.0).max(26.0)
}

struct Formats {
    title: Format,
    lead: Format,
    header: Format,
    number: Format,
    center: Format,
    text: Format,
    text_quoted: Format,
    center_quoted: Format,
    paragraph: Format,
    right: Format,
}

/// The paragraphs' size (points).
const PARAGRAPH_PT: f64 = 12.0;

impl Formats {
    fn new() -> Formats {
        let cell = Format::new()
            .set_font_size(BODY_PT)
            .set_border(FormatBorder::Thin)
            .set_align(FormatAlign::VerticalCenter)
            .set_text_wrap();
        let text = cell.clone().set_num_format("@");
        let center = text.clone().set_align(FormatAlign::Center);
        let paragraph = Format::new()
            .set_font_size(PARAGRAPH_PT)
            .set_text_wrap()
            .set_align(FormatAlign::Left)
            .set_align(FormatAlign::Top);
        Formats {
            title: Format::new()
                .set_bold()
                .set_font_size(18)
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter),
            lead: paragraph.clone().set_align(FormatAlign::VerticalCenter),
            header: cell
                .clone()
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_background_color(0xDDEBF7),
            number: cell
                .clone()
                .set_align(FormatAlign::Center)
                .set_num_format("0"),
            center_quoted: center.clone().set_quote_prefix(),
            center,
            text_quoted: text.clone().set_quote_prefix(),
            text,
            paragraph,
            right: Format::new()
                .set_font_size(PARAGRAPH_PT)
                .set_align(FormatAlign::Right)
                .set_align(FormatAlign::VerticalCenter),
        }
    }
}

/// The printable height of a page (points) for the manual page breaks, with room for the
/// footer: fitting to width only shrinks, so a page holds at least this.
fn page_height(landscape: bool) -> f64 {
    let page = if landscape { A4.0 } else { A4.1 };
    page - (TOP_IN + BOTTOM_IN) * 72.0 - 30.0
}

/// The workbook's bytes.
fn build(list: &NoticeList) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let title = notice_title(list);
    wb.set_properties(
        &DocProperties::new()
            .set_title(&title)
            .set_author(&list.organization)
            .set_company(&list.organization)
            .set_creation_datetime(&list.published.and_time(chrono::NaiveTime::MIN).and_utc()),
    );
    let ws = wb.add_worksheet();
    write_sheet(ws, list, &title)?;
    wb.save_to_buffer()
}

/// Rows' heights, set on the sheet and kept for the page breaks.
#[derive(Default)]
struct Heights(Vec<f64>);

impl Heights {
    fn set(&mut self, ws: &mut Worksheet, row: u32, pt: f64) -> Result<(), XlsxError> {
        ws.set_row_height(row, pt)?;
        let r = row as usize;
        if self.0.len() <= r {
            self.0.resize(r + 1, 15.0);
        }
        self.0[r] = pt;
        Ok(())
    }
}

fn write_sheet(ws: &mut Worksheet, list: &NoticeList, title: &str) -> Result<(), XlsxError> {
    let (landscape, cols) = layout(list);
    ws.set_name(NOTICE_SHEET)?;
    for (i, c) in cols.iter().enumerate() {
        ws.set_column_width(i as u16, c.width)?;
    }
    let mut sheet = NoticeSheet {
        ws,
        fm: Formats::new(),
        heights: Heights::default(),
        last: cols.len() as u16 - 1,
        total: cols.iter().map(|c| c.width).sum(),
    };
    sheet.heading(list, title)?;
    let header_row = 2;
    let table_last = sheet.table(list, &cols, header_row)?;
    let closing_first = table_last + 1;
    let closing_last = sheet.closing(list, closing_first)?;
    sheet.print_setup(
        landscape,
        header_row,
        table_last,
        closing_first,
        closing_last,
    )
}

/// The notice sheet being written: its formats, its rows' heights and its width.
struct NoticeSheet<'a> {
    ws: &'a mut Worksheet,
    fm: Formats,
    heights: Heights,
    /// The last column.
    last: u16,
    /// The columns' widths summed (characters).
    total: f64,
}

impl NoticeSheet<'_> {
    /// Writes the title and the lead paragraph (rows 0 and 1).
    fn heading(&mut self, list: &NoticeList, title: &str) -> Result<(), XlsxError> {
        let (fm, last) = (&self.fm, self.last);
        self.heights.set(self.ws, 0, 42.0)?;
        self.ws.merge_range(0, 0, 0, last, title, &fm.title)?;
        let lead = format!("\u{3000}\u{3000}{}", lead_text(list));
        let lines = lines_in(&lead, self.total, PARAGRAPH_PT);
        self.heights
            .set(self.ws, 1, height(lines, PARAGRAPH_PT) + 6.0)?;
        self.ws.merge_range(1, 0, 1, last, &lead, &fm.lead)?;
        Ok(())
    }

    /// Writes the table from its header at `header_row`; returns the table's last row.
    fn table(
        &mut self,
        list: &NoticeList,
        cols: &[Col],
        header_row: u32,
    ) -> Result<u32, XlsxError> {
        let header_lines = cols
            .iter()
            .map(|c| c.header.lines().count())
            .max()
            .unwrap_or(1);
        self.heights
            .set(self.ws, header_row, height(header_lines as u32, BODY_PT))?;
        for (i, c) in cols.iter().enumerate() {
            self.ws
                .write_string_with_format(header_row, i as u16, c.header, &self.fm.header)?;
        }
        // Each row as high as its text's lines wrapped as Excel wraps them, which is sooner than
        // LibreOffice: the text is never clipped, though LibreOffice may leave room (neither
        // application fits a row's height to its text by itself when it opens a file).
        let mut row = header_row;
        for (n, r) in list.rows.iter().enumerate() {
            row += 1;
            self.table_row(list.kind, cols, row, n, r)?;
        }
        if list.rows.is_empty() {
            row += 1;
            self.heights.set(self.ws, row, height(1, BODY_PT))?;
            self.ws
                .merge_range(row, 0, row, self.last, "（无）", &self.fm.center)?;
        }
        Ok(row)
    }

    /// Writes the `n`th (0-based) candidate `r` at `row` of the table.
    fn table_row(
        &mut self,
        kind: NoticeKind,
        cols: &[Col],
        row: u32,
        n: usize,
        r: &NoticeRow,
    ) -> Result<(), XlsxError> {
        let fm = &self.fm;
        let mut cells: Vec<&str> = vec![&r.name, &r.unit, &r.occupation, &r.level];
        if kind == NoticeKind::Nominated {
            cells.push(&r.nominator);
        }
        let lines = cells
            .iter()
            .zip(&cols[1..])
            .map(|(s, c)| lines_in(s, c.width, BODY_PT))
            .max()
            .unwrap_or(1);
        self.heights.set(self.ws, row, height(lines, BODY_PT))?;
        self.ws
            .write_number_with_format(row, 0, (n + 1) as f64, &fm.number)?;
        for (i, s) in cells.iter().enumerate() {
            let col = i as u16 + 1;
            // Units left-aligned (they wrap); the short cells centred.
            if matches!(i, 1 | 4) {
                put_text(self.ws, row, col, s, &fm.text, &fm.text_quoted)?;
            } else {
                put_text(self.ws, row, col, s, &fm.center, &fm.center_quoted)?;
            }
        }
        Ok(())
    }

    /// Writes the closing lines (period, contact, organization, date); returns the last row.
    fn closing(&mut self, list: &NoticeList, closing_first: u32) -> Result<u32, XlsxError> {
        let (fm, last) = (&self.fm, self.last);
        let mut row = closing_first;
        self.heights.set(self.ws, row, 14.0)?;
        let lines = [
            format!("\u{3000}\u{3000}{}", period_text(list)),
            format!("\u{3000}\u{3000}联系方式：{}", list.contact),
        ];
        for line in &lines {
            row += 1;
            let n = lines_in(line, self.total, PARAGRAPH_PT);
            self.heights.set(self.ws, row, height(n, PARAGRAPH_PT))?;
            self.ws
                .merge_range(row, 0, row, last, line, &fm.paragraph)?;
        }
        row += 1;
        self.heights.set(self.ws, row, 24.0)?;
        for text in [list.organization.clone(), cn_date(list.published)] {
            row += 1;
            self.heights.set(self.ws, row, 22.0)?;
            self.ws.merge_range(row, 0, row, last, &text, &fm.right)?;
        }
        Ok(row)
    }

    /// Sets up printing: A4, fitted to the width, the table's header on every page.
    fn print_setup(
        &mut self,
        landscape: bool,
        header_row: u32,
        table_last: u32,
        closing_first: u32,
        closing_last: u32,
    ) -> Result<(), XlsxError> {
        let ws = &mut *self.ws;
        ws.set_paper_size(9);
        if landscape {
            ws.set_landscape();
        } else {
            ws.set_portrait();
        }
        ws.set_print_fit_to_pages(1, 0)
            .set_print_center_horizontally(true)
            .set_margins(SIDE_IN, SIDE_IN, TOP_IN, BOTTOM_IN, 0.3, 0.4)
            .set_footer("&C第 &P 页，共 &N 页");
        ws.set_repeat_rows(header_row, header_row)?;
        ws.set_print_area(0, 0, closing_last, self.last)?;
        let breaks = page_breaks(
            &self.heights.0,
            header_row,
            table_last,
            closing_first,
            closing_last,
            page_height(landscape),
        );
        if !breaks.is_empty() {
            ws.set_page_breaks(&breaks)?;
        }
        Ok(())
    }
}

/// The rows that start a page: table rows fill each page under the repeated header; the
/// closing lines stay together, and when they do not fit under the table's last rows they take
/// the last table row with them to the next page (a page never starts with them alone).
fn page_breaks(
    heights: &[f64],
    header_row: u32,
    table_last: u32,
    closing_first: u32,
    closing_last: u32,
    page: f64,
) -> Vec<u32> {
    let h = |r: u32| heights.get(r as usize).copied().unwrap_or(15.0);
    let repeat = h(header_row);
    let mut breaks = Vec::new();
    let mut used: f64 = (0..=header_row).map(h).sum();
    for r in header_row + 1..=table_last {
        if used + h(r) > page && used > repeat {
            breaks.push(r);
            used = repeat;
        }
        used += h(r);
    }
    let closing: f64 = (closing_first..=closing_last).map(h).sum();
    if used + closing > page {
        let last_on_page = breaks.last().copied().unwrap_or(header_row + 1);
        if table_last > last_on_page && table_last > header_row + 1 {
            breaks.push(table_last);
        } else {
            breaks.push(closing_first);
        }
    }
    breaks
}

// ---------------------------------------------------------------------------------------------
// PDF

/// How long LibreOffice may take to print one workbook.
const CONVERT_TIMEOUT: Duration = Duration::from_secs(180);

/// LibreOffice on the PATH (`soffice`, else `libreoffice`).
pub fn find_office() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in ["soffice", "libreoffice"] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if is_executable(&p) {
                return Some(p);
            }
        }
    }
    None
}

fn is_executable(p: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(p) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// A path as a `file://` URL (bytes other than unreserved ones and `/` percent-encoded).
fn file_url(p: &Path) -> String {
    let mut out = String::from("file://");
    for b in p.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Prints the workbook to PDF beside it with LibreOffice (`soffice --headless`); Ok(None) when
/// LibreOffice is not installed.
pub fn to_pdf(xlsx: &Path) -> Result<Option<PathBuf>, NoticeError> {
    let Some(office) = find_office() else {
        return Ok(None);
    };
    let err = |message: String| NoticeError::Write {
        path: xlsx.display().to_string(),
        message,
    };
    let (dir, pdf) = pdf_beside(xlsx).map_err(err)?;
    // A private profile: concurrent conversions do not share (and lock) one.
    let profile = tempfile::Builder::new()
        .prefix("chieftech-lo-")
        .tempdir()
        .map_err(|e| err(format!("cannot make a LibreOffice profile folder: {e}")))?;
    let mut child = spawn_office(&office, profile.path(), &dir, xlsx)
        .map_err(|e| err(format!("cannot run {}: {e}", office.display())))?;
    // Read the pipes while waiting (a full pipe would stall LibreOffice).
    let out = child.stdout.take().map(read_in_background);
    let errs = child.stderr.take().map(read_in_background);
    let status = wait_or_kill(&mut child, CONVERT_TIMEOUT)
        .map_err(|e| err(format!("waiting for LibreOffice: {e}")))?;
    let stdout = out.and_then(|h| h.join().ok()).unwrap_or_default();
    let stderr = errs.and_then(|h| h.join().ok()).unwrap_or_default();
    let Some(status) = status else {
        return Err(err(format!(
            "LibreOffice did not finish the PDF within {} s",
            CONVERT_TIMEOUT.as_secs()
        )));
    };
    if !status.success() || !pdf.is_file() {
        let said = [stderr.trim(), stdout.trim()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(err(format!(
            "LibreOffice could not print it to PDF ({status}): {said}"
        )));
    }
    Ok(Some(pdf))
}

/// The folder and path of the workbook's PDF beside it, a PDF of an earlier run removed.
fn pdf_beside(xlsx: &Path) -> Result<(PathBuf, PathBuf), String> {
    let dir = match xlsx.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let stem = xlsx
        .file_stem()
        .ok_or_else(|| "no file name".to_string())?
        .to_string_lossy()
        .into_owned();
    let pdf = dir.join(format!("{stem}.pdf"));
    // A PDF of an earlier run must not pass for this one's.
    match std::fs::remove_file(&pdf) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot replace {}: {e}", pdf.display())),
    }
    Ok((dir, pdf))
}

/// Starts LibreOffice printing `xlsx` to PDF into `dir`, with its profile under `profile`.
fn spawn_office(
    office: &Path,
    profile: &Path,
    dir: &Path,
    xlsx: &Path,
) -> std::io::Result<std::process::Child> {
    Command::new(office)
        .arg(format!(
            "-env:UserInstallation={}",
            file_url(&profile.join("profile"))
        ))
        .args([
            "--headless",
            "--norestore",
            "--nologo",
            "--convert-to",
            "pdf",
            "--outdir",
        ])
        .arg(dir)
        .arg(xlsx)
        .env("HOME", profile)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
}

/// Waits for the child's exit status; None when it ran past `timeout` and was killed.
fn wait_or_kill(
    child: &mut std::process::Child,
    timeout: Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let started = Instant::now();
    loop {
        match child.try_wait()? {
            Some(s) => return Ok(Some(s)),
            None if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(None);
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn read_in_background<R: std::io::Read + Send + 'static>(
    mut r: R,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_like() {
        assert!(contains_id_like("370303199001011234"));
        assert!(contains_id_like("号码37030319900101123X。"));
        assert!(contains_id_like("３７０３０３１９９００１０１１２３ｘ"));
        assert!(!contains_id_like("3703031990010112345"));
        assert!(!contains_id_like("37030319900101123"));
        assert!(!contains_id_like("0533-2181234"));
        assert!(!contains_id_like(""));
    }

    fn list(kind: NoticeKind, n: usize) -> NoticeList {
        NoticeList {
            kind,
            year: 2026,
            program: "张店区首席技师".into(),
            organization: "张店区人力资源和社会保障局".into(),
            period: (
                NaiveDate::from_ymd_opt(2026, 5, 6).unwrap(),
                NaiveDate::from_ymd_opt(2026, 5, 11).unwrap(),
            ),
            contact: "区人社局人才科，王某某，0533-2181234".into(),
            published: NaiveDate::from_ymd_opt(2026, 5, 6).unwrap(),
            rows: (0..n)
                .map(|i| NoticeRow {
                    name: format!("张{i}"),
                    unit: "淄博某某机械制造有限公司".into(),
                    occupation: "电工".into(),
                    level: "高级技师".into(),
                    nominator: "张店区某某街道办事处".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn texts() {
        let mut l = list(NoticeKind::Nominated, 3);
        assert_eq!(notice_title(&l), "2026年度张店区首席技师推荐人选公示名单");
        assert_eq!(
            period_text(&l),
            "公示期：2026年5月6日至2026年5月11日（5个工作日）。公示期间，对公示人选有异议的，请以书面形式实名向张店区人力资源和社会保障局反映。"
        );
        // Saturday 9 May 2026 is a make-up working day (劳动节调休): the calendar counts it.
        l.period.1 = NaiveDate::from_ymd_opt(2026, 5, 12).unwrap();
        assert!(period_text(&l).contains("至2026年5月12日（6个工作日）。"));
        // Outside the calendar's years, the count is left out.
        l.period = (
            NaiveDate::from_ymd_opt(2099, 5, 6).unwrap(),
            NaiveDate::from_ymd_opt(2099, 5, 12).unwrap(),
        );
        assert!(period_text(&l).starts_with("公示期：2099年5月6日至2099年5月12日。公示期间"));
        let p = list(NoticeKind::Proposed, 3);
        assert_eq!(notice_title(&p), "2026年度张店区首席技师建议人选公示名单");
        assert!(lead_text(&p).starts_with("经"));
    }

    #[test]
    fn pages_break_and_keep_the_closing_together() {
        let heights: Vec<f64> = vec![40.0, 40.0, 30.0]
            .into_iter()
            .chain(std::iter::repeat_n(30.0, 40))
            .chain([12.0, 40.0, 40.0, 20.0, 22.0, 22.0])
            .collect();
        let table_last = 42;
        let b = page_breaks(&heights, 2, table_last, 43, 48, 700.0);
        assert!(!b.is_empty());
        // Each page's rows fit.
        let mut starts = vec![0u32];
        starts.extend(&b);
        starts.push(49);
        for w in starts.windows(2) {
            let pt: f64 = (w[0]..w[1]).map(|r| heights[r as usize]).sum();
            let repeat = if w[0] == 0 { 0.0 } else { 30.0 };
            assert!(pt + repeat <= 700.0, "{b:?}");
        }
        // The closing lines never start a page alone.
        assert!(!b.contains(&43), "{b:?}");
    }

    #[test]
    fn a_list_with_an_id_number_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = list(NoticeKind::Proposed, 2);
        l.rows[1].unit = "370303199001011234".into();
        let e = write_notice(&dir.path().join("n.xlsx"), &l).unwrap_err();
        assert!(e.to_string().contains("row 2"), "{e}");
        assert!(!dir.path().join("n.xlsx").exists());
    }
}
