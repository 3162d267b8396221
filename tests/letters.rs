//! Issue "Outputs a finance office signs…", part A: letters a unit's HR clerk understands
//! without calling. A small ledger (three units, one without an e-mail address), two approved
//! runs and an export; the letters' texts are read back from the outbox: a breakdown per person
//! (months as ranges with 至, kind, amount), a recovery-only unit told exactly that, recovery
//! letters with the repayment account and a contact and no minus sign, every letter signed and
//! dated `2023年12月2日`, no full ID number, the finance notice naming files without server
//! paths and attaching the summary.

mod common;

use chieftech::config::Config;
use chieftech::jobs::notices::run_notices;
use chieftech::jobs::payrun::{export_with, Actor};
use chieftech::jobs::remind::remind_range;
use chieftech::mail::MailSettings;
use chieftech::rules::id_number::make_id;
use chieftech::rules::{ChangeKind, Reporter, RulesConfig};
use chieftech::store::{ChangeEntry, RosterEntry, Source, Store, UnitEntry};
use chrono::NaiveDate;
use std::path::Path;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

const ACCOUNT: &str = "37050162680100000123";
const CONTACT: &str = "区人社局职业能力建设科 张三 0533-1234567";
const SIGNATURE: &str = "张店区人力资源和社会保障局";
const UNIT_A: &str = "淄博示例机械有限公司";
const UNIT_B: &str = "淄博示例化工有限公司";
const UNIT_C: &str = "淄博示例纺织有限公司";

/// The configuration of the test: shipped templates and the repayment keys.
fn config() -> Config {
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates");
    let text = format!(
        "[mail]\ntemplates = \"{}\"\nrepayment_name = \"{SIGNATURE}\"\nrepayment_bank = \"中国建设银行淄博张店支行\"\nrepayment_account = \"{ACCOUNT}\"\ncontact = \"{CONTACT}\"\n",
        templates.display()
    );
    Config::parse(&text, Path::new("test.toml")).unwrap()
}

struct Person {
    id: String,
    name: &'static str,
}

/// 王强 (unit A, approved 2022-10-15: his 2022 months are deferred to 2023), 张伟 (unit B,
/// approved 2021-10-15, retired 2022-09-16 reported after the 2022 run), 李娜 (unit C, which
/// has no e-mail address, approved 2021-10-15).
async fn seed(store: &Store) -> Vec<Person> {
    let people = [
        ("王强", UNIT_A, "2022-10-15"),
        ("张伟", UNIT_B, "2021-10-15"),
        ("李娜", UNIT_C, "2021-10-15"),
    ];
    let mut out = Vec::new();
    let mut entries = Vec::new();
    for (i, (name, unit, approved)) in people.iter().enumerate() {
        let id = make_id(
            "370303",
            d("1980-05-05") + chrono::Days::new(i as u64),
            1 + i as u32,
        );
        entries.push(RosterEntry {
            id_number: id.clone(),
            name: (*name).into(),
            unit: (*unit).into(),
            occupation: "钳工".into(),
            level: "高级技师".into(),
            approval_date: d(approved),
            approval_no: format!("张人社字〔2021〕{i}号"),
            bank_account: format!("622202160300000000{i}"),
            bank_name: "工商银行".into(),
            phone: String::new(),
            email: None,
            row: Some(i as u32 + 2),
        });
        out.push(Person {
            id: id.to_string(),
            name,
        });
    }
    let units = [
        (UNIT_A, Some("hr@a.example")),
        (UNIT_B, Some("hr@b.example")),
        (UNIT_C, None),
    ]
    .map(|(name, email)| UnitEntry {
        name: name.into(),
        contact: None,
        email: email.map(Into::into),
        row: None,
    });
    store
        .import_roster(&Source::operator("clerk"), &units, &entries)
        .await
        .unwrap()
        .unwrap();
    out
}

async fn approve(store: &Store, year: i32, cfg: &Config) {
    let settings = MailSettings::from_config(cfg).unwrap();
    common::approve_with_notices(store, year, &settings).await;
}

/// key → (recipients, subject, body, attachments)
async fn outbox(store: &Store) -> Vec<(String, String, String, String, String)> {
    sqlx::query_as("SELECT key, recipients, subject, body, attachments FROM outbox ORDER BY key")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

fn body_of<'a>(
    mails: &'a [(String, String, String, String, String)],
    key: &str,
) -> &'a (String, String, String, String, String) {
    mails.iter().find(|m| m.0 == key).unwrap_or_else(|| {
        panic!(
            "no mail {key}: {:?}",
            mails.iter().map(|m| &m.0).collect::<Vec<_>>()
        )
    })
}

/// A `YYYY-MM-DD` anywhere in a text.
fn has_iso_date(text: &str) -> bool {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(9)).any(|i| {
        b[i..i + 10].iter().enumerate().all(|(j, c)| {
            if j == 4 || j == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
    })
}

#[tokio::test]
async fn letters_say_what_a_unit_needs_to_know_without_calling() {
    let db = common::sqlite().await;
    let store = &db.store;
    let cfg = config();
    let people = seed(store).await;
    approve(store, 2022, &cfg).await;
    // 张伟 retired on 2022-09-16, reported after the 2022 run: the 2023 run recovers.
    let retire = ChangeEntry {
        id_number: chieftech::rules::IdNumber::parse(&people[1].id).unwrap(),
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
    approve(store, 2023, &cfg).await;
    let reports = tempfile::tempdir().unwrap();
    let exported = export_with(
        store,
        &cfg,
        Actor {
            operator: "clerk",
            today: d("2023-12-03"),
        },
        2023,
        None,
        Some(reports.path()),
    )
    .await
    .unwrap();
    assert!(exported.notice_queued);
    remind_range(
        store,
        &cfg,
        &RulesConfig::default(),
        d("2024-01-01"),
        d("2024-12-31"),
    )
    .await
    .unwrap();
    let mails = outbox(store).await;
    if std::env::var_os("CHIEFTECH_PRINT_LETTERS").is_some() {
        for (key, to, subject, body, _) in &mails {
            println!("==== {key} → {to}\nSubject: {subject}\n{body}");
        }
    }

    // Unit A: 王强's deferred 2022 months and his 2023 months, each a range with its kind.
    let (_, to, _, a, _) = body_of(&mails, &format!("run:2023:1:unit:{UNIT_A}"));
    assert_eq!(to, "hr@a.example");
    assert!(a.starts_with(&format!("{UNIT_A}：")), "{a}");
    assert!(a.contains("王强（身份证号码3703**********"), "{a}");
    assert!(
        a.contains("2022年11月至2022年12月（2个月），上年度新评选递延，1,000.00元"),
        "{a}"
    );
    assert!(
        a.contains("2023年1月至2023年12月（12个月），当年，6,000.00元"),
        "{a}"
    );
    assert!(a.contains("本人合计：银行代发"), "{a}");
    assert!(a.contains("由银行直接代发至本人账户"), "{a}");
    assert!(a.contains(CONTACT), "{a}");

    // Unit B: only a recovery. The letter says so and says nothing of a bank payment.
    let (_, to, _, b, _) = body_of(&mails, &format!("run:2023:1:unit:{UNIT_B}"));
    assert_eq!(to, "hr@b.example");
    assert!(b.contains("没有由银行代发的津贴"), "{b}");
    assert!(!b.contains("代发至本人账户"), "{b}");
    assert!(!b.contains("合计：0.00"), "{b}");
    assert!(
        b.contains("2022年9月至2022年12月（4个月），追缴，应退回1,750.00元"),
        "{b}"
    );
    assert!(b.contains("应退回1,750.00元，追缴通知另行发送"), "{b}");
    assert!(!b.contains("-1,750") && !b.contains("-250"), "{b}");

    // 张伟's recovery notice: no minus sign, the months, the account to pay back to, a contact.
    let key = format!(
        "recovery:2023:1:{}",
        chieftech::rules::id_number::person_ref(&people[1].id)
    );
    let (to, subject, r, _) = {
        let m = body_of(&mails, &key);
        (&m.1, &m.2, &m.3, &m.4)
    };
    assert_eq!(to, "hr@b.example,rsj@zhangdian.example");
    assert!(subject.starts_with("追缴通知：张伟"), "{subject}");
    assert!(
        r.contains("应退回金额：1,750.00元（人民币壹仟柒佰伍拾元整）"),
        "{r}"
    );
    assert!(r.contains("2022年9月至2022年12月"), "{r}");
    assert!(r.contains("退休（2022年9月16日生效）"), "{r}");
    assert!(r.contains(&format!("账号：{ACCOUNT}")), "{r}");
    assert!(r.contains("开户银行：中国建设银行淄博张店支行"), "{r}");
    assert!(r.contains(&format!("收款单位：{SIGNATURE}")), "{r}");
    assert!(r.contains(CONTACT), "{r}");
    assert!(!r.contains("-1,750") && !r.contains("-250"), "{r}");

    // Unit C has no address: its letters go to the bureau, greet the bureau, and ask it to
    // pass them on.
    let (_, to, _, c, _) = body_of(&mails, &format!("run:2022:1:unit:{UNIT_C}"));
    assert_eq!(to, "rsj@zhangdian.example");
    assert!(c.starts_with("区人力资源和社会保障局："), "{c}");
    assert!(c.contains(&format!("{UNIT_C}未登记电子邮箱")), "{c}");
    let nomination = mails
        .iter()
        .find(|m| m.0.starts_with("nominations:") && m.0.ends_with(UNIT_C))
        .expect("a call for nominations for unit C");
    assert!(
        nomination.3.starts_with("区人力资源和社会保障局："),
        "{}",
        nomination.3
    );
    assert!(
        nomination.3.contains(&format!("请{UNIT_C}按照")),
        "{}",
        nomination.3
    );
    let nomination_a = mails
        .iter()
        .find(|m| m.0.starts_with("nominations:") && m.0.ends_with(UNIT_A))
        .unwrap();
    assert!(nomination_a.3.starts_with(&format!("{UNIT_A}：")));
    assert!(nomination_a.3.contains("请贵单位按照"));

    // The finance office: file names, no server path; the summary attached, not the bank file.
    let (_, to, _, f, attachments) = body_of(&mails, "finance-export:2023:1");
    assert_eq!(to, "czj@zhangdian.example");
    assert!(
        f.contains("summary-2023-run1.xlsx（汇总表；见附件）"),
        "{f}"
    );
    assert!(
        f.contains("bank-2023-run1.xlsx（代发文件，送银行；未随邮件发送）"),
        "{f}"
    );
    assert!(f.contains("日由bob批准"), "{f}");
    let dir = reports.path().display().to_string();
    assert!(!f.contains(&dir) && !f.contains('/'), "a server path: {f}");
    let attached: Vec<&str> = attachments.lines().collect();
    assert_eq!(attached.len(), 1, "{attachments}");
    assert!(
        attached[0].ends_with("summary-2023-run1.xlsx"),
        "{attachments}"
    );
    assert!(Path::new(attached[0]).exists());

    // Every letter: signed and dated in Chinese, no leftover placeholder, no ISO date, no
    // "chieftech 自动提醒", no full ID or personal account number.
    assert!(mails.len() > 8, "{}", mails.len());
    for (key, _, subject, body, _) in &mails {
        let tail: Vec<&str> = body.trim_end().lines().rev().take(2).collect();
        assert_eq!(tail[1], SIGNATURE, "{key}: {body}");
        assert!(
            tail[0].ends_with('日') && tail[0].contains('年') && tail[0].contains('月'),
            "{key}: {body}"
        );
        assert!(!body.contains("chieftech 自动提醒"), "{key}: {body}");
        assert!(
            !has_iso_date(body) && !has_iso_date(subject),
            "{key}: {subject}\n{body}"
        );
        for name in [
            "{unit}",
            "{recipient}",
            "{forward_note}",
            "{signature}",
            "{contact}",
            "{you}",
        ] {
            assert!(!body.contains(name), "{key}: {body}");
        }
        for p in &people {
            assert!(!body.contains(&p.id), "{key}: full ID of {}", p.name);
            assert!(!subject.contains(&p.id));
        }
        assert!(!body.contains("6222021603"), "{key}: a personal account");
    }
}

/// The bureau's notice while terms outlive the policy: one line per person with a range.
#[tokio::test]
async fn policy_outlived_lists_one_line_per_person_with_a_range() {
    use chieftech::store::{RunPerson, RunView};
    let cfg = config();
    let settings = MailSettings::from_config(&cfg).unwrap();
    let id = make_id("370303", d("1980-05-05"), 1).to_string();
    let months: Vec<chieftech::rules::Month> = (9..=12)
        .map(|m| chieftech::rules::Month::new(2026, m).unwrap())
        .collect();
    let view = RunView {
        year: 2026,
        seq: 1,
        status: "approved".into(),
        supplementary: false,
        today: "2026-12-01".into(),
        computed_by: "alice".into(),
        computed_at: String::new(),
        approved_by: Some("bob".into()),
        approved_at: None,
        people: Vec::<RunPerson>::new(),
        uncovered: months
            .iter()
            .map(|m| (id.clone(), "王强".to_string(), *m))
            .collect(),
        offset_recoveries: true,
        settings: None,
    };
    let notices = run_notices(
        &view,
        &Default::default(),
        &Default::default(),
        &settings,
        Some(d("2026-08-31")),
        d("2026-12-02"),
    )
    .unwrap();
    assert_eq!(notices.len(), 1);
    let n = &notices[0];
    assert!(n.subject.contains("2026年8月31日"), "{}", n.subject);
    let lines: Vec<&str> = n.body.lines().filter(|l| l.contains("王强")).collect();
    assert_eq!(lines.len(), 1, "{}", n.body);
    assert!(
        lines[0].contains("2026年9月至2026年12月，共4个月"),
        "{}",
        n.body
    );
    assert!(!n.body.contains(&id));
    assert!(
        n.body
            .trim_end()
            .ends_with("张店区人力资源和社会保障局\n2026年12月2日"),
        "{}",
        n.body
    );
}
