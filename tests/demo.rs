//! Issue 4: `chieftech demo` runs the whole pipeline on a fresh SQLite file and says where
//! each output is. Part B of "Outputs a finance office signs…": its stdout is numbered steps
//! a newcomer follows, each number that needs it explained in a line, no log lines (logs go to
//! stderr, off unless `-v`), and it ends with a person to try `explain` on, whose command is
//! in a private `try-explain.sh` (no full ID number on the terminal).

use std::process::Command;

#[test]
fn demo_runs_end_to_end_and_writes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = Command::new(env!("CARGO_BIN_EXE_chieftech"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUST_LOG")
        .args(["demo", "--people", "40", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    // Steps a newcomer follows, in order, and no log line among them; no log at all by default.
    let mut at = 0;
    for step in [
        "第1步",
        "第2步",
        "第3步",
        "第4步",
        "第5步",
        "各文件的位置",
        "试一试：",
    ] {
        let found = stdout[at..]
            .find(step)
            .unwrap_or_else(|| panic!("no {step} after byte {at}:\n{stdout}"));
        at += found;
    }
    for l in stdout.lines() {
        assert!(
            !l.contains(" INFO ") && !l.contains(" WARN ") && !l.contains("DEBUG"),
            "a log line on stdout: {l}"
        );
    }
    assert!(!stderr.contains("INFO"), "{stderr}");
    // Each number that needs it is explained: rows against people, 追缴, 未覆盖.
    assert!(stdout.contains("行、40人"), "{stdout}");
    assert!(stdout.contains("追缴：以前多发"), "{stdout}");
    assert!(stdout.contains("未覆盖：政策"), "{stdout}");
    // The person to try: name and masked ID on the terminal, the command in a private file
    // that works.
    let try_line = stdout.lines().find(|l| l.starts_with("试一试：")).unwrap();
    assert!(try_line.contains("3703**********"), "{try_line}");
    let script = out.join("try-explain.sh");
    assert!(
        try_line.ends_with(&format!("sh {}", script.display())),
        "{try_line}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&script).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let explained = Command::new("sh")
        .arg(&script)
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&explained.stdout);
    assert!(
        explained.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&explained.stderr)
    );
    let name = try_line
        .trim_start_matches("试一试：")
        .split('（')
        .next()
        .unwrap();
    assert!(text.contains(name) && text.contains("管理期"), "{text}");
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
    // The inputs hold full ID and account numbers too (the sample's, and the bank's answer,
    // reconciled: its two failures are re-issued the next year).
    let inputs = out.join("inputs");
    assert!(inputs.join("bank-return-2023.xlsx").exists());
    assert!(stdout.contains("失败 2 笔"), "{stdout}");
    for f in std::fs::read_dir(&inputs).unwrap().flatten() {
        use std::os::unix::fs::PermissionsExt;
        let mode = f.metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{}", f.path().display());
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
    // With -v the log (INFO lines) goes to stderr, never to stdout.
    let verbose = Command::new(env!("CARGO_BIN_EXE_chieftech"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUST_LOG")
        .args(["-v", "demo", "--people", "40", "-o"])
        .arg(dir.path().join("verbose"))
        .output()
        .unwrap();
    assert!(verbose.status.success());
    assert!(String::from_utf8_lossy(&verbose.stderr).contains("INFO"));
    assert!(!String::from_utf8_lossy(&verbose.stdout).contains("INFO"));
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
            let rest = l.strip_prefix("第5步")?.split_once('共')?.1;
            rest.split_once('封')?.0.parse().ok()
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

    // The person to try `explain` on is named with a masked ID; the full one is in the
    // private script only.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("试一试：") && l.contains("3703**********")),
        "{stdout}"
    );

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
