//! Excel in and out (calamine reads .xlsx/.xls; rust_xlsxwriter writes).
//!
//! In: [`read`] (sheets, header rows, cells, dates), [`roster`] and [`changes`] (the two input
//! workbooks), [`errors`] (the error workbook a clerk fixes), [`template`] (empty input
//! workbooks), [`guard`] (the limits a workbook is checked against before calamine opens it).
//! Out: [`bank`] (the bank's batch-payment file), [`summary`] (the finance office's
//! workbook).

pub mod bank;
pub mod bank_return;
pub mod bank_text;
pub mod changes;
pub mod errors;
pub mod forecast;
pub mod guard;
pub mod read;
pub mod roster;
pub mod summary;
pub mod template;
