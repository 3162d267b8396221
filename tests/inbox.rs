//! The inbox (issue 6): units' e-mailed reports, built as real MIME messages with lettre and
//! real workbooks with rust_xlsxwriter, delivered into a Maildir or a plain folder.

#[path = "support/bomb.rs"]
mod bomb;
mod common;

use chieftech::config::Config;
use chieftech::inbox::{self, InboxError, ScanReport};
use chieftech::mail::outbox::build_message;
use chieftech::mail::MailSettings;
use chieftech::rules::id_number::make_id;
use chieftech::rules::{IdNumber, RulesConfig};
use chieftech::store::{RosterEntry, Source, Store, UnitEntry};
use chrono::NaiveDate;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};
use sqlx::Row;
use std::path::{Path, PathBuf};

const TRUSTED: &str = "mx.zhangdian.example";
const JIA: &str = "淄博甲机械有限公司";
const YI: &str = "淄博乙化工有限公司";

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

struct Person {
    name: &'static str,
    id: IdNumber,
}

fn person(name: &'static str, n: u32) -> Person {
    Person {
        name,
        id: make_id(
            "370303",
            d("1980-01-01") + chrono::Days::new(u64::from(n) * 40),
            n,
        ),
    }
}

/// 王强 and 张伟 work at 甲, 李娜 at 乙.
fn people() -> (Person, Person, Person) {
    (person("王强", 1), person("李娜", 2), person("张伟", 3))
}

async fn seed(store: &Store) {
    let (wang, li, zhang) = people();
    let entry = |p: &Person, unit: &str, approval: &str, row: u32| RosterEntry {
        id_number: p.id.clone(),
        name: p.name.into(),
        unit: unit.into(),
        occupation: "钳工".into(),
        level: "高级技师".into(),
        approval_date: d(approval),
        approval_no: format!("张人社字〔{}〕{}号", &approval[..4], row),
        bank_account: format!("62220216030{row:08}"),
        bank_name: "中国工商银行淄博张店支行".into(),
        phone: "13800000000".into(),
        email: None,
        row: Some(row),
    };
    let units = [
        UnitEntry {
            name: JIA.into(),
            contact: Some("刘会计".into()),
            email: Some("HR@jia.example".into()),
            row: Some(2),
        },
        UnitEntry {
            name: YI.into(),
            contact: None,
            email: Some("renshi@yi.example".into()),
            row: Some(3),
        },
    ];
    let entries = [
        entry(&wang, JIA, "2021-10-15", 2),
        entry(&li, YI, "2022-06-20", 3),
        entry(&zhang, JIA, "2021-10-15", 4),
    ];
    store
        .import_roster(&Source::operator("clerk"), &units, &entries)
        .await
        .unwrap()
        .unwrap();
}

/// A changes workbook (sheet 变动, docs/contract.md headers, ID numbers as text cells).
fn workbook(rows: &[(&str, &str, &str, &str, &str)]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name("变动").unwrap();
    let headers = [
        "姓名",
        "身份证号码",
        "变动类型",
        "生效日期",
        "结束日期",
        "新单位",
        "批准文号",
        "称号批准文号",
        "说明",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (r, (name, id, kind, x, new_unit)) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        ws.write_string(r, 0, *name).unwrap();
        ws.write_string(r, 1, *id).unwrap();
        ws.write_string(r, 2, *kind).unwrap();
        ws.write_string(r, 3, *x).unwrap();
        if !new_unit.is_empty() {
            ws.write_string(r, 5, *new_unit).unwrap();
        }
    }
    book.save_to_buffer().unwrap()
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A unit's message with attachments (name, bytes, content type), as the mail server stores
/// it: with its `Authentication-Results` header on top when `auth` is given.
fn message(
    from: &str,
    message_id: &str,
    auth: Option<&str>,
    attachments: &[(&str, Vec<u8>, &str)],
) -> Vec<u8> {
    let mut mp = MultiPart::mixed().singlepart(SinglePart::plain(
        "您好，附件是本单位首席技师变动情况报告表，请查收。".to_string(),
    ));
    for (name, bytes, ctype) in attachments {
        mp = mp.singlepart(
            Attachment::new((*name).to_string())
                .body(bytes.clone(), ContentType::parse(ctype).unwrap()),
        );
    }
    let msg = lettre::Message::builder()
        .from(from.parse().unwrap())
        .to("张店区人社局 <rsj@zhangdian.example>".parse().unwrap())
        .subject("首席技师变动情况报告")
        .message_id(Some(format!("<{message_id}>")))
        .multipart(mp)
        .unwrap();
    let mut raw = Vec::new();
    if let Some(a) = auth {
        raw.extend_from_slice(format!("Authentication-Results: {a}\r\n").as_bytes());
    }
    raw.extend_from_slice(&msg.formatted());
    raw
}

fn pass_for(domain: &str) -> String {
    format!("{TRUSTED};\r\n\tspf=pass (sender is authorized) smtp.mailfrom=hr@{domain};\r\n\tdkim=pass header.d={domain} header.s=mail")
}

/// A test inbox: a Maildir or folder, config pointing at it and at the shipped templates.
struct Inbox {
    _dir: tempfile::TempDir,
    root: PathBuf,
    cfg: Config,
    rules: RulesConfig,
}

impl Inbox {
    fn new(kind: &str) -> Inbox {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("inbox");
        if kind == "maildir" {
            for sub in ["new", "cur", "tmp"] {
                std::fs::create_dir_all(root.join(sub)).unwrap();
            }
        } else {
            std::fs::create_dir_all(&root).unwrap();
        }
        let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates");
        let text = format!(
            "[paths]\nreports = {:?}\n\n[mail]\ntemplates = {:?}\noutbox_dir = {:?}\n\n[inbox]\npath = {:?}\nkind = {kind:?}\ntrusted_authserv_id = {TRUSTED:?}\n",
            dir.path().join("reports").display().to_string(),
            templates.display().to_string(),
            dir.path().join("outbox").display().to_string(),
            root.display().to_string(),
        );
        std::fs::write(dir.path().join("chieftech.toml"), &text).unwrap();
        let cfg = Config::parse(&text, &dir.path().join("chieftech.toml")).unwrap();
        let rules = cfg.rules_config().unwrap();
        Inbox {
            _dir: dir,
            root,
            cfg,
            rules,
        }
    }

    /// Delivers bytes as the mail server would (Maildir: `new/NAME`) or drops a file.
    fn deliver(&self, name: &str, bytes: &[u8]) {
        let path = if self.root.join("new").is_dir() {
            self.root.join("new").join(name)
        } else {
            self.root.join(name)
        };
        std::fs::write(path, bytes).unwrap();
    }

    async fn scan(&self, store: &Store) -> ScanReport {
        let r = inbox::scan(store, &self.cfg, &self.rules, "inbox-test")
            .await
            .unwrap();
        eprintln!("{}", r.lines.join("\n"));
        r
    }

    fn files(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.root.join(sub))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// A queued reply.
struct Reply {
    recipients: String,
    subject: String,
    body: String,
    attachments: Vec<PathBuf>,
}

async fn replies(store: &Store) -> Vec<Reply> {
    sqlx::query("SELECT recipients, subject, body, attachments FROM outbox WHERE key LIKE 'inbox-reply:%' ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| Reply {
            recipients: r.try_get(0).unwrap(),
            subject: r.try_get(1).unwrap(),
            body: r.try_get(2).unwrap(),
            attachments: r
                .try_get::<String, _>(3)
                .unwrap()
                .lines()
                .filter(|l| !l.is_empty())
                .map(PathBuf::from)
                .collect(),
        })
        .collect()
}

/// The reply as the outbox would send it, parsed back with mail-parser:
/// (subject, text body, attachment names).
fn parse_reply(r: &Reply) -> (String, String, Vec<String>) {
    use mail_parser::MimeHeaders;
    let settings = MailSettings::default();
    let msg = build_message(
        &settings,
        "<reply@chieftech.zhangdian>",
        &r.recipients,
        &r.subject,
        &r.body,
        &r.attachments,
    )
    .unwrap();
    let raw = msg.formatted();
    let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let names = parsed
        .attachments()
        .map(|a| a.attachment_name().unwrap_or("").to_string())
        .collect();
    (
        parsed.subject().unwrap_or("").to_string(),
        parsed.body_text(0).unwrap_or_default().to_string(),
        names,
    )
}

async fn live_changes(store: &Store, p: &Person) -> Vec<(String, String)> {
    store
        .list_changes(p.id.as_str())
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.voided.is_none())
        .map(|c| {
            (
                c.change.kind.label().to_string(),
                c.change.effective.to_string(),
            )
        })
        .collect()
}

async fn item_statuses(store: &Store) -> Vec<(String, Option<String>)> {
    sqlx::query("SELECT status, reason FROM inbox_items ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.try_get(0).unwrap(), r.try_get(1).unwrap()))
        .collect()
}

fn assert_no_full_ids(text: &str) {
    let (wang, li, zhang) = people();
    for p in [wang, li, zhang] {
        assert!(!text.contains(p.id.as_str()), "full ID number in: {text}");
    }
}

#[tokio::test]
async fn a_good_report_is_applied_and_acknowledged() {
    for db in common::backends().await {
        let store = &db.store;
        seed(store).await;
        let (wang, _, _) = people();
        let inbox = Inbox::new("maildir");
        let book = workbook(&[(wang.name, wang.id.as_str(), "调往区外", "2023-05-20", "")]);
        let raw = message(
            "甲公司人事 <hr@jia.example>",
            "report-1@jia.example",
            Some(&pass_for("jia.example")),
            &[("变动情况报告表.xlsx", book, XLSX)],
        );
        inbox.deliver("1700000000.M1P1.mx", &raw);
        let r = inbox.scan(store).await;
        assert_eq!(
            (r.taken_in, r.held, r.refused, r.rows_refused),
            (1, 0, 0, 0),
            "{}",
            db.name
        );
        assert_eq!(
            live_changes(store, &wang).await,
            vec![("调往区外".into(), "2023-05-20".into())]
        );
        assert_no_full_ids(&r.lines.join("\n"));

        let replies = replies(store).await;
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].recipients, "hr@jia.example");
        assert!(replies[0].attachments.is_empty());
        let (subject, body, attachments) = parse_reply(&replies[0]);
        assert!(subject.contains(JIA), "{subject}");
        assert!(body.contains("已登记1条变动"), "{body}");
        assert!(
            body.contains("王强") && body.contains("调往区外") && body.contains("2023-05-20"),
            "{body}"
        );
        assert!(body.contains(&wang.id.masked()), "{body}");
        assert_no_full_ids(&body);
        assert!(attachments.is_empty());

        // Moved out of new/; scanning again does nothing.
        assert!(inbox.files("new").is_empty());
        assert_eq!(
            inbox.files("cur"),
            vec!["1700000000.M1P1.mx:2,S".to_string()]
        );
        let again = inbox.scan(store).await;
        assert_eq!((again.taken_in, again.skipped_duplicates), (0, 0));
        inbox.deliver("1700000001.M2P1.mx", &raw);
        let again = inbox.scan(store).await;
        assert_eq!((again.taken_in, again.skipped_duplicates), (0, 1));
        assert_eq!(replies_count(store).await, 1);
    }
}

async fn replies_count(store: &Store) -> usize {
    replies(store).await.len()
}

#[tokio::test]
async fn a_report_from_an_unknown_address_is_refused_and_logged() {
    let db = common::sqlite().await;
    let store = &db.store;
    seed(store).await;
    let (wang, _, _) = people();
    let inbox = Inbox::new("maildir");
    let book = workbook(&[(wang.name, wang.id.as_str(), "死亡", "2023-05-20", "")]);
    let raw = message(
        "someone <boss@evil.example>",
        "x@evil.example",
        Some(&pass_for("evil.example")),
        &[("变动.xlsx", book, XLSX)],
    );
    inbox.deliver("1.M1.mx", &raw);
    let r = inbox.scan(store).await;
    assert_eq!((r.taken_in, r.refused), (0, 1));
    assert!(
        r.lines[0].contains("boss@evil.example") && r.lines[0].contains("不是已登记的单位邮箱")
    );
    assert!(live_changes(store, &wang).await.is_empty());
    assert_eq!(replies_count(store).await, 0, "no reply to unknown senders");
    let items = item_statuses(store).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].0, "refused");
    assert!(items[0].1.as_deref().unwrap().contains("boss@evil.example"));
    // Recorded: delivered again, it is skipped.
    inbox.deliver("2.M2.mx", &raw);
    let again = inbox.scan(store).await;
    assert_eq!((again.refused, again.skipped_duplicates), (0, 1));
}

#[tokio::test]
async fn a_forged_from_is_held_until_a_clerk_accepts_it() {
    for db in common::backends().await {
        let store = &db.store;
        seed(store).await;
        let (wang, _, _) = people();
        let inbox = Inbox::new("maildir");
        let book = workbook(&[(wang.name, wang.id.as_str(), "退休", "2023-09-16", "")]);
        // The trusted server saw SPF fail for the From's domain; a second, forged header
        // claiming a pass sits below it and must not count.
        let auth = format!("{TRUSTED}; spf=fail smtp.mailfrom=hr@jia.example; dkim=none");
        let mut raw = message(
            "甲公司人事 <hr@jia.example>",
            "forged-1@jia.example",
            Some(&auth),
            &[("变动情况报告表.xlsx", book, XLSX)],
        );
        let forged = format!("Authentication-Results: {}\r\n", pass_for("jia.example"));
        let split = raw.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        raw.splice(split..split, forged.into_bytes());
        inbox.deliver("1.M1.mx", &raw);
        let r = inbox.scan(store).await;
        assert_eq!((r.taken_in, r.held), (0, 1), "{}", db.name);
        assert!(live_changes(store, &wang).await.is_empty());
        assert_eq!(replies_count(store).await, 0);

        let held = inbox::held(store).await.unwrap();
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].from, "hr@jia.example");
        assert_eq!(held[0].subject, "首席技师变动情况报告");
        assert!(held[0].why.contains("spf=fail"), "{}", held[0].why);
        // A second scan neither applies nor holds it again.
        let again = inbox.scan(store).await;
        assert_eq!((again.held, again.skipped_duplicates), (0, 0));
        assert_eq!(inbox::held(store).await.unwrap().len(), 1);

        let r = inbox::accept(store, &inbox.cfg, &inbox.rules, held[0].id, "clerk")
            .await
            .unwrap();
        assert_eq!(r.taken_in, 1);
        assert_eq!(
            live_changes(store, &wang).await,
            vec![("退休".into(), "2023-09-16".into())]
        );
        assert!(inbox::held(store).await.unwrap().is_empty());
        let replies = replies(store).await;
        assert_eq!(replies.len(), 1);
        assert!(replies[0].body.contains("已登记1条变动"));
        let again = inbox::accept(store, &inbox.cfg, &inbox.rules, held[0].id, "clerk").await;
        assert!(matches!(again, Err(InboxError::NotHeld(_))));
        assert_eq!(live_changes(store, &wang).await.len(), 1);
    }
}

#[tokio::test]
async fn a_message_without_the_servers_verdict_is_held() {
    let db = common::sqlite().await;
    let store = &db.store;
    seed(store).await;
    let (wang, _, _) = people();
    let inbox = Inbox::new("maildir");
    let book = workbook(&[(wang.name, wang.id.as_str(), "退休", "2023-09-16", "")]);
    let other_server = "mx.elsewhere.example; spf=pass smtp.mailfrom=hr@jia.example";
    inbox.deliver(
        "1.M1.mx",
        &message(
            "hr@jia.example",
            "a@jia.example",
            None,
            &[("a.xlsx", book.clone(), XLSX)],
        ),
    );
    inbox.deliver(
        "2.M2.mx",
        &message(
            "hr@jia.example",
            "b@jia.example",
            Some(other_server),
            &[("b.xlsx", book, XLSX)],
        ),
    );
    let r = inbox.scan(store).await;
    assert_eq!((r.taken_in, r.held), (0, 2));
    assert!(live_changes(store, &wang).await.is_empty());
}

#[tokio::test]
async fn another_units_technician_is_refused_for_that_row() {
    for db in common::backends().await {
        let store = &db.store;
        seed(store).await;
        let (wang, li, zhang) = people();
        let inbox = Inbox::new("maildir");
        // 甲 reports its own 王强, 乙's 李娜, and a 恢复待遇 (the bureau's decision) for its
        // own 张伟.
        let book = workbook(&[
            (wang.name, wang.id.as_str(), "调往区外", "2023-05-20", ""),
            (li.name, li.id.as_str(), "退休", "2023-06-01", ""),
            (zhang.name, zhang.id.as_str(), "恢复待遇", "2023-07-01", ""),
        ]);
        inbox.deliver(
            "1.M1.mx",
            &message(
                "hr@jia.example",
                "mixed@jia.example",
                Some(&pass_for("jia.example")),
                &[("变动情况报告表.xlsx", book, XLSX)],
            ),
        );
        let r = inbox.scan(store).await;
        assert_eq!((r.taken_in, r.rows_refused), (1, 2), "{}", db.name);
        assert_eq!(live_changes(store, &wang).await.len(), 1);
        assert!(live_changes(store, &li).await.is_empty());
        assert!(live_changes(store, &zhang).await.is_empty());

        let replies = replies(store).await;
        assert_eq!(replies.len(), 1);
        let reply = &replies[0];
        assert_eq!(reply.attachments.len(), 1);
        assert!(reply.attachments[0]
            .to_string_lossy()
            .ends_with(".errors.xlsx"));
        assert!(reply.attachments[0].exists());
        let (_, body, attachments) = parse_reply(reply);
        assert!(body.contains("已登记1条变动"), "{body}");
        assert!(
            body.contains("第3行") && body.contains("不是本单位"),
            "{body}"
        );
        assert!(
            body.contains("第4行") && body.contains("恢复待遇"),
            "{body}"
        );
        assert!(!body.contains(YI), "another unit's name leaked: {body}");
        assert_no_full_ids(&body);
        assert_eq!(attachments.len(), 1);
        assert!(attachments[0].ends_with(".errors.xlsx"), "{attachments:?}");
    }
}

#[tokio::test]
async fn after_a_move_the_new_unit_reports() {
    let db = common::sqlite().await;
    let store = &db.store;
    seed(store).await;
    let (wang, _, _) = people();
    let inbox = Inbox::new("maildir");
    // 甲 reports 王强's move to 乙 on 2023-03-01.
    let move_book = workbook(&[(wang.name, wang.id.as_str(), "单位变更", "2023-03-01", YI)]);
    inbox.deliver(
        "1.M1.mx",
        &message(
            "hr@jia.example",
            "move@jia.example",
            Some(&pass_for("jia.example")),
            &[("move.xlsx", move_book, XLSX)],
        ),
    );
    let r = inbox.scan(store).await;
    assert_eq!((r.taken_in, r.rows_refused), (1, 0));
    // 甲 may still report a change dated before the move, not after it; 乙 reports after it.
    let jia_book = workbook(&[
        (
            wang.name,
            wang.id.as_str(),
            "享受其他人才津贴",
            "2023-01-01",
            "",
        ),
        (wang.name, wang.id.as_str(), "退休", "2023-09-16", ""),
    ]);
    inbox.deliver(
        "2.M2.mx",
        &message(
            "hr@jia.example",
            "late@jia.example",
            Some(&pass_for("jia.example")),
            &[("jia.xlsx", jia_book, XLSX)],
        ),
    );
    let yi_book = workbook(&[(wang.name, wang.id.as_str(), "退休", "2023-10-01", "")]);
    inbox.deliver(
        "3.M3.mx",
        &message(
            "renshi@yi.example",
            "r@yi.example",
            Some(&pass_for("yi.example")),
            &[("yi.xlsx", yi_book, XLSX)],
        ),
    );
    let r = inbox.scan(store).await;
    // 甲's open-ended other allowance from before the move reaches into 乙's time: a unit the
    // technician left cannot stop the pay earned at the new one (issue 18). Its retirement
    // after the move is 乙's to report.
    assert_eq!((r.taken_in, r.rows_refused), (2, 2));
    assert_eq!(
        live_changes(store, &wang).await,
        vec![
            ("单位变更".into(), "2023-03-01".into()),
            ("退休".into(), "2023-10-01".into()),
        ]
    );
    let replies = replies(store).await;
    let jia: Vec<&str> = replies
        .iter()
        .filter(|r| r.recipients == "hr@jia.example")
        .map(|r| r.body.as_str())
        .collect();
    assert!(
        jia.iter()
            .any(|b| b.contains("第2行") && b.contains("或其后的期间内")),
        "{jia:#?}"
    );
}

#[tokio::test]
async fn the_same_message_delivered_twice_is_taken_in_once() {
    for db in common::backends().await {
        let store = &db.store;
        seed(store).await;
        let (wang, _, _) = people();
        let inbox = Inbox::new("maildir");
        let book = workbook(&[(wang.name, wang.id.as_str(), "调往区外", "2023-05-20", "")]);
        let raw = message(
            "hr@jia.example",
            "twice@jia.example",
            Some(&pass_for("jia.example")),
            &[("变动情况报告表.xlsx", book, XLSX)],
        );
        inbox.deliver("1.M1.mx", &raw);
        inbox.deliver("2.M2.mx", &raw);
        // Delivered again through another route: other bytes, the same Message-ID.
        let mut relayed = b"Received: from relay.example by mx.zhangdian.example\r\n".to_vec();
        relayed.extend_from_slice(&raw);
        inbox.deliver("3.M3.mx", &relayed);
        let r = inbox.scan(store).await;
        assert_eq!((r.taken_in, r.skipped_duplicates), (1, 2), "{}", db.name);
        assert_eq!(live_changes(store, &wang).await.len(), 1);
        assert_eq!(replies_count(store).await, 1);
        // A crash before the move to cur/: the message is back in new/, and skipped.
        let cur = inbox.files("cur");
        std::fs::rename(
            inbox.root.join("cur").join(&cur[0]),
            inbox.root.join("new/1.M1.mx"),
        )
        .unwrap();
        let r = inbox.scan(store).await;
        assert_eq!((r.taken_in, r.skipped_duplicates), (0, 1));
        assert_eq!(live_changes(store, &wang).await.len(), 1);
    }
}

#[tokio::test]
async fn a_crash_between_recording_and_replying_is_resumed_once() {
    let db = common::sqlite().await;
    let store = &db.store;
    seed(store).await;
    let (wang, li, _) = people();
    let inbox = Inbox::new("maildir");
    let book = workbook(&[
        (wang.name, wang.id.as_str(), "调往区外", "2023-05-20", ""),
        (li.name, li.id.as_str(), "退休", "2023-06-01", ""),
    ]);
    let raw = message(
        "hr@jia.example",
        "crash@jia.example",
        Some(&pass_for("jia.example")),
        &[("a.xlsx", book, XLSX)],
    );
    inbox.deliver("1.M1.mx", &raw);
    inbox.scan(store).await;
    // Undo the last step (reply queued, item done) as if the process died before it.
    sqlx::query("DELETE FROM outbox")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE inbox_items SET status = 'processing'")
        .execute(store.pool())
        .await
        .unwrap();
    let cur = inbox.files("cur");
    std::fs::rename(
        inbox.root.join("cur").join(&cur[0]),
        inbox.root.join("new/1.M1.mx"),
    )
    .unwrap();
    let r = inbox.scan(store).await;
    assert_eq!((r.taken_in, r.rows_refused), (1, 1));
    assert_eq!(
        live_changes(store, &wang).await.len(),
        1,
        "not applied twice"
    );
    let replies = replies(store).await;
    assert_eq!(replies.len(), 1);
    assert!(
        replies[0].body.contains("已登记1条变动"),
        "{}",
        replies[0].body
    );
    assert!(
        replies[0].body.contains("不是本单位"),
        "{}",
        replies[0].body
    );
}

#[tokio::test]
async fn a_workbook_dropped_by_hand_is_the_bureaus_import() {
    for db in common::backends().await {
        let store = &db.store;
        seed(store).await;
        let (wang, li, _) = people();
        let inbox = Inbox::new("folder");
        // The bureau may restore benefits; whole-file semantics.
        let book = workbook(&[
            (li.name, li.id.as_str(), "离岗", "2024-02-10", ""),
            (li.name, li.id.as_str(), "恢复待遇", "2024-07-01", ""),
        ]);
        inbox.deliver("局内补录.xlsx", &book);
        // A unit's .eml in the same folder is a unit's message like any other.
        let unit_book = workbook(&[(wang.name, wang.id.as_str(), "调往区外", "2023-05-20", "")]);
        inbox.deliver(
            "from-jia.eml",
            &message(
                "hr@jia.example",
                "f@jia.example",
                Some(&pass_for("jia.example")),
                &[("x.xlsx", unit_book, XLSX)],
            ),
        );
        // A bad bureau file is refused whole; its error workbook is not taken for an input.
        let bad = workbook(&[
            (wang.name, wang.id.as_str(), "死亡", "2024-01-01", ""),
            (
                wang.name,
                wang.id.as_str(),
                "不存在的类型",
                "2024-01-01",
                "",
            ),
        ]);
        inbox.deliver("有错.xlsx", &bad);
        let r = inbox.scan(store).await;
        assert_eq!((r.taken_in, r.refused), (2, 1), "{}", db.name);
        assert_eq!(
            live_changes(store, &li).await,
            vec![
                ("离岗".into(), "2024-02-10".into()),
                ("恢复待遇".into(), "2024-07-01".into())
            ]
        );
        assert_eq!(
            live_changes(store, &wang).await,
            vec![("调往区外".into(), "2023-05-20".into())]
        );
        assert_eq!(replies_count(store).await, 1, "only the unit is answered");
        let mut processed = inbox.files("processed");
        processed.sort();
        assert_eq!(
            processed,
            vec![
                "from-jia.eml",
                "局内补录.xlsx",
                "有错.errors.xlsx",
                "有错.xlsx"
            ]
        );
        assert!(inbox.files(".").iter().all(|f| f == "processed"));
        // Dropped again: skipped.
        inbox.deliver("局内补录-副本.xlsx", &book);
        let r = inbox.scan(store).await;
        assert_eq!((r.taken_in, r.skipped_duplicates), (0, 1));
    }
}

#[tokio::test]
async fn unreadable_messages_and_attachments_are_refused_without_panicking() {
    let db = common::sqlite().await;
    let store = &db.store;
    seed(store).await;
    let inbox = Inbox::new("folder");
    let ok = Some(pass_for("jia.example"));
    inbox.deliver(
        "garbage.eml",
        b"\xff\xfe\x00 not a message at all \x00\r\n\r\n--",
    );
    inbox.deliver("empty.eml", b"");
    inbox.deliver(
        "no-attachment.eml",
        &message("hr@jia.example", "n1@jia.example", ok.as_deref(), &[]),
    );
    inbox.deliver(
        "pdf.eml",
        &message(
            "hr@jia.example",
            "n2@jia.example",
            ok.as_deref(),
            &[("报告.pdf", b"%PDF-1.4".to_vec(), "application/pdf")],
        ),
    );
    inbox.deliver(
        "fake-xlsx.eml",
        &message(
            "hr@jia.example",
            "n3@jia.example",
            ok.as_deref(),
            &[("报告.xlsx", b"PK\x03\x04 broken zip".to_vec(), XLSX)],
        ),
    );
    inbox.deliver(
        "no-sheet-header.eml",
        &message(
            "hr@jia.example",
            "n4@jia.example",
            ok.as_deref(),
            &[("报告.xlsx", workbook(&[]), XLSX)],
        ),
    );
    let r = inbox.scan(store).await;
    assert_eq!(r.lines.len(), 6);
    // garbage and empty: no sender, refused; no attachment, pdf, broken workbook: refused
    // with a reply; the workbook without rows is taken in (nothing to record).
    assert_eq!(r.refused, 5, "{:?}", r.lines);
    let replies = replies(store).await;
    assert_eq!(replies.len(), 4, "one reply per message from the unit");
    let bodies: Vec<&str> = replies.iter().map(|r| r.body.as_str()).collect();
    assert!(
        bodies.iter().any(|b| b.contains("邮件没有附件")),
        "{bodies:?}"
    );
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("“报告.pdf”）不是Excel工作簿")),
        "{bodies:?}"
    );
    assert!(bodies.iter().any(|b| b.contains("无法读取")), "{bodies:?}");
    for r in &replies {
        parse_reply(r);
    }
}

#[tokio::test]
async fn an_interrupted_accept_is_finished_by_the_next_scan() {
    let db = common::sqlite().await;
    let store = &db.store;
    seed(store).await;
    let (wang, _, _) = people();
    let inbox = Inbox::new("maildir");
    let book = workbook(&[(wang.name, wang.id.as_str(), "退休", "2023-09-16", "")]);
    let original = message(
        "hr@jia.example",
        "held@jia.example",
        None,
        &[("a.xlsx", book, XLSX)],
    );
    inbox.deliver("1.M1.mx", &original);
    assert_eq!(inbox.scan(store).await.held, 1);
    let id = inbox::held(store).await.unwrap()[0].id;
    inbox::accept(store, &inbox.cfg, &inbox.rules, id, "clerk")
        .await
        .unwrap();
    // As if the process died after recording the changes, before the reply: the message's
    // file is long gone from new/, its bytes are still in the ledger.
    sqlx::query("DELETE FROM outbox")
        .execute(store.pool())
        .await
        .unwrap();
    let raw: Vec<u8> = sqlx::query("SELECT raw FROM inbox_items WHERE id = $1")
        .bind(id)
        .fetch_one(store.pool())
        .await
        .map(|r| r.try_get::<Option<Vec<u8>>, _>(0).unwrap())
        .unwrap()
        .unwrap_or_default();
    assert!(raw.is_empty(), "bytes are dropped once done");
    sqlx::query("UPDATE inbox_items SET status = 'processing', raw = $1 WHERE id = $2")
        .bind(original.clone())
        .bind(id)
        .execute(store.pool())
        .await
        .unwrap();
    let r = inbox.scan(store).await;
    assert_eq!(r.lines.len(), 1, "{:?}", r.lines);
    assert_eq!(live_changes(store, &wang).await.len(), 1);
    let replies = replies(store).await;
    assert_eq!(replies.len(), 1);
    assert!(
        replies[0].body.contains("已登记1条变动"),
        "{}",
        replies[0].body
    );
    let statuses = item_statuses(store).await;
    assert_ne!(statuses[0].0, "processing");
}

#[tokio::test]
async fn the_same_workbook_in_a_new_message_is_not_recorded_again() {
    let db = common::sqlite().await;
    let store = &db.store;
    seed(store).await;
    let (wang, _, _) = people();
    let inbox = Inbox::new("maildir");
    let book = workbook(&[(wang.name, wang.id.as_str(), "调往区外", "2023-05-20", "")]);
    let auth = pass_for("jia.example");
    inbox.deliver(
        "1.M1.mx",
        &message(
            "hr@jia.example",
            "first@jia.example",
            Some(&auth),
            &[("a.xlsx", book.clone(), XLSX)],
        ),
    );
    inbox.scan(store).await;
    inbox.deliver(
        "2.M2.mx",
        &message(
            "hr@jia.example",
            "resent@jia.example",
            Some(&auth),
            &[("a.xlsx", book, XLSX)],
        ),
    );
    let r = inbox.scan(store).await;
    assert_eq!(r.taken_in, 1);
    assert_eq!(live_changes(store, &wang).await.len(), 1);
    let replies = replies(store).await;
    assert_eq!(replies.len(), 2);
    assert!(
        replies[1].body.contains("已登记0条变动"),
        "{}",
        replies[1].body
    );
    assert!(
        replies[1].body.contains("1条与已登记的变动相同"),
        "{}",
        replies[1].body
    );
}

/// 赵敏 works at 甲 but is not on the roster until the bureau imports her.
fn zhao() -> Person {
    person("赵敏", 4)
}

async fn add_zhao_to_roster(store: &Store) {
    let p = zhao();
    let entry = RosterEntry {
        id_number: p.id.clone(),
        name: p.name.into(),
        unit: JIA.into(),
        occupation: "焊工".into(),
        level: "高级技师".into(),
        approval_date: d("2021-10-15"),
        approval_no: "张人社字〔2021〕9号".into(),
        bank_account: "6222021603000000099".into(),
        bank_name: "中国工商银行淄博张店支行".into(),
        phone: "13800000000".into(),
        email: None,
        row: Some(2),
    };
    store
        .import_roster(&Source::operator("clerk"), &[], &[entry])
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_resent_workbook_records_the_rows_refused_before_and_says_so() {
    for db in common::backends().await {
        let store = &db.store;
        seed(store).await;
        let (wang, _, _) = people();
        let zhao = zhao();
        let inbox = Inbox::new("maildir");
        let book = workbook(&[
            (wang.name, wang.id.as_str(), "调往区外", "2023-05-20", ""),
            (zhao.name, zhao.id.as_str(), "调往区外", "2023-06-01", ""),
        ]);
        let auth = pass_for("jia.example");
        let send = |id: &str| {
            message(
                "hr@jia.example",
                id,
                Some(&auth),
                &[("变动情况报告表.xlsx", book.clone(), XLSX)],
            )
        };
        inbox.deliver("1.M1.mx", &send("first@jia.example"));
        let r = inbox.scan(store).await;
        assert_eq!((r.taken_in, r.rows_refused), (1, 1), "{}", db.name);
        assert_eq!(live_changes(store, &wang).await.len(), 1);
        let first = &replies(store).await[0];
        assert!(first.body.contains("不在名册中"), "{}", first.body);

        // The bureau adds 赵敏; the unit sends the very same workbook again.
        add_zhao_to_roster(store).await;
        inbox.deliver("2.M2.mx", &send("again@jia.example"));
        let r = inbox.scan(store).await;
        assert_eq!((r.taken_in, r.rows_refused), (1, 0), "{}", db.name);
        assert_eq!(
            live_changes(store, &zhao).await,
            vec![("调往区外".to_string(), "2023-06-01".to_string())],
            "the row refused before is recorded now ({})",
            db.name
        );
        assert_eq!(live_changes(store, &wang).await.len(), 1, "not twice");
        let replies = replies(store).await;
        assert_eq!(replies.len(), 2);
        let body = &replies[1].body;
        assert!(body.contains("已登记1条变动"), "{body}");
        assert!(body.contains("1条与已登记的变动相同"), "{body}");
        assert!(
            body.contains("第3行：赵敏") && body.contains("2023-06-01"),
            "the reply names the row recorded: {body}"
        );
        assert!(!body.contains("不在名册中"), "{body}");
        assert_no_full_ids(body);
    }
}

#[tokio::test]
async fn import_changes_again_records_rows_refused_the_first_time() {
    for db in common::backends().await {
        let store = &db.store;
        seed(store).await;
        let (wang, _, _) = people();
        let zhao = zhao();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("变动.xlsx");
        std::fs::write(
            &path,
            workbook(&[
                (wang.name, wang.id.as_str(), "调往区外", "2023-05-20", ""),
                (zhao.name, zhao.id.as_str(), "调往区外", "2023-06-01", ""),
            ]),
        )
        .unwrap();
        let rules = RulesConfig::default();
        let import = || async {
            chieftech::jobs::import::import_changes(
                store,
                std::slice::from_ref(&path),
                chieftech::rules::Reporter::Bureau,
                true,
                &rules,
                "clerk",
                false,
            )
            .await
            .unwrap()
        };
        let r = import().await;
        assert!(r.refused, "{:?}", r.lines);
        assert!(
            store.list_changes(zhao.id.as_str()).await.is_err(),
            "not on the roster"
        );
        add_zhao_to_roster(store).await;
        let r = import().await;
        assert!(!r.refused, "{:?} ({})", r.lines, db.name);
        assert_eq!(live_changes(store, &zhao).await.len(), 1, "{:?}", r.lines);
        assert_eq!(live_changes(store, &wang).await.len(), 1);
        let line = r.lines.join("\n");
        assert!(
            line.contains("已登记1条变动") && line.contains("1条与已登记的变动相同"),
            "{line}"
        );
        // A third time: nothing new, and it says so.
        let r = import().await;
        assert!(!r.refused);
        assert!(r.lines.join("").contains("没有新的变动"), "{:?}", r.lines);

        // A row the bureau voids stays void when the same file is imported again.
        let change = store.list_changes(zhao.id.as_str()).await.unwrap()[0]
            .change
            .id;
        store
            .void_change(change, "录入错误", "clerk")
            .await
            .unwrap();
        let r = import().await;
        assert!(live_changes(store, &zhao).await.is_empty(), "{:?}", r.lines);
        assert!(r.lines.join("").contains("已被作废"), "{:?}", r.lines);
    }
}

#[tokio::test]
async fn a_message_that_keeps_failing_is_given_up_reported_once_and_the_scan_goes_on() {
    let db = common::sqlite().await;
    let store = &db.store;
    seed(store).await;
    let (wang, li, _) = people();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("inbox");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates");
    let text = format!(
        "[mail]\ntemplates = {:?}\nbureau = \"rsj@zhangdian.example\"\n\n[inbox]\npath = {:?}\nwork_dir = {:?}\ntrusted_authserv_id = {TRUSTED:?}\nmax_attempts = 2\n",
        templates.display().to_string(),
        root.display().to_string(),
        work.display().to_string(),
    );
    let cfg = Config::parse(&text, &dir.path().join("chieftech.toml")).unwrap();
    let rules = cfg.rules_config().unwrap();
    // Item 1's work folder cannot be made (a file stands in its place): that message fails
    // every time; item 2, another unit's good report, must not wait behind it.
    std::fs::write(work.join("1"), b"in the way").unwrap();
    let bad = message(
        "hr@jia.example",
        "bad@jia.example",
        Some(&pass_for("jia.example")),
        &[(
            "a.xlsx",
            workbook(&[(wang.name, wang.id.as_str(), "调往区外", "2023-05-20", "")]),
            XLSX,
        )],
    );
    let good = message(
        "renshi@yi.example",
        "good@yi.example",
        Some(&pass_for("yi.example")),
        &[(
            "b.xlsx",
            workbook(&[(li.name, li.id.as_str(), "退休", "2023-06-01", "")]),
            XLSX,
        )],
    );
    std::fs::write(root.join("new/1.M1.mx"), &bad).unwrap();
    std::fs::write(root.join("new/2.M2.mx"), &good).unwrap();
    let scan = || async { inbox::scan(store, &cfg, &rules, "test").await.unwrap() };

    let r = scan().await;
    assert_eq!((r.taken_in, r.failed), (1, 1), "{:?}", r.lines);
    assert_eq!(
        live_changes(store, &li).await.len(),
        1,
        "the good one went on"
    );
    assert!(r.lines.join("").contains("下次收取时重试"), "{:?}", r.lines);
    let status: Vec<String> = item_statuses(store)
        .await
        .into_iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(status, ["processing", "done"]);

    let r = scan().await;
    assert_eq!(r.failed, 1, "{:?}", r.lines);
    assert!(r.lines.join("").contains("已停止重试"), "{:?}", r.lines);
    let items = item_statuses(store).await;
    assert_eq!(items[0].0, "failed");
    assert!(
        items[0].1.as_deref().unwrap_or("").contains("处理2次"),
        "{items:?}"
    );
    assert!(
        root.join("new").read_dir().unwrap().next().is_none(),
        "left new/"
    );

    // Never retried, and the bureau is told once.
    for _ in 0..2 {
        let r = scan().await;
        assert_eq!((r.taken_in, r.failed), (0, 0), "{:?}", r.lines);
    }
    std::fs::write(root.join("new/1.M1.mx"), &bad).unwrap();
    let r = scan().await;
    assert_eq!((r.failed, r.skipped_duplicates), (0, 1), "{:?}", r.lines);
    let mails =
        sqlx::query("SELECT recipients, subject, body FROM outbox WHERE key LIKE 'inbox-failed:%'")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(mails.len(), 1);
    let to: String = mails[0].try_get(0).unwrap();
    let body: String = mails[0].try_get(2).unwrap();
    assert_eq!(to, "rsj@zhangdian.example");
    assert!(body.contains("收件记录1") && body.contains("2次"), "{body}");
    assert!(body.contains("hr@jia.example"), "{body}");
    assert_no_full_ids(&body);
    assert!(live_changes(store, &wang).await.is_empty());
}

#[tokio::test]
async fn an_item_left_processing_by_crashes_is_given_up_after_max_attempts() {
    let db = common::sqlite().await;
    let store = &db.store;
    seed(store).await;
    let (wang, _, _) = people();
    let inbox = Inbox::new("maildir");
    let raw = message(
        "hr@jia.example",
        "crashy@jia.example",
        Some(&pass_for("jia.example")),
        &[(
            "a.xlsx",
            workbook(&[(wang.name, wang.id.as_str(), "调往区外", "2023-05-20", "")]),
            XLSX,
        )],
    );
    inbox.deliver("1.M1.mx", &raw);
    inbox.scan(store).await;
    // As if the process had died in the middle of the item three times (default max 3):
    // the message is back in new/, the item is `processing` with three attempts counted.
    sqlx::query("UPDATE inbox_items SET status = 'processing', attempts = 3")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM outbox")
        .execute(store.pool())
        .await
        .unwrap();
    let cur = inbox.files("cur");
    std::fs::rename(
        inbox.root.join("cur").join(&cur[0]),
        inbox.root.join("new/1.M1.mx"),
    )
    .unwrap();
    let r = inbox.scan(store).await;
    assert_eq!((r.taken_in, r.failed), (0, 1), "{:?}", r.lines);
    assert_eq!(item_statuses(store).await[0].0, "failed");
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM outbox WHERE key LIKE 'inbox-failed:%'")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(n, 1);
    let body: String = sqlx::query("SELECT body FROM outbox WHERE key LIKE 'inbox-failed:%'")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert!(body.contains("程序中断"), "{body}");
}

#[tokio::test]
async fn a_refused_message_does_not_reserve_its_message_id() {
    let db = common::sqlite().await;
    let store = &db.store;
    seed(store).await;
    let (wang, _, _) = people();
    let inbox = Inbox::new("maildir");
    let book = workbook(&[(wang.name, wang.id.as_str(), "调往区外", "2023-05-20", "")]);
    // A stranger sends first, with the Message-ID the unit's message will carry.
    inbox.deliver(
        "1.M1.mx",
        &message(
            "someone@evil.example",
            "report-7@jia.example",
            Some(&pass_for("evil.example")),
            &[("a.xlsx", book.clone(), XLSX)],
        ),
    );
    let r = inbox.scan(store).await;
    assert_eq!(r.refused, 1);
    inbox.deliver(
        "2.M2.mx",
        &message(
            "hr@jia.example",
            "report-7@jia.example",
            Some(&pass_for("jia.example")),
            &[("a.xlsx", book, XLSX)],
        ),
    );
    let r = inbox.scan(store).await;
    assert_eq!((r.taken_in, r.skipped_duplicates), (1, 0), "{:?}", r.lines);
    assert_eq!(live_changes(store, &wang).await.len(), 1);
    let items = item_statuses(store).await;
    assert!(
        items[0]
            .1
            .as_deref()
            .unwrap_or("")
            .contains("report-7@jia.example"),
        "the refused message's ID is kept in its reason: {items:?}"
    );
}

#[tokio::test]
async fn an_attachment_with_a_very_long_name_is_taken_in() {
    let db = common::sqlite().await;
    let store = &db.store;
    seed(store).await;
    let (wang, _, _) = people();
    let inbox = Inbox::new("maildir");
    let book = workbook(&[(wang.name, wang.id.as_str(), "调往区外", "2023-05-20", "")]);
    let name = format!("{}变动情况报告表.xlsx", "淄博甲机械有限公司".repeat(12));
    assert!(name.len() > 255);
    inbox.deliver(
        "1.M1.mx",
        &message(
            "hr@jia.example",
            "long@jia.example",
            Some(&pass_for("jia.example")),
            &[(&name, book, XLSX)],
        ),
    );
    let r = inbox.scan(store).await;
    assert_eq!((r.taken_in, r.failed), (1, 0), "{:?}", r.lines);
    assert_eq!(live_changes(store, &wang).await.len(), 1);
}

#[tokio::test]
async fn a_trusted_header_made_unreadable_does_not_let_a_forged_one_below_speak() {
    let db = common::sqlite().await;
    let store = &db.store;
    seed(store).await;
    let (wang, _, _) = people();
    let inbox = Inbox::new("maildir");
    let book = workbook(&[(wang.name, wang.id.as_str(), "调往区外", "2023-05-20", "")]);
    // The trusted server's verdict carries a byte that is not UTF-8 (copied from the envelope);
    // the forger's own header, claiming a pass for the unit's domain, sits below it.
    let mut raw = format!("Authentication-Results: {TRUSTED}; spf=fail (domain of ").into_bytes();
    raw.push(0xff);
    raw.extend_from_slice(b"@evil.example) smtp.mailfrom=x@evil.example\r\n");
    raw.extend_from_slice(
        format!("Authentication-Results: {}\r\n", pass_for("jia.example")).as_bytes(),
    );
    raw.extend_from_slice(&message(
        "hr@jia.example",
        "forged-utf8@jia.example",
        None,
        &[("a.xlsx", book, XLSX)],
    ));
    inbox.deliver("1.M1.mx", &raw);
    let r = inbox.scan(store).await;
    assert_eq!((r.held, r.taken_in), (1, 0), "{:?}", r.lines);
    assert!(live_changes(store, &wang).await.is_empty());
}

/// Issue 9: a registered unit mails a 1.5 MB workbook whose shared strings expand to 1.5 GB.
/// `inbox scan` (the real binary) refuses it before reading it, in well under a second and
/// 100 MB, the unit's reply says why, and the next message is taken in as usual.
#[tokio::test(flavor = "multi_thread")]
async fn a_mailed_zip_bomb_is_refused_quickly_and_the_unit_told_why() {
    let db = common::sqlite().await;
    let store = &db.store;
    seed(store).await;
    let (wang, _, _) = people();
    let inbox = Inbox::new("maildir");
    let dir = tempfile::tempdir().unwrap();
    let bomb_path = dir.path().join("bomb.xlsx");
    bomb::write_bomb(&bomb_path);
    let bomb_bytes = std::fs::read(&bomb_path).unwrap();
    assert!(bomb_bytes.len() < 2 << 20);
    inbox.deliver(
        "1.M1.mx",
        &message(
            "hr@jia.example",
            "bomb@jia.example",
            Some(&pass_for("jia.example")),
            &[("变动情况报告表.xlsx", bomb_bytes, XLSX)],
        ),
    );
    let good = workbook(&[(wang.name, wang.id.as_str(), "调往区外", "2023-05-20", "")]);
    inbox.deliver(
        "2.M2.mx",
        &message(
            "hr@jia.example",
            "after-bomb@jia.example",
            Some(&pass_for("jia.example")),
            &[("b.xlsx", good, XLSX)],
        ),
    );
    let config = dir.path().join("chieftech.toml");
    std::fs::write(
        &config,
        std::fs::read_to_string(inbox._dir.path().join("chieftech.toml")).unwrap(),
    )
    .unwrap();
    let (code, peak_kb, elapsed, text) =
        bomb::run_measured(&db.url, &config, &["inbox", "scan"], dir.path());
    eprintln!("inbox scan: exit {code}, peak {peak_kb} KB, {elapsed:?}\n{text}");
    assert_eq!(code, 1, "refused (exit 1): {text}");
    assert!(peak_kb < 100 * 1024, "peak RSS {peak_kb} KB");
    assert!(elapsed < std::time::Duration::from_secs(1), "{elapsed:?}");
    assert_eq!(
        live_changes(store, &wang).await.len(),
        1,
        "the next message went on"
    );
    let replies = replies(store).await;
    assert_eq!(replies.len(), 2);
    let body = &replies[0].body;
    assert!(
        body.contains("解压后共") && body.contains("未读取") && body.contains("变动情况报告表"),
        "the reply says why: {body}"
    );
    let statuses: Vec<String> = item_statuses(store)
        .await
        .into_iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(statuses, ["refused", "done"]);
}
