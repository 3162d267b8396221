//! TLS to a real SMTP server on loopback (aiosmtpd, `tests/support/smtp_server.py`) with a
//! private CA made by the openssl CLI: STARTTLS and TLS from the first byte deliver when
//! `[mail] ca_file` names the CA; a certificate the client does not trust is refused with an
//! error that says so, and the message stays queued until the right CA is configured.

mod common;
#[path = "support/smtp.rs"]
mod smtp;

use chieftech::mail::outbox::{message_id, send_due};
use chieftech::mail::{MailSettings, Notice, Security};
use chieftech::store::Store;
use chrono::Utc;
use mail_parser::MessageParser;
use smtp::{make_pki, Mode, Server};
use std::path::PathBuf;

fn settings(host: &str, port: u16, security: Security, ca_file: Option<PathBuf>) -> MailSettings {
    MailSettings {
        smtp_host: Some(host.into()),
        smtp_port: Some(port),
        smtp_security: security,
        ca_file,
        command_timeout_seconds: 10,
        send_timeout_seconds: 20,
        ..MailSettings::default()
    }
}

async fn queue_one(store: &Store, key: &str) {
    let mut conn = store.pool().acquire().await.unwrap();
    let n = Notice {
        key: key.into(),
        to: vec!["hr@unit.example".into()],
        subject: "2024年度首席技师津贴发放通知".into(),
        body: "贵单位的技师津贴已发放。".into(),
        attachments: vec![],
    };
    assert!(chieftech::mail::queue(&mut conn, &n).await.unwrap());
}

async fn row(store: &Store) -> (String, i64, Option<String>) {
    let r: (String, i64, Option<String>) =
        sqlx::query_as("SELECT status, attempts, last_error FROM outbox")
            .fetch_one(store.pool())
            .await
            .unwrap();
    r
}

fn message_ids(server: &Server) -> Vec<String> {
    server
        .messages()
        .iter()
        .map(|m| {
            let m = MessageParser::default().parse(m).unwrap();
            assert_eq!(m.subject(), Some("2024年度首席技师津贴发放通知"));
            format!("<{}>", m.message_id().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn starttls_with_the_private_ca_delivers() {
    let db = common::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let Some(pki) = make_pki(&dir.path().join("pki")) else {
        return;
    };
    let Some(server) = Server::start(&dir.path().join("maildir"), Mode::Starttls, Some(&pki), 0.0)
    else {
        return;
    };
    queue_one(&db.store, "run:2024:1:unit:starttls").await;
    let s = settings(
        "localhost",
        server.port,
        Security::Starttls,
        Some(pki.ca.clone()),
    );
    let r = send_due(&db.store, &s, Utc::now()).await.unwrap();
    assert_eq!(r.sent.len(), 1, "{r:?}");
    assert_eq!(
        message_ids(&server),
        vec![message_id("run:2024:1:unit:starttls")]
    );
    assert_eq!(row(&db.store).await, ("sent".into(), 1, None));
}

#[tokio::test]
async fn tls_from_the_first_byte_with_the_private_ca_delivers() {
    let db = common::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let Some(pki) = make_pki(&dir.path().join("pki")) else {
        return;
    };
    let Some(server) = Server::start(&dir.path().join("maildir"), Mode::Tls, Some(&pki), 0.0)
    else {
        return;
    };
    queue_one(&db.store, "run:2024:1:unit:smtps").await;
    // By address: the certificate names 127.0.0.1 too.
    let s = settings(
        "127.0.0.1",
        server.port,
        Security::Tls,
        Some(pki.ca.clone()),
    );
    let r = send_due(&db.store, &s, Utc::now()).await.unwrap();
    assert_eq!(r.sent.len(), 1, "{r:?}");
    assert_eq!(
        message_ids(&server),
        vec![message_id("run:2024:1:unit:smtps")]
    );
    assert_eq!(row(&db.store).await, ("sent".into(), 1, None));
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_and_the_message_stays_queued() {
    for db in common::backends().await {
        let store = &db.store;
        let dir = tempfile::tempdir().unwrap();
        let Some(pki) = make_pki(&dir.path().join("pki")) else {
            return;
        };
        let Some(server) =
            Server::start(&dir.path().join("maildir"), Mode::Starttls, Some(&pki), 0.0)
        else {
            return;
        };
        queue_one(store, "run:2024:1:unit:untrusted").await;
        // No ca_file: the public roots do not know the private CA.
        let s = settings("localhost", server.port, Security::Starttls, None);
        let r = send_due(store, &s, Utc::now()).await.unwrap();
        assert!(r.sent.is_empty(), "{r:?}");
        assert_eq!(r.retrying.len(), 1, "{r:?}");
        let error = &r.retrying[0].1;
        eprintln!("refused as expected: {error}");
        assert!(error.contains("certificate"), "{error}");
        assert!(error.contains("ca_file"), "{error}");
        let (status, attempts, last_error) = row(store).await;
        assert_eq!((status.as_str(), attempts), ("queued", 1));
        assert!(last_error.unwrap().contains("certificate"));
        // A CA file of another CA: refused too.
        let later = Utc::now() + chrono::Duration::hours(1);
        let s = settings(
            "localhost",
            server.port,
            Security::Starttls,
            Some(pki.other_ca.clone()),
        );
        let r = send_due(store, &s, later).await.unwrap();
        assert_eq!(r.retrying.len(), 1, "{r:?}");
        assert!(r.retrying[0].1.contains("certificate"), "{r:?}");
        let (status, attempts, _) = row(store).await;
        assert_eq!((status.as_str(), attempts), ("queued", 2));
        assert!(server.messages().is_empty(), "nothing crossed the wire");
        // The right CA: delivered once, with the same Message-ID.
        let s = settings(
            "localhost",
            server.port,
            Security::Starttls,
            Some(pki.ca.clone()),
        );
        let r = send_due(store, &s, later + chrono::Duration::hours(5))
            .await
            .unwrap();
        assert_eq!(r.sent.len(), 1, "{r:?}");
        assert_eq!(
            message_ids(&server),
            vec![message_id("run:2024:1:unit:untrusted")]
        );
        assert_eq!(row(store).await, ("sent".into(), 3, None));
    }
}

#[tokio::test]
async fn a_ca_file_that_holds_no_certificate_is_a_configuration_error() {
    let db = common::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("ca.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    queue_one(&db.store, "run:2024:1:unit:badca").await;
    let s = settings("localhost", 1, Security::Starttls, Some(bad));
    let e = send_due(&db.store, &s, Utc::now()).await.unwrap_err();
    assert!(e.to_string().contains("CA file"), "{e}");
    assert_eq!(row(&db.store).await, ("queued".into(), 0, None));
}
