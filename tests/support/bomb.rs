//! Test support: a hand-made .xlsx whose shared strings expand a thousandfold (a "zip bomb"),
//! and running the binary with its peak memory measured. Shared by `tests/excel_guard.rs` and
//! `tests/inbox.rs`.
#![allow(dead_code)]

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

pub const MAIN_NS: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
pub const REL_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
pub const PKG_REL_NS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";

pub fn deflated() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(CompressionMethod::Deflated)
}

/// Writes a minimal .xlsx by hand: one sheet 变动 declaring `dimension`, holding the header
/// 姓名 (a shared string), and the shared strings `sst_open` + `filler` + `<si><t>姓名</t></si></sst>`,
/// where `filler` writes into the entry (so a gigabyte can be streamed from a small buffer).
pub fn minimal_xlsx(
    path: &Path,
    dimension: &str,
    sst_open: &str,
    filler: impl FnOnce(&mut ZipWriter<File>),
) {
    let mut z = ZipWriter::new(File::create(path).unwrap());
    let o = deflated();
    let part = |z: &mut ZipWriter<File>, name: &str, text: String| {
        z.start_file(name, o).unwrap();
        z.write_all(text.as_bytes()).unwrap();
    };
    part(
        &mut z,
        "[Content_Types].xml",
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#,
            r#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">"#,
            r#"<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>"#,
            r#"<Default Extension="xml" ContentType="application/xml"/>"#,
            r#"<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>"#,
            r#"<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>"#,
            r#"<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>"#,
            r#"</Types>"#
        )
        .to_string(),
    );
    part(
        &mut z,
        "_rels/.rels",
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
        ),
    );
    part(
        &mut z,
        "xl/workbook.xml",
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><sheets><sheet name="变动" sheetId="1" r:id="rId1"/></sheets></workbook>"#
        ),
    );
    part(
        &mut z,
        "xl/_rels/workbook.xml.rels",
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" Type="{REL_NS}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{REL_NS}/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#
        ),
    );
    part(
        &mut z,
        "xl/worksheets/sheet1.xml",
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN_NS}"><dimension ref="{dimension}"/><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>"#
        ),
    );
    z.start_file("xl/sharedStrings.xml", o).unwrap();
    z.write_all(r#"<?xml version="1.0" encoding="UTF-8"?>"#.as_bytes())
        .unwrap();
    z.write_all(sst_open.as_bytes()).unwrap();
    filler(&mut z);
    z.write_all("<si><t>姓名</t></si></sst>".as_bytes())
        .unwrap();
    z.finish().unwrap();
}

pub fn sst(count: u64, unique: u64) -> String {
    format!(r#"<sst xmlns="{MAIN_NS}" count="{count}" uniqueCount="{unique}">"#)
}

/// Streams `total` bytes of shared strings from one 1 MB buffer: strings of a repeated
/// letter, about a megabyte each (they compress about a thousandfold, as a bomb's do).
pub fn repeated_strings(total: u64) -> impl FnOnce(&mut ZipWriter<File>) {
    move |z| {
        let mut buf = b"<si><t>".to_vec();
        buf.resize((1 << 20) - "</t></si>".len(), b'x');
        buf.extend_from_slice(b"</t></si>");
        let mut written = 0u64;
        while written < total {
            z.write_all(&buf).unwrap();
            written += buf.len() as u64;
        }
    }
}

/// Writes the bomb of the issue: about 1.5 MB holding 1.5 GB of shared strings, declared
/// honestly.
pub fn write_bomb(path: &Path) {
    let total = 1536u64 << 20;
    let strings = total >> 20;
    minimal_xlsx(
        path,
        "A1:A1",
        &sst(strings + 1, strings + 1),
        repeated_strings(total),
    );
}

/// Peak resident memory (KB), exit status and wall time of the chieftech binary run with
/// `args` (waited for with wait4, so the numbers are that child's alone).
pub fn run_measured(
    db: &str,
    config: &Path,
    args: &[&str],
    out_dir: &Path,
) -> (i32, u64, Duration, String) {
    let out = out_dir.join("stdout.txt");
    let err = out_dir.join("stderr.txt");
    let started = Instant::now();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_chieftech"))
        .args(["--database", db])
        .args(args)
        .env("CHIEFTECH_CONFIG", config)
        .env_remove("RUST_LOG")
        .stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap())
        .spawn()
        .expect("run chieftech");
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid value; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child with valid out-pointers.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = started.elapsed();
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    drop(child);
    assert!(
        libc::WIFEXITED(status),
        "chieftech did not exit normally: {status}"
    );
    let text = format!(
        "{}{}",
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(&err).unwrap()
    );
    // ru_maxrss is in kilobytes on Linux.
    (
        libc::WEXITSTATUS(status),
        usage.ru_maxrss as u64,
        elapsed,
        text,
    )
}
