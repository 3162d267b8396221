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

/// Issue 9: the demo, run from another folder as a newcomer would, delivers one `.eml` file per
/// message it says it sent, every unit of the sample gets its notices, and no file name, log
/// line (at debug level) or stdout line holds a full ID or bank account number.
#[test]
fn demo_mail_is_all_there_and_no_number_leaks() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
    let o = Command::new(env!("CARGO_BIN_EXE_chieftech"))
        .current_dir(dir.path())
        .env("RUST_LOG", "debug")
        .arg("--config")
        .arg(&config)
        .args(["demo", "--people", "60", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{stdout}\n{stderr}");

    // What it says it sent, against what is there.
    let said: usize = stdout
        .lines()
        .find_map(|l| {
            let (_, rest) = l.split_once("mail: ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no mail line in {stdout}"));
    let outbox = out.join("reports/outbox");
    let emls: Vec<std::path::PathBuf> = std::fs::read_dir(&outbox)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    assert!(said > 50, "{said}");
    assert_eq!(emls.len(), said, "one .eml per message sent");
    use std::os::unix::fs::PermissionsExt;
    for p in &emls {
        assert_eq!(
            std::fs::metadata(p).unwrap().permissions().mode() & 0o077,
            0,
            "{}",
            p.display()
        );
    }

    // Every unit of the sample roster is a recipient, of a nomination call in particular.
    let mut recipients = std::collections::BTreeMap::<String, Vec<String>>::new();
    for p in &emls {
        let raw = std::fs::read(p).unwrap();
        let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let subject = m.subject().unwrap_or("").to_string();
        for a in m.to().unwrap().iter() {
            let addr = a.address().unwrap().to_lowercase();
            recipients.entry(addr).or_default().push(subject.clone());
        }
    }
    let roster = out.join("inputs/roster.xlsx");
    let mut wb = chieftech::excel::read::Workbook::open(&roster).unwrap();
    let units = chieftech::excel::roster::read_roster_all(&mut wb, "roster")
        .unwrap()
        .units;
    assert!(units.len() >= 5, "{}", units.len());
    for u in &units {
        let email = u.email.clone().unwrap().to_lowercase();
        let got = recipients
            .get(&email)
            .unwrap_or_else(|| panic!("{} ({email}) got no mail", u.name));
        assert!(
            got.iter().any(|s| s.contains("推荐") || s.contains("选拔")),
            "{} got no nomination call: {got:?}",
            u.name
        );
    }

    // No full ID or account number in file names, stdout or the log.
    let mut names = String::new();
    for e in walk(&out) {
        names.push_str(&e.display().to_string());
        names.push('\n');
    }
    for (what, text) in [
        ("file names", &names),
        ("stdout", &stdout),
        ("log", &stderr),
    ] {
        assert!(
            !has_full_number(text),
            "a full ID or account number in the demo's {what}:\n{text}"
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            v.extend(walk(&p));
        }
        v.push(p);
    }
    v
}

/// An 18-character ID number (17 digits and a check character) or a run of 12 or more digits
/// (a bank account), not inside a longer hexadecimal hash.
fn has_full_number(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| {
            let hash = word.len() >= 32 && word.chars().all(|c| c.is_ascii_hexdigit());
            if hash {
                return false;
            }
            let mut run = 0;
            for c in word.chars() {
                if c.is_ascii_digit() || (run == 17 && (c == 'X' || c == 'x')) {
                    run += 1;
                    if run >= 12 {
                        return true;
                    }
                } else {
                    run = 0;
                }
            }
            false
        })
}
