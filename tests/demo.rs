//! Issue 4: `chieftech demo` runs the whole pipeline on a fresh SQLite file and says where
//! each output is.

use std::process::Command;

#[test]
fn demo_runs_end_to_end_and_writes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = Command::new(env!("CARGO_BIN_EXE_chieftech"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["demo", "--people", "40", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for year in 2022..=2026 {
        for f in [
            format!("bank-{year}-run1.xlsx"),
            format!("summary-{year}-run1.xlsx"),
        ] {
            let p = out.join("reports").join(year.to_string()).join(&f);
            assert!(p.exists(), "{}", p.display());
            assert!(stdout.contains(&f), "{stdout}");
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o077,
                0
            );
        }
    }
    // A fraud or a late report leads to recoveries in some year; the expired policy to
    // uncovered months in 2026.
    assert!(stdout.contains("追缴"), "{stdout}");
    let y2026 = stdout.lines().find(|l| l.contains("2026年度")).unwrap();
    assert!(!y2026.ends_with("未覆盖月份 0 个"), "{y2026}");
    let mails = std::fs::read_dir(out.join("reports/outbox"))
        .unwrap()
        .count();
    assert!(mails > 10, "{mails} mails");
    // Running the demo again into the same folder is refused, not mixed.
    let again = Command::new(env!("CARGO_BIN_EXE_chieftech"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["demo", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
}
