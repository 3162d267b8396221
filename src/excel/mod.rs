//! Excel in and out (calamine reads .xlsx/.xls; rust_xlsxwriter writes).
//!
//! In: [`read`] (sheets, header rows, cells, dates), [`roster`] and [`changes`] (the two input
//! workbooks), [`errors`] (the error workbook a clerk fixes), [`template`] (empty input
//! workbooks), [`guard`] (the limits a workbook is checked against before calamine opens it).
//! Out: [`bank`] (the bank's batch-payment file, .xlsx or text through [`bank_text`]),
//! [`summary`] (the finance office's workbook), [`forecast`] (the budget forecast), with the
//! shared cell styles of [`style`]. After the bank: [`bank_return`] (the bank's return file).
//! Selection: [`nominations`] and [`scores`] in, [`selection_notice`] (the public notice lists)
//! out.

pub mod bank;
pub mod bank_return;
pub mod bank_text;
pub mod changes;
pub mod errors;
pub mod forecast;
pub mod guard;
pub mod nominations;
pub mod read;
pub mod roster;
pub mod scores;
pub mod selection_notice;
pub mod style;
pub mod summary;
pub mod template;

/// Runs `f`, a call into rust_xlsxwriter, and turns a panic inside it into `Err(message)`.
///
/// rust_xlsxwriter's constant-memory sheets write through temporary files and panic when a write
/// fails (a full disk, a temporary folder that cannot be written): a clerk gets an error that
/// names the file instead of a crash.
pub fn catch_writer_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown failure".into());
        format!("the workbook writer failed ({text}); is the disk or the temporary folder full or not writable?")
    })
}
