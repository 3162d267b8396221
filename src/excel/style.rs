//! The cell styles the printed workbooks share (summary, forecast): one look for every table
//! a clerk signs.

use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Worksheet, XlsxError};

/// A table cell: thin border, 10 pt, centred vertically.
pub fn cell() -> Format {
    Format::new()
        .set_border(FormatBorder::Thin)
        .set_font_size(10)
        .set_align(FormatAlign::VerticalCenter)
}

/// A 合计 row's cell: bold on light grey.
pub fn total(cell: &Format) -> Format {
    cell.clone().set_bold().set_background_color(0xF2F2F2)
}

/// The document title: bold 16 pt, centred.
pub fn title() -> Format {
    Format::new()
        .set_bold()
        .set_font_size(16)
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
}

/// The identification line under the title (编制单位, year, batch).
pub fn subtitle() -> Format {
    Format::new()
        .set_font_size(10)
        .set_align(FormatAlign::VerticalCenter)
}

/// A section heading (一、…): bold 12 pt.
pub fn section() -> Format {
    Format::new()
        .set_bold()
        .set_font_size(12)
        .set_align(FormatAlign::Bottom)
}

/// A table's header cell: bold, wrapped, centred, light blue.
pub fn header(cell: &Format) -> Format {
    cell.clone()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::Center)
        .set_background_color(0xDDEBF7)
}

/// Fen as the yuan a number cell shows (`#,##0.00`).
pub fn yuan(fen: i64) -> f64 {
    fen as f64 / 100.0
}

/// A table's header texts in `row`, from the first column.
pub fn headers(ws: &mut Worksheet, row: u32, names: &[&str], f: &Format) -> Result<(), XlsxError> {
    for (i, h) in names.iter().enumerate() {
        ws.write_string_with_format(row, i as u16, *h, f)?;
    }
    Ok(())
}

/// The column widths, from the first column.
pub fn set_widths(ws: &mut Worksheet, widths: &[f64]) -> Result<(), XlsxError> {
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    Ok(())
}
