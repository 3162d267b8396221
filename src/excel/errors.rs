//! The error workbook a clerk fixes and sends back: beside the input (`X.xlsx` or `X.xls` →
//! `X.errors.xlsx`, mode 0600), every sheet that was read copied row for row — at the same row
//! numbers, so the messages' row numbers hold in it too — with a 错误说明 column after the
//! header's last column. Cells with a problem are shaded; the explanation names each column.
//!
//! The copy is streamed (rust_xlsxwriter's constant-memory worksheets), so a large roster's
//! error workbook costs little memory.

use super::read::{CellProblem, Column, InputLimits, Value, Workbook};
use super::roster::SheetLayout;
use super::summary::{lines_height, text_width, wrapped_lines};
use super::template::{cell_kind, decorate_sheet, CellKind, TemplateFormats};
use rust_xlsxwriter::{
    Color, Format, FormatAlign, FormatBorder, FormatPattern, Workbook as XlsxWorkbook,
};
use std::collections::HashMap;
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

/// The width of the 错误说明 column (characters).
const EXPLANATION_WIDTH: f64 = 36.0;

/// Which template sheet an input sheet's columns are (for its notes and checks).
fn template_sheet_of(columns: &[Column]) -> &'static str {
    if columns.iter().any(|c| c.name == super::changes::KIND) {
        super::changes::CHANGES_SHEET
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
    let path_text = out_path.display().to_string();
    let xerr = |source| ErrorWorkbookError::Xlsx {
        path: path_text.clone(),
        source,
    };
    let mut source_wb =
        Workbook::open_with(input, limits).map_err(|source| ErrorWorkbookError::Read {
            path: input.display().to_string(),
            source,
        })?;
    let mut book = XlsxWorkbook::new();
    let date_format = Format::new().set_num_format("yyyy-mm-dd");
    let bad = Format::new()
        .set_background_color(Color::RGB(0xFFEB9C))
        .set_pattern(FormatPattern::Solid);
    let bad_date = bad.clone().set_num_format("yyyy-mm-dd");
    let explanation = Format::new()
        .set_font_color(Color::RGB(0xC00000))
        .set_text_wrap()
        .set_align(FormatAlign::Top);
    let header_format = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::VerticalCenter)
        .set_border(FormatBorder::Thin)
        .set_background_color(Color::RGB(0xFCE4D6))
        .set_font_color(Color::RGB(0xC00000));
    let text_format = Format::new().set_num_format("@");
    let bad_text = bad.clone().set_num_format("@");
    let k = TemplateFormats::new();
    let out_name = out_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    for (n, sheet) in sheets.iter().enumerate() {
        let name = &sheet.layout.sheet;
        let header = sheet.layout.header.as_ref();
        let header_row = header.map_or(1, |h| h.row);
        let extra_col = header.map_or(20, |h| h.width.max(1)) as u16;
        // Messages and shaded columns per row.
        let mut by_row: HashMap<u32, (Vec<String>, Vec<usize>)> = HashMap::new();
        for p in problems
            .iter()
            .filter(|p| p.sheet.as_deref() == Some(name.as_str()))
        {
            let row = p.row.unwrap_or(header_row);
            let entry = by_row.entry(row).or_default();
            let tag = if p.is_error() { "" } else { "提示：" };
            entry.0.push(match &p.column {
                Some(c) => format!("{tag}【{c}】{}", p.message),
                None => format!("{tag}{}", p.message),
            });
            if let (Some(c), Some(h)) = (&p.column, header) {
                let col = sheet
                    .columns
                    .iter()
                    .position(|k| k.name == c)
                    .and_then(|i| h.positions.get(i).copied().flatten());
                entry.1.extend(col);
            }
        }
        let mut sheet_ws = book.new_worksheet_with_constant_memory().map_err(xerr)?;
        let ws = &mut sheet_ws;
        if ws.set_name(name).is_err() {
            ws.set_name(format!("Sheet{}", n + 1)).map_err(xerr)?;
        }
        // The input columns this sheet has, by position: the template's notes, validation,
        // header style and text/date formats go on them.
        let kind_sheet = template_sheet_of(sheet.columns);
        let named: Vec<(u16, &str)> = header
            .map(|h| {
                sheet
                    .columns
                    .iter()
                    .zip(&h.positions)
                    .filter_map(|(c, p)| p.map(|p| (p as u16, c.name)))
                    .collect()
            })
            .unwrap_or_default();
        let kinds: HashMap<usize, CellKind> = named
            .iter()
            .map(|(c, n)| (usize::from(*c), cell_kind(n)))
            .collect();
        let mut widths: Vec<f64> = vec![0.0; usize::from(extra_col)];
        let mut last_row: Option<u32> = None;
        let mut failure: Option<rust_xlsxwriter::XlsxError> = None;
        type Marks = HashMap<u32, (Vec<String>, Vec<usize>)>;
        let write_row = |ws: &mut rust_xlsxwriter::Worksheet,
                         by_row: &mut Marks,
                         widths: &mut Vec<f64>,
                         row: u32,
                         cells: &[Value]|
         -> Result<(), rust_xlsxwriter::XlsxError> {
            let r = row.saturating_sub(1);
            let marks = by_row.remove(&row);
            let is_header = Some(row) == header.map(|h| h.row);
            let shaded = |c: usize| marks.as_ref().is_some_and(|m| m.1.contains(&c));
            // The row's height: as many lines as its explanation takes (or its header).
            if let Some(m) = &marks {
                let lines =
                    m.0.iter()
                        .map(|t| wrapped_lines(t, EXPLANATION_WIDTH * 0.8))
                        .sum::<u32>();
                ws.set_row_height(r, lines_height(lines.min(40)))?;
            } else if is_header {
                ws.set_row_height(r, 32)?;
            }
            for (c, v) in cells.iter().enumerate().take(usize::from(extra_col)) {
                let col = c as u16;
                // The header wraps (two lines): half its width is enough.
                let seen = if is_header {
                    text_width(&v.display()) / 2.0
                } else {
                    text_width(&v.display())
                };
                // Title rows above the header (a merged title, say) do not widen a column.
                let counts = header.is_none_or(|h| row >= h.row);
                if let Some(w) = widths.get_mut(c).filter(|_| counts) {
                    *w = w.max(seen.min(60.0));
                }
                let kind = kinds.get(&c).copied().unwrap_or(CellKind::Other);
                let fmt = if is_header {
                    Some(&k.header)
                } else {
                    match (shaded(c), kind) {
                        (true, CellKind::Text) => Some(&bad_text),
                        (true, _) => Some(&bad),
                        (false, CellKind::Text) => Some(&text_format),
                        (false, _) => None,
                    }
                };
                match v {
                    Value::Empty => {
                        if let Some(f) = fmt.filter(|_| is_header || shaded(c)) {
                            ws.write_blank(r, col, f)?;
                        }
                    }
                    Value::Text(s) => {
                        match fmt {
                            Some(f) => ws.write_string_with_format(r, col, s, f)?,
                            None => ws.write_string(r, col, s)?,
                        };
                    }
                    Value::Number(x) => {
                        match fmt {
                            Some(f) => ws.write_number_with_format(r, col, *x, f)?,
                            None => ws.write_number(r, col, *x)?,
                        };
                    }
                    Value::Bool(b) => {
                        ws.write_boolean(r, col, *b)?;
                    }
                    Value::Date(d) => {
                        let f = if shaded(c) { &bad_date } else { &date_format };
                        ws.write_datetime_with_format(r, col, *d, f)?;
                    }
                    Value::Error(e) => {
                        ws.write_string(r, col, e)?;
                    }
                }
            }
            if Some(row) == header.map(|h| h.row) {
                let text = match &marks {
                    Some(m) => format!("{EXPLANATION}：{}", m.0.join("；")),
                    None => EXPLANATION.to_string(),
                };
                ws.write_string_with_format(r, extra_col, text, &header_format)?;
            } else if let Some(m) = &marks {
                ws.write_string_with_format(r, extra_col, m.0.join("\n"), &explanation)?;
            }
            Ok(())
        };
        source_wb
            .for_each_row(name, |row, cells| {
                if last_row.is_some_and(|l| row <= l) {
                    return ControlFlow::Continue(());
                }
                last_row = Some(row);
                match write_row(ws, &mut by_row, &mut widths, row, cells) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(e) => {
                        failure = Some(e);
                        ControlFlow::Break(())
                    }
                }
            })
            .map_err(|source| ErrorWorkbookError::Read {
                path: input.display().to_string(),
                source,
            })?;
        if let Some(e) = failure {
            return Err(xerr(e));
        }
        let header_row0 = header_row.saturating_sub(1);
        let last0 = last_row.unwrap_or(header_row).saturating_sub(1);
        // Room to add rows with the same checks.
        decorate_sheet(ws, kind_sheet, &named, header_row0, last0 + 200).map_err(xerr)?;
        for (c, w) in widths.iter().enumerate() {
            ws.set_column_width(c as u16, (w + 1.5).clamp(6.0, 40.0))
                .map_err(xerr)?;
        }
        ws.set_column_width(extra_col, EXPLANATION_WIDTH)
            .map_err(xerr)?;
        ws.set_paper_size(9)
            .set_landscape()
            .set_print_fit_to_pages(1, 0)
            .set_margins(0.3, 0.3, 0.6, 0.6, 0.3, 0.3)
            .set_header("&C&\"-,Bold\"错误说明：请按最右一列“错误说明”改正标黄的单元格后重新报送")
            .set_footer(format!(
                "&L{}&C第 &P 页，共 &N 页",
                out_name.replace('&', "&&")
            ));
        // Messages for rows the sheet did not hold (a sheet with no rows at all).
        let mut rest: Vec<u32> = by_row.keys().copied().collect();
        rest.sort_unstable();
        for row in rest {
            if last_row.is_none_or(|l| row > l) {
                write_row(ws, &mut by_row, &mut widths, row, &[]).map_err(xerr)?;
                last_row = Some(row);
            }
        }
        book.push_worksheet(sheet_ws);
    }
    if sheets.is_empty() {
        let ws = book.add_worksheet();
        ws.write_string(0, 0, EXPLANATION).map_err(xerr)?;
        for (i, p) in problems.iter().enumerate() {
            ws.write_string(i as u32 + 1, 0, p.to_string())
                .map_err(xerr)?;
        }
    }
    let file = create_private(&out_path).map_err(|source| ErrorWorkbookError::Io {
        path: path_text.clone(),
        source,
    })?;
    book.save_to_writer(file).map_err(xerr)?;
    Ok(out_path)
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
