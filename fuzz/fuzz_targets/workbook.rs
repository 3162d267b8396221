//! Fuzzes the workbook reader: any bytes, opened as .xlsx or .xls, read as a roster and as a
//! changes workbook and streamed sheet by sheet. The reader must never panic.
//!
//! calamine runs under `catch_unwind` in `chieftech::excel::read`; libFuzzer's panic hook
//! would abort even on a caught panic, so the hook is silenced and only a panic escaping
//! chieftech's API (libfuzzer-sys aborts on those) counts as a crash.
#![no_main]

use chieftech::excel::{changes, read, roster};
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use std::ops::ControlFlow;

static QUIET: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    if let Ok(mut wb) = read::Workbook::from_reader(Cursor::new(data)) {
        let _ = roster::read_roster_all(&mut wb, "fuzz.xlsx");
        let _ = changes::read_changes(&mut wb, "fuzz.xlsx");
        for sheet in wb.sheet_names() {
            let _ = wb.row_hint(&sheet);
            let mut rows = 0u32;
            let _ = wb.for_each_row(&sheet, |_, cells| {
                rows += 1;
                for c in cells {
                    let _ = read::date(c, "生效日期", false);
                    let _ = read::number_text(c, "身份证号码");
                }
                if rows > 10_000 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = read::parse_date_text(s);
        let _ = read::normalize_header(s);
    }
});
