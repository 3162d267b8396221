//! Issue 5: notices through the durable outbox, delivered to a real SMTP server on loopback
//! (aiosmtpd, `tests/support/smtp_server.py`) or written as .eml files, and read back with a
//! MIME parser. Also: one file per message however alike the keys, three senders against a
//! slow server with a short claim (each message arrives exactly once), a delivery that
//! outlasts its deadline is a retry, and no full ID number in logs, reports or file names.

mod common;
use common::approve_with_notices;
#[path = "support/smtp.rs"]
mod smtp;

use chieftech::jobs::notices::finance_notice;
use chieftech::jobs::remind::remind_range;
use chieftech::mail::outbox::{counts, eml_name, message_id, send_due, SendReport};
use chieftech::mail::{MailSettings, Security};
use chieftech::rules::id_number::{make_id, IdNumber};
use chieftech::rules::{ChangeKind, Reporter, RulesConfig};
use chieftech::store::{ChangeEntry, RosterEntry, Source, Store, UnitEntry};
use chrono::{NaiveDate, Utc};
use mail_parser::{MessageParser, MimeHeaders};
use smtp::{free_port, Mode, Server};
use std::path::{Path, PathBuf};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn templates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates")
}

fn smtp_settings(port: u16) -> MailSettings {
    MailSettings {
        smtp_host: Some("127.0.0.1".into()),
        smtp_port: Some(port),
        smtp_security: Security::None,
        templates: templates(),
        retry_seconds: 60,
        ..MailSettings::default()
    }
}

struct Seeded {
    ids: Vec<String>,
}

/// The roster's row `i` (on the file's row `i + 2`): a 高级技师 of `unit` approved 2021-10-15.
fn roster_row(i: usize, id_number: IdNumber, name: &str, unit: &str) -> RosterEntry {
    RosterEntry {
        id_number,
        name: name.into(),
        unit: unit.into(),
        occupation: "钳工".into(),
        level: "高级技师".into(),
        approval_date: d("2021-10-15"),
        approval_no: format!("张人社字〔2021〕{i}号"),
        bank_account: format!("6222021603{i:09}"),
        bank_name: "工商银行".into(),
        phone: String::new(),
        email: None,
        row: Some(i as u32 + 2),
    }
}

/// Two technicians of one unit (approved 2021-10-15), a retirement reported late.
async fn seed(store: &Store) -> Seeded {
    let ids: Vec<_> = (0..2)
        .map(|i| {
            make_id(
                "370303",
                d("1980-05-05") + chrono::Days::new(i),
                i as u32 + 1,
            )
        })
        .collect();
    let entries: Vec<RosterEntry> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| roster_row(i, id.clone(), ["王强", "张伟"][i], "淄博示例机械有限公司"))
        .collect();
    let unit = UnitEntry {
        name: "淄博示例机械有限公司".into(),
        contact: None,
        email: Some("hr@unit.example".into()),
        row: None,
    };
    store
        .import_roster(&Source::operator("clerk"), &[unit], &entries)
        .await
        .unwrap()
        .unwrap();
    Seeded {
        ids: ids.iter().map(|i| i.to_string()).collect(),
    }
}

#[tokio::test]
async fn notices_arrive_over_smtp_in_chinese_with_stable_message_ids() {
    let db = common::sqlite().await;
    let store = &db.store;
    let seeded = seed(store).await;
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(&dir.path().join("maildir"), Mode::Plain, None, 0.0) else {
        return;
    };
    let settings = smtp_settings(server.port);
    assert_eq!(approve_with_notices(store, 2022, &settings).await, 1);
    // A late retirement: the 2023 run recovers from 张伟, with a recovery notice.
    let retire = ChangeEntry {
        id_number: seeded.ids[1]
            .parse::<String>()
            .map(|s| chieftech::rules::IdNumber::parse(&s).unwrap())
            .unwrap(),
        name: "张伟".into(),
        kind: ChangeKind::Retired,
        effective: d("2022-09-16"),
        end: None,
        new_unit: None,
        decision_no: None,
        title_no: None,
        note: None,
        row: Some(2),
    };
    store
        .record_changes(
            &Source::operator("clerk"),
            Reporter::Unit,
            &[retire],
            false,
            &RulesConfig::default(),
        )
        .await
        .unwrap();
    assert_eq!(approve_with_notices(store, 2023, &settings).await, 2);
    let r = send_due(store, &settings, Utc::now()).await.unwrap();
    assert_eq!(r.sent.len(), 3, "{r:?}");
    let msgs = server.messages();
    assert_eq!(msgs.len(), 3);
    let parser = MessageParser::default();
    let parsed: Vec<_> = msgs.iter().map(|m| parser.parse(m).unwrap()).collect();
    let recovery = parsed
        .iter()
        .find(|m| m.subject().unwrap_or("").starts_with("追缴通知"))
        .expect("a recovery notice");
    assert!(recovery.subject().unwrap().contains("张伟"));
    let body = recovery.body_text(0).unwrap();
    assert!(body.contains("1,750.00"), "{body}");
    assert!(body.contains("人民币壹仟柒佰伍拾元整"), "{body}");
    assert!(body.contains("退休（2022年9月16日生效）"), "{body}");
    assert!(body.contains("应退回金额：1,750.00元"), "{body}");
    assert!(!body.contains("-1,750.00"), "{body}");
    assert!(body.contains("3703**********"), "{body}");
    let expected_id = message_id(&format!(
        "recovery:2023:1:{}",
        chieftech::rules::id_number::person_ref(&seeded.ids[1])
    ));
    assert_eq!(format!("<{}>", recovery.message_id().unwrap()), expected_id);
    for (m, raw) in parsed.iter().zip(&msgs) {
        let text = String::from_utf8_lossy(raw);
        for id in &seeded.ids {
            assert!(
                !m.body_text(0).unwrap().contains(id.as_str()),
                "full ID in a mail"
            );
            assert!(!text.contains(id.as_str()));
        }
    }
    // Sending again delivers nothing twice.
    let r = send_due(store, &settings, Utc::now()).await.unwrap();
    assert!(r.sent.is_empty());
    assert_eq!(server.messages().len(), 3);
}

#[tokio::test]
async fn with_the_server_down_nothing_is_lost_and_all_arrives_once_later() {
    for db in common::backends().await {
        let store = &db.store;
        seed(store).await;
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let settings = smtp_settings(port);
        // Term expiry reminders for 2024 (90, 30, 0 days before 2024-10-31).
        let cfg = chieftech::config::Config::default();
        let rules = RulesConfig::default();
        let r = remind_range(
            store,
            &cfg_with_templates(&cfg),
            &rules,
            d("2024-08-01"),
            d("2024-10-31"),
        )
        .await
        .unwrap();
        assert_eq!(r.queued, 6, "2 people × 3 expiry notices: {r:?}");
        // Server down: every delivery fails and is kept.
        let down = send_due(store, &settings, Utc::now()).await.unwrap();
        assert!(down.sent.is_empty());
        assert_eq!(down.retrying.len(), r.queued);
        // Not due again yet.
        let early = send_due(store, &settings, Utc::now()).await.unwrap();
        assert_eq!(early.waiting, r.queued);
        let Some(server) =
            Server::start_on(port, &dir.path().join("maildir"), Mode::Plain, None, 0.0)
        else {
            return;
        };
        let later = Utc::now() + chrono::Duration::hours(1);
        let up = send_due(store, &settings, later).await.unwrap();
        assert_eq!(up.sent.len(), r.queued, "{up:?}");
        let again = send_due(store, &settings, later + chrono::Duration::hours(5))
            .await
            .unwrap();
        assert!(again.sent.is_empty());
        let msgs = server.messages();
        assert_eq!(msgs.len(), r.queued);
        let ids: std::collections::HashSet<String> = msgs
            .iter()
            .map(|m| {
                MessageParser::default()
                    .parse(m)
                    .unwrap()
                    .message_id()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(ids.len(), r.queued, "every Message-ID once");
    }
}

fn cfg_with_templates(cfg: &chieftech::config::Config) -> chieftech::config::Config {
    let mut c = cfg.clone();
    let mut mail = toml::Table::new();
    mail.insert(
        "templates".into(),
        toml::Value::String(templates().display().to_string()),
    );
    c.other.insert("mail".into(), toml::Value::Table(mail));
    c
}

#[tokio::test]
async fn three_years_of_daily_reminders_queue_each_notice_once() {
    let db = common::sqlite().await;
    let store = &db.store;
    seed(store).await;
    let cfg = cfg_with_templates(&chieftech::config::Config::default());
    let rules = RulesConfig::default();
    let first = remind_range(store, &cfg, &rules, d("2022-01-01"), d("2024-12-31"))
        .await
        .unwrap();
    // 2 × 3 term expiry, run requests 2022–2024 (one unit), nominations 2022–2024 (one unit).
    assert_eq!(first.queued, 6 + 3 + 3, "{first:?}");
    let again = remind_range(store, &cfg, &rules, d("2022-01-01"), d("2024-12-31"))
        .await
        .unwrap();
    assert_eq!((again.queued, again.already), (0, first.queued));
    // A unit's expiry notice is keyed per appointment and distance.
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT key FROM outbox WHERE key LIKE 'term-expiry:%' ORDER BY key")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(keys.len(), 6);
    assert!(keys.iter().any(|k| k.ends_with(":0d")));
    assert!(keys.iter().any(|k| k.ends_with(":90d")));
}

#[tokio::test]
async fn without_smtp_mail_is_written_as_eml_files_a_mail_program_opens() {
    let db = common::sqlite().await;
    let store = &db.store;
    seed(store).await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let bank = dir.path().join("bank-2022-run1.xlsx");
    std::fs::write(&bank, b"PK fake workbook bytes").unwrap();
    let settings = MailSettings {
        outbox_dir: outbox.clone(),
        templates: templates(),
        attach_bank_file: true,
        ..MailSettings::default()
    };
    approve_with_notices(store, 2022, &settings).await;
    let view = store.show_run(2022, None, true).await.unwrap();
    let notice = finance_notice(
        &view,
        view.totals(),
        std::slice::from_ref(&bank),
        &settings,
        d("2022-12-02"),
    )
    .unwrap();
    let mut conn = store.pool().acquire().await.unwrap();
    assert!(chieftech::mail::queue(&mut conn, &notice).await.unwrap());
    assert!(
        !chieftech::mail::queue(&mut conn, &notice).await.unwrap(),
        "queued once"
    );
    drop(conn);
    let r = send_due(store, &settings, Utc::now()).await.unwrap();
    assert_eq!(r.sent.len(), 2);
    let files: Vec<PathBuf> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 2);
    let finance = files
        .iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("finance-export")
        })
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(finance).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let raw = std::fs::read(finance).unwrap();
    let m = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        m.subject().unwrap(),
        "2022年度首席技师津贴代发文件已生成（第1批）"
    );
    assert_eq!(m.attachment_count(), 1);
    let att = m.attachments().next().unwrap();
    assert_eq!(att.attachment_name(), Some("bank-2022-run1.xlsx"));
    assert_eq!(att.contents(), b"PK fake workbook bytes");
    assert!(m.body_text(0).unwrap().contains("人民币壹万肆仟元整"));
    assert_eq!(
        format!("<{}>", m.message_id().unwrap()),
        message_id("finance-export:2022:1")
    );
}

#[tokio::test]
async fn a_message_with_a_bad_address_is_parked_and_reported() {
    let db = common::sqlite().await;
    let store = &db.store;
    let settings = MailSettings {
        outbox_dir: tempfile::tempdir().unwrap().path().join("o"),
        templates: templates(),
        ..MailSettings::default()
    };
    let mut conn = store.pool().acquire().await.unwrap();
    let n = chieftech::mail::Notice {
        key: "test:bad".into(),
        to: vec!["not an address".into()],
        subject: "x".into(),
        body: "y".into(),
        attachments: vec![],
    };
    chieftech::mail::queue(&mut conn, &n).await.unwrap();
    drop(conn);
    let r = send_due(store, &settings, Utc::now()).await.unwrap();
    assert_eq!(r.parked.len(), 1);
    assert!(r.parked[0].1.contains("not an address"));
    assert_eq!(
        chieftech::mail::outbox::counts(store).await.unwrap(),
        (0, 0, 1)
    );
}

/// Two senders at once (the daemon's outbox job and a clerk's `outbox send`): each message is
/// delivered by exactly one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_senders_at_once_deliver_each_message_once() {
    for db in common::backends().await {
        let store = &db.store;
        let dir = tempfile::tempdir().unwrap();
        let settings = MailSettings {
            outbox_dir: dir.path().join("outbox"),
            templates: templates(),
            ..MailSettings::default()
        };
        let mut conn = store.pool().acquire().await.unwrap();
        for i in 0..40 {
            let n = chieftech::mail::Notice {
                key: format!("test:{i}"),
                to: vec!["rsj@zhangdian.example".into()],
                subject: format!("通知{i}"),
                body: "正文".into(),
                attachments: vec![],
            };
            chieftech::mail::queue(&mut conn, &n).await.unwrap();
        }
        drop(conn);
        let (a, b) = tokio::join!(
            send_due(store, &settings, Utc::now()),
            send_due(store, &settings, Utc::now())
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(
            a.sent.len() + b.sent.len(),
            40,
            "{} + {}",
            a.sent.len(),
            b.sent.len()
        );
        for k in &a.sent {
            assert!(!b.sent.contains(k), "{k} sent twice");
        }
        assert_eq!(
            chieftech::mail::outbox::counts(store).await.unwrap(),
            (0, 40, 0)
        );
    }
}

/// Twenty units whose Chinese names have the same length (they differ only in characters an
/// ASCII file name cannot hold): twenty .eml files, each to its own unit, private (0600) in a
/// private folder (0700, tightened when it was open).
#[tokio::test]
async fn twenty_units_with_names_of_equal_length_get_twenty_eml_files() {
    use std::os::unix::fs::PermissionsExt;
    let db = common::sqlite().await;
    let store = &db.store;
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("reports").join("outbox");
    std::fs::create_dir_all(&outbox).unwrap();
    std::fs::set_permissions(&outbox, std::fs::Permissions::from_mode(0o755)).unwrap();
    let settings = MailSettings {
        outbox_dir: outbox.clone(),
        templates: templates(),
        ..MailSettings::default()
    };
    let mut expected = std::collections::HashMap::new();
    let mut conn = store.pool().acquire().await.unwrap();
    for i in 1..=20 {
        let unit = format!("第{i:02}号机械制造有限公司");
        let key = format!("run:2024:1:unit:{unit}");
        let to = format!("hr{i:02}@unit{i:02}.example");
        let n = chieftech::mail::Notice {
            key: key.clone(),
            to: vec![to.clone()],
            subject: format!("2024年度首席技师津贴发放通知（{unit}）"),
            body: format!("{unit}：贵单位2024年度首席技师津贴已发放。"),
            attachments: vec![],
        };
        assert!(chieftech::mail::queue(&mut conn, &n).await.unwrap());
        expected.insert(eml_name(&key), (key, to, unit));
    }
    drop(conn);
    assert_eq!(expected.len(), 20, "twenty distinct file names");
    let r = send_due(store, &settings, Utc::now()).await.unwrap();
    assert_eq!(r.sent.len(), 20, "{r:?}");
    let files: Vec<PathBuf> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 20, "{files:?}");
    let mut seen = std::collections::HashSet::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        assert!(name.is_ascii() && name.starts_with("run-") && name.ends_with(".eml"));
        let (key, to, unit) = expected
            .get(&name)
            .expect("a file named for a queued message");
        assert!(seen.insert(name.clone()));
        assert_eq!(
            std::fs::metadata(f).unwrap().permissions().mode() & 0o777,
            0o600,
            "{name}"
        );
        let raw = std::fs::read(f).unwrap();
        let m = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(
            m.to().and_then(|a| a.first()).and_then(|a| a.address()),
            Some(to.as_str()),
            "{name}"
        );
        assert!(m.subject().unwrap().contains(unit.as_str()), "{name}");
        assert!(m.body_text(0).unwrap().contains(unit.as_str()), "{name}");
        assert_eq!(format!("<{}>", m.message_id().unwrap()), message_id(key));
    }
    assert_eq!(
        std::fs::metadata(&outbox).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(counts(store).await.unwrap(), (0, 20, 0));
}

/// One sender of the race test: `send_due` again and again until nothing is queued.
async fn keep_sending(
    store: &Store,
    settings: &MailSettings,
    start_after: std::time::Duration,
) -> Vec<SendReport> {
    tokio::time::sleep(start_after).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let mut reports = Vec::new();
    loop {
        reports.push(send_due(store, settings, Utc::now()).await.unwrap());
        if counts(store).await.unwrap().0 == 0 {
            return reports;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "mail still queued after 90 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A slow server (each DATA answered after 1 s), ten messages, a claim of 4 s (a delivery
/// must end within 3 s) and three senders: two start together, so each batch outlasts the
/// claim window, and a third joins after 4.5 s. Each
/// claim runs from the moment it is taken, so the late sender finds every message still being
/// sent claimed, and the server receives every message exactly once. (With claims timed from
/// the batch's start, the late sender took the message a first sender was still sending, and
/// the server received it twice.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_senders_and_a_slow_server_deliver_each_message_exactly_once() {
    for db in common::backends().await {
        let store = &db.store;
        let dir = tempfile::tempdir().unwrap();
        let Some(server) = Server::start(&dir.path().join("maildir"), Mode::Plain, None, 1.0)
        else {
            return;
        };
        let settings = MailSettings {
            claim_seconds: 4,
            send_timeout_seconds: 3,
            command_timeout_seconds: 3,
            retry_seconds: 1,
            ..smtp_settings(server.port)
        };
        let keys: Vec<String> = (1..=10).map(|i| format!("race:{i}")).collect();
        let mut conn = store.pool().acquire().await.unwrap();
        for (i, key) in keys.iter().enumerate() {
            let n = chieftech::mail::Notice {
                key: key.clone(),
                to: vec![format!("hr{i}@unit.example")],
                subject: format!("通知{i}"),
                body: "正文".into(),
                attachments: vec![],
            };
            chieftech::mail::queue(&mut conn, &n).await.unwrap();
        }
        drop(conn);
        let ms = std::time::Duration::from_millis;
        let (a, b, c) = tokio::join!(
            keep_sending(store, &settings, ms(0)),
            keep_sending(store, &settings, ms(0)),
            keep_sending(store, &settings, ms(4500)),
        );
        let mut by_id = std::collections::BTreeMap::<String, usize>::new();
        for m in server.messages() {
            let m = MessageParser::default().parse(&m).unwrap();
            *by_id
                .entry(format!("<{}>", m.message_id().unwrap()))
                .or_default() += 1;
        }
        let expected: std::collections::BTreeMap<String, usize> =
            keys.iter().map(|k| (message_id(k), 1)).collect();
        assert_eq!(by_id, expected, "every message received exactly once");
        let reports: Vec<&SendReport> = a.iter().chain(&b).chain(&c).collect();
        let mut sent: Vec<String> = reports.iter().flat_map(|r| r.sent.clone()).collect();
        sent.sort();
        let mut all = keys.clone();
        all.sort();
        assert_eq!(sent, all, "each message recorded as sent once: {reports:?}");
        assert!(
            reports.iter().all(|r| r.lost_claims.is_empty()),
            "{reports:?}"
        );
        assert_eq!(counts(store).await.unwrap(), (0, 10, 0));
    }
}

/// A server that takes longer than `send_timeout_seconds`: the delivery is abandoned in time
/// and retried later with the same Message-ID.
#[tokio::test]
async fn a_server_that_does_not_answer_in_time_is_a_retry() {
    let db = common::sqlite().await;
    let store = &db.store;
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(&dir.path().join("maildir"), Mode::Plain, None, 5.0) else {
        return;
    };
    let settings = MailSettings {
        claim_seconds: 3,
        send_timeout_seconds: 1,
        command_timeout_seconds: 30,
        ..smtp_settings(server.port)
    };
    let mut conn = store.pool().acquire().await.unwrap();
    let n = chieftech::mail::Notice {
        key: "run:2024:1:unit:slow".into(),
        to: vec!["hr@unit.example".into()],
        subject: "通知".into(),
        body: "正文".into(),
        attachments: vec![],
    };
    chieftech::mail::queue(&mut conn, &n).await.unwrap();
    drop(conn);
    let started = std::time::Instant::now();
    let now = Utc::now();
    let r = send_due(store, &settings, now).await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    assert_eq!(r.retrying.len(), 1, "{r:?}");
    assert!(
        r.retrying[0].1.contains("did not answer within 1 s"),
        "{r:?}"
    );
    let (status, attempts, last_error, next, message): (String, i64, String, String, String) =
        sqlx::query_as(
            "SELECT status, attempts, last_error, next_attempt_at, message_id FROM outbox",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!((status.as_str(), attempts), ("queued", 1));
    assert!(
        last_error.contains("did not answer within 1 s"),
        "{last_error}"
    );
    assert!(
        next > (now + chrono::Duration::seconds(59))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "{next}"
    );
    assert_eq!(message, message_id("run:2024:1:unit:slow"));
}

/// Logs and `outbox send`'s report show ID numbers masked, and .eml names hold none, even
/// when a key or an error text holds a full one.
#[tokio::test]
async fn no_full_id_number_in_logs_reports_or_file_names() {
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let logs = Buf::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (id1, id2) = ("370303198005050011", "37030319800506002X");
    let db = common::sqlite().await;
    let store = &db.store;
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let settings = MailSettings {
        outbox_dir: outbox.clone(),
        templates: templates(),
        ..MailSettings::default()
    };
    let mut conn = store.pool().acquire().await.unwrap();
    for (key, to) in [
        (
            format!("recovery:2023:1:{id1}"),
            "hr@unit.example".to_string(),
        ),
        (
            format!("recovery:2023:2:{id2}"),
            format!("{id2} at the unit"),
        ),
    ] {
        let n = chieftech::mail::Notice {
            key,
            to: vec![to],
            subject: "追缴通知".into(),
            body: "正文".into(),
            attachments: vec![],
        };
        chieftech::mail::queue(&mut conn, &n).await.unwrap();
    }
    drop(conn);
    let r = send_due(store, &settings, Utc::now()).await.unwrap();
    assert_eq!(
        r.sent,
        vec!["recovery:2023:1:3703**********0011".to_string()]
    );
    assert_eq!(r.parked.len(), 1, "{r:?}");
    assert_eq!(r.parked[0].0, "recovery:2023:2:3703**********002X");
    assert!(r.parked[0].1.contains("3703**********002X"), "{r:?}");
    let last_error: String =
        sqlx::query_scalar("SELECT last_error FROM outbox WHERE status = 'parked'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert!(!last_error.contains(id2), "{last_error}");
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("mail delivered"), "{logs}");
    assert!(logs.contains("mail parked"), "{logs}");
    assert!(logs.contains("3703**********0011"), "{logs}");
    for id in [id1, id2] {
        assert!(!logs.contains(id), "{logs}");
        assert!(!format!("{r:?}").contains(id));
    }
    for e in std::fs::read_dir(&outbox).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        assert!(name.starts_with("recovery-"), "{name}");
        assert!(!name.contains("370303"), "{name}");
    }
}

/// Approval writes its unit letters a few units at a time on every core (issue 15) and still
/// queues them in one order: by unit name, whatever order the units came in, on both ledgers.
#[tokio::test]
async fn unit_notices_are_queued_by_unit_name_however_many_units() {
    // More units than a block of letters written together (two per core, at most eight).
    const NAMES: [&str; 11] = [
        "淄博庚",
        "淄博甲",
        "淄博癸",
        "淄博乙",
        "淄博辛",
        "淄博丙",
        "淄博壬",
        "淄博丁",
        "淄博己",
        "淄博戊",
        "淄博子",
    ];
    for db in common::backends().await {
        let store = &db.store;
        let units: Vec<UnitEntry> = NAMES
            .iter()
            .enumerate()
            .map(|(i, n)| UnitEntry {
                name: (*n).into(),
                contact: None,
                email: Some(format!("hr{i}@unit.example")),
                row: None,
            })
            .collect();
        let entries: Vec<RosterEntry> = NAMES
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let id = make_id("370303", d("1975-01-01") + chrono::Days::new(i as u64), 3);
                roster_row(i, id, &format!("技师{i}"), n)
            })
            .collect();
        store
            .import_roster(&Source::operator("clerk"), &units, &entries)
            .await
            .unwrap()
            .unwrap();
        let settings = MailSettings {
            templates: templates(),
            ..MailSettings::default()
        };
        let queued = approve_with_notices(store, 2022, &settings).await;
        assert_eq!(queued, NAMES.len(), "{}", db.name);
        let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM outbox ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
        let mut sorted = NAMES.to_vec();
        sorted.sort();
        let expected: Vec<String> = sorted
            .iter()
            .map(|n| format!("run:2022:1:unit:{n}"))
            .collect();
        assert_eq!(keys, expected, "{}", db.name);
    }
}
