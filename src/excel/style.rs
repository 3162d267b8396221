//! The cell styles the printed workbooks share (summary, forecast): one look for every table
//! a clerk signs.

use rust_xlsxwriter::{Format, FormatAlign, FormatBorder};

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
