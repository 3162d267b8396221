//! The transactional outbox: [`queue`] inside the transaction of the event that causes a
//! notice (a unique key makes queuing twice a no-op); [`send_due`] delivers what is due,
//! marks what was delivered, retries failures with doubling delays and parks a message that
//! keeps failing. Each message carries a Message-ID derived from its key, so the one
//! unavoidable duplicate (a crash after the server accepted and before the outbox recorded)
//! has the same Message-ID.

use super::settings::{MailSettings, Security};
use crate::store::{sha256_hex, Store};
use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::Row;
use std::path::{Path, PathBuf};

/// A notice to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Unique key, e.g. `term-expiry:12:30d:unit:3`.
    pub key: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    pub attachments: Vec<PathBuf>,
}

/// A failure of the outbox itself (not of one message's delivery).
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("SMTP configuration: {0}")]
    Smtp(String),
    #[error("cannot write to the outbox folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
}

/// What one `outbox send` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendReport {
    pub sent: Vec<String>,
    /// (key, error) of deliveries that failed and will be retried.
    pub retrying: Vec<(String, String)>,
    /// (key, error) of messages parked after too many failures (or a permanent error).
    pub parked: Vec<(String, String)>,
    /// Messages still queued but not yet due for a retry.
    pub waiting: usize,
}

/// How long a sender's claim on a message lasts (its delivery must end before).
const CLAIM_SECONDS: i64 = 600;

/// The stable Message-ID of a key.
pub fn message_id(key: &str) -> String {
    format!(
        "<{}@chieftech.zhangdian>",
        &sha256_hex(key.as_bytes())[..32]
    )
}

/// Queues a notice in the caller's transaction; false when its key was queued before.
pub async fn queue(conn: &mut sqlx::AnyConnection, n: &Notice) -> Result<bool, sqlx::Error> {
    let attachments: Vec<String> = n
        .attachments
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let r = sqlx::query("INSERT INTO outbox (key, message_id, recipients, subject, body, attachments, status, attempts, next_attempt_at, queued_at) VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $7, $8) ON CONFLICT (key) DO NOTHING")
        .bind(&n.key)
        .bind(message_id(&n.key))
        .bind(n.to.join(","))
        .bind(&n.subject)
        .bind(&n.body)
        .bind(attachments.join("\n"))
        .bind("1970-01-01T00:00:00.000Z")
        .bind(now)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Builds the MIME message of an outbox row.
pub fn build_message(
    settings: &MailSettings,
    message_id: &str,
    recipients: &str,
    subject: &str,
    body: &str,
    attachments: &[PathBuf],
) -> Result<Message, String> {
    let from: Mailbox = settings
        .from
        .parse()
        .map_err(|e| format!("sender `{}`: {e}", settings.from))?;
    let mut b = Message::builder()
        .from(from)
        .message_id(Some(message_id.to_string()))
        .subject(subject);
    let mut any = false;
    for r in recipients
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        let to: Mailbox = r.parse().map_err(|e| format!("recipient `{r}`: {e}"))?;
        b = b.to(to);
        any = true;
    }
    if !any {
        return Err("no recipient".into());
    }
    if attachments.is_empty() {
        return b
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| e.to_string());
    }
    let mut mp = MultiPart::mixed().singlepart(SinglePart::plain(body.to_string()));
    for path in attachments {
        let bytes =
            std::fs::read(path).map_err(|e| format!("attachment {}: {e}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "attachment".into());
        let ct =
            ContentType::parse("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
                .expect("content type");
        mp = mp.singlepart(Attachment::new(name).body(bytes, ct));
    }
    b.multipart(mp).map_err(|e| e.to_string())
}

enum Transport {
    Smtp(Box<AsyncSmtpTransport<Tokio1Executor>>),
    Files(PathBuf),
}

fn transport(settings: &MailSettings) -> Result<Transport, OutboxError> {
    let Some(host) = settings.smtp_host.clone() else {
        return Ok(Transport::Files(settings.outbox_dir.clone()));
    };
    let smtp = |e: lettre::transport::smtp::Error| OutboxError::Smtp(e.to_string());
    let mut b = match settings.smtp_security {
        Security::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host),
        Security::Starttls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host).map_err(smtp)?
        }
        Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&host).map_err(smtp)?,
    };
    if let Some(port) = settings.smtp_port {
        b = b.port(port);
    }
    if let Some(user) = &settings.smtp_username {
        b = b.credentials(Credentials::new(
            user.clone(),
            MailSettings::smtp_password().unwrap_or_default(),
        ));
    }
    b = b.timeout(Some(std::time::Duration::from_secs(20)));
    Ok(Transport::Smtp(Box::new(b.build())))
}

/// The .eml file name of a key.
pub fn eml_name(key: &str) -> String {
    let safe: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.eml")
}

fn write_eml(dir: &Path, key: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(eml_name(key));
    let tmp = dir.join(format!(".{}.tmp", eml_name(key)));
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(tmp, path)
}

/// Delivers every queued message whose next attempt is due at `now`.
pub async fn send_due(
    store: &Store,
    settings: &MailSettings,
    now: DateTime<Utc>,
) -> Result<SendReport, OutboxError> {
    let transport = transport(settings)?;
    let now_text = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let rows = sqlx::query("SELECT id, key, message_id, recipients, subject, body, attachments, attempts FROM outbox WHERE status = 'queued' ORDER BY id")
        .fetch_all(store.pool())
        .await?;
    let mut report = SendReport::default();
    for r in rows {
        let id: i64 = r.try_get(0)?;
        let key: String = r.try_get(1)?;
        let attempts: i64 = r.try_get(7)?;
        // Claim the message before sending it: a concurrent sender (the daemon's outbox job and
        // `outbox send`) then sees it as not due, so it is never sent by both. A sender that dies
        // after claiming leaves it to be retried when the claim lapses.
        let claim_until = (now + chrono::Duration::seconds(CLAIM_SECONDS))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let claimed = sqlx::query("UPDATE outbox SET next_attempt_at = $1 WHERE id = $2 AND status = 'queued' AND next_attempt_at <= $3")
            .bind(&claim_until)
            .bind(id)
            .bind(&now_text)
            .execute(store.pool())
            .await?;
        if claimed.rows_affected() != 1 {
            report.waiting += 1;
            continue;
        }
        let attachments: Vec<PathBuf> = r
            .try_get::<String, _>(6)?
            .lines()
            .filter(|l| !l.is_empty())
            .map(PathBuf::from)
            .collect();
        let built = build_message(
            settings,
            &r.try_get::<String, _>(2)?,
            &r.try_get::<String, _>(3)?,
            &r.try_get::<String, _>(4)?,
            &r.try_get::<String, _>(5)?,
            &attachments,
        );
        let outcome: Result<(), (String, bool)> = match built {
            Err(e) => Err((e, true)),
            Ok(msg) => match &transport {
                Transport::Files(dir) => write_eml(dir, &key, &msg.formatted())
                    .map_err(|e| (format!("outbox folder {}: {e}", dir.display()), false)),
                Transport::Smtp(t) => match t.send(msg).await {
                    Ok(_) => Ok(()),
                    Err(e) => Err((e.to_string(), e.is_permanent())),
                },
            },
        };
        match outcome {
            Ok(()) => {
                sqlx::query("UPDATE outbox SET status = 'sent', attempts = $1, sent_at = $2, last_error = NULL WHERE id = $3")
                    .bind(attempts + 1)
                    .bind(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                    .bind(id)
                    .execute(store.pool())
                    .await?;
                tracing::debug!(key = %key, "mail delivered");
                report.sent.push(key);
            }
            Err((error, permanent)) => {
                let attempts = attempts + 1;
                if permanent || attempts >= i64::from(settings.max_attempts) {
                    sqlx::query("UPDATE outbox SET status = 'parked', attempts = $1, last_error = $2 WHERE id = $3")
                        .bind(attempts)
                        .bind(&error)
                        .bind(id)
                        .execute(store.pool())
                        .await?;
                    tracing::warn!(key = %key, error = %error, "mail parked");
                    report.parked.push((key, error));
                } else {
                    let delay = settings
                        .retry_seconds
                        .saturating_mul(1 << (attempts - 1).min(20));
                    let next = now + chrono::Duration::seconds(delay.min(7 * 86_400) as i64);
                    sqlx::query("UPDATE outbox SET attempts = $1, last_error = $2, next_attempt_at = $3 WHERE id = $4")
                        .bind(attempts)
                        .bind(&error)
                        .bind(next.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                        .bind(id)
                        .execute(store.pool())
                        .await?;
                    tracing::warn!(key = %key, error = %error, attempts, "mail delivery failed; will retry");
                    report.retrying.push((key, error));
                }
            }
        }
    }
    Ok(report)
}

/// Puts parked messages back in the queue (after the cause was fixed).
pub async fn requeue_parked(store: &Store) -> Result<u64, OutboxError> {
    let r = sqlx::query("UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = '1970-01-01T00:00:00.000Z' WHERE status = 'parked'")
        .execute(store.pool())
        .await?;
    Ok(r.rows_affected())
}

/// Counts by status: (queued, sent, parked).
pub async fn counts(store: &Store) -> Result<(i64, i64, i64), OutboxError> {
    let mut c = (0, 0, 0);
    for r in sqlx::query("SELECT status, CAST(COUNT(*) AS BIGINT) FROM outbox GROUP BY status")
        .fetch_all(store.pool())
        .await?
    {
        let n: i64 = r.try_get(1)?;
        match r.try_get::<String, _>(0)?.as_str() {
            "queued" => c.0 = n,
            "sent" => c.1 = n,
            _ => c.2 = n,
        }
    }
    Ok(c)
}
