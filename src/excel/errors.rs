//! The error workbook a clerk fixes and sends back: beside the input (`X.xlsx` or `X.xls` →
//! `X.errors.xlsx`, mode 0600), every sheet that was read copied row for row — at the same row
//! numbers, so the messages' row numbers hold in it too — with a 错误说明 column after the
//! header's last column. Cells with a problem are shaded; the explanation names each column.
//!
//! The copy is streamed (rust_xlsxwriter's constant-memory worksheets), so a large roster's
//! error workbook costs little memory.

use super::read::{CellProblem, Column, InputLimits, Value, Workbook};
use super::roster::SheetLayout;
use rust_xlsxwriter::{Color, Format, FormatPattern, Workbook as XlsxWorkbook};
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
        .set_text_wrap();
    let header_format = Format::new()
        .set_bold()
        .set_font_color(Color::RGB(0xC00000));

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
        ws.set_column_width(extra_col, 60).map_err(xerr)?;
        let mut last_row: Option<u32> = None;
        let mut failure: Option<rust_xlsxwriter::XlsxError> = None;
        type Marks = HashMap<u32, (Vec<String>, Vec<usize>)>;
        let write_row = |ws: &mut rust_xlsxwriter::Worksheet,
                         by_row: &mut Marks,
                         row: u32,
                         cells: &[Value]|
         -> Result<(), rust_xlsxwriter::XlsxError> {
            let r = row.saturating_sub(1);
            let marks = by_row.remove(&row);
            let shaded = |c: usize| marks.as_ref().is_some_and(|m| m.1.contains(&c));
            for (c, v) in cells.iter().enumerate().take(usize::from(extra_col)) {
                let col = c as u16;
                let fmt = shaded(c).then_some(&bad);
                match v {
                    Value::Empty => {
                        if let Some(f) = fmt {
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
                match write_row(ws, &mut by_row, row, cells) {
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
        // Messages for rows the sheet did not hold (a sheet with no rows at all).
        let mut rest: Vec<u32> = by_row.keys().copied().collect();
        rest.sort_unstable();
        for row in rest {
            if last_row.is_none_or(|l| row > l) {
                write_row(ws, &mut by_row, row, &[]).map_err(xerr)?;
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
