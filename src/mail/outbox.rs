//! The transactional outbox: [`queue`] inside the transaction of the event that causes a
//! notice (a unique key makes queuing twice a no-op); [`send_due`] delivers what is due,
//! marks what was delivered, retries failures with doubling delays and parks a message that
//! keeps failing. Each message carries a Message-ID derived from its key, so the one
//! unavoidable duplicate (a crash after the server accepted and before the outbox recorded)
//! has the same Message-ID.
//!
//! Claims: before delivering a message a sender claims it with a random token, and the claim
//! lasts `[mail] claim_seconds` from the moment it is taken (not from the batch's start), so a
//! long batch never leaves a message it is still sending open to another sender. Only the
//! holder of a live claim records the outcome (sent, retry, parked): every such `UPDATE` names
//! the token, and a sender whose claim was taken over reports it instead of overwriting.
//! A delivery ends within `send_timeout_seconds`, which is shorter than the claim.
//!
//! Without an SMTP server each message is written as `<kind>-<32 hex of its Message-ID>.eml`
//! (mode 0600, in a folder of mode 0700), so no two messages share a file and no file name
//! holds a key's text beyond its kind. No log line, error or [`SendReport`] entry holds a full
//! ID number: every text goes through [`mask_text`].

use super::settings::{MailSettings, Security};
use crate::store::{sha256_hex, Store};
use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::Row;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// A failure of the outbox itself (not of one message's delivery). Its texts are masked.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("database error: {}", mask_text(&.0.to_string()))]
    Database(#[from] sqlx::Error),
    #[error("SMTP configuration: {}", mask_text(.0))]
    Smtp(String),
    #[error("cannot write to the outbox folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Settings(#[from] super::settings::SettingsError),
}

/// What one `outbox send` did. Keys and errors are masked ([`mask_text`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendReport {
    pub sent: Vec<String>,
    /// (key, error) of deliveries that failed and will be retried.
    pub retrying: Vec<(String, String)>,
    /// (key, error) of messages parked after too many failures (or a permanent error).
    pub parked: Vec<(String, String)>,
    /// Messages still queued but not yet due for a retry (or claimed by another sender).
    pub waiting: usize,
    /// (key, what this sender did) of messages whose claim lapsed and was taken by another
    /// sender before this one could record the outcome; the other sender's record stands.
    pub lost_claims: Vec<(String, String)>,
}

/// Masks every run of 15 or more ID-number characters (digits, then digits or X) in a text,
/// as [`crate::rules::id_number::mask`] masks one number: `3703**********0011`. Bank account
/// numbers of that length are masked too.
pub fn mask_text(text: &str) -> String {
    crate::rules::id_number::mask_numbers(text)
}

/// The stable Message-ID of a key.
pub fn message_id(key: &str) -> String {
    format!("<{}@chieftech.zhangdian>", message_hash(key))
}

/// The 32 hex digits of a key's Message-ID.
fn message_hash(key: &str) -> String {
    sha256_hex(key.as_bytes())[..32].to_string()
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

/// TLS parameters for `host`: the public roots, plus the private CA of `[mail] ca_file`.
fn tls_parameters(host: &str, settings: &MailSettings) -> Result<TlsParameters, OutboxError> {
    let mut b = TlsParameters::builder(host.to_string());
    if let Some(path) = &settings.ca_file {
        let ca = |m: String| OutboxError::Smtp(format!("CA file {}: {m}", path.display()));
        let pem = std::fs::read(path).map_err(|e| ca(e.to_string()))?;
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(ca(
                "no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into()
            ));
        }
        let cert = Certificate::from_pem(&pem).map_err(|e| ca(e.to_string()))?;
        b = b.add_root_certificate(cert);
    }
    b.build_rustls()
        .map_err(|e| OutboxError::Smtp(format!("TLS for {host}: {e}")))
}

fn transport(settings: &MailSettings) -> Result<Transport, OutboxError> {
    let Some(host) = settings.smtp_host.clone() else {
        return Ok(Transport::Files(settings.outbox_dir.clone()));
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host);
    b = match settings.smtp_security {
        Security::None => b,
        Security::Starttls => b
            .port(587)
            .tls(Tls::Required(tls_parameters(&host, settings)?)),
        Security::Tls => b
            .port(465)
            .tls(Tls::Wrapper(tls_parameters(&host, settings)?)),
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
    b = b.timeout(Some(Duration::from_secs(settings.command_timeout_seconds)));
    Ok(Transport::Smtp(Box::new(b.build())))
}

/// The .eml file name of a key: `<kind>-<32 hex of its Message-ID>.eml`, the kind being the
/// ASCII letters, `-` and `_` of the key before its first `:` (`run`, `recovery`,
/// `finance-export`; `mail` when none). Two keys never share a name, and a name holds no
/// number and no unit's or person's name from the key.
pub fn eml_name(key: &str) -> String {
    let kind: String = key
        .split(':')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphabetic() || *c == '-' || *c == '_')
        .take(40)
        .collect();
    let kind = kind.trim_matches(|c| c == '-' || c == '_');
    let kind = if kind.is_empty() { "mail" } else { kind };
    format!("{kind}-{}.eml", message_hash(key))
}

/// Creates the outbox folder (its parents as usual), and makes it private (0700).
fn prepare_folder(dir: &Path) -> std::io::Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        if std::fs::metadata(dir)?.permissions().mode() & 0o777 != 0o700 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)?;
    Ok(())
}

/// Writes a message file (0600) under a temporary name of its own, syncs it, renames it into
/// place and syncs the folder: the file is whole and durable before the row is marked sent.
fn write_eml(dir: &Path, key: &str, bytes: &[u8], token: &str) -> std::io::Result<()> {
    use std::io::Write;
    prepare_folder(dir)?;
    let name = eml_name(key);
    let path = dir.join(&name);
    let tmp = dir.join(format!(".{name}.{token}.tmp"));
    let written = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// A fresh claim token.
fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An SMTP error as a clerk can act on it; a certificate the client does not trust says so.
fn describe(e: &lettre::transport::smtp::Error) -> String {
    // lettre names the kind twice when a connection error wraps another: say it once.
    let text = e
        .to_string()
        .replace("Connection error: Connection error: ", "Connection error: ");
    if text.to_ascii_lowercase().contains("certificate") {
        format!(
            "{text} (the server's TLS certificate is not trusted: set [mail] ca_file to the CA that signed it, or fix the server's certificate)"
        )
    } else {
        text
    }
}

/// Delivers one built message: an .eml file, or SMTP within `send_timeout_seconds`.
/// Err carries the error text and whether it is permanent.
async fn deliver(
    transport: &Transport,
    settings: &MailSettings,
    key: &str,
    msg: Message,
    token: &str,
) -> Result<(), (String, bool)> {
    match transport {
        Transport::Files(dir) => write_eml(dir, key, &msg.formatted(), token)
            .map_err(|e| (format!("outbox folder {}: {e}", dir.display()), false)),
        Transport::Smtp(t) => {
            let limit = settings.send_timeout_seconds;
            match tokio::time::timeout(Duration::from_secs(limit), t.send(msg)).await {
                Err(_) => Err((
                    format!("the mail server did not answer within {limit} s (send_timeout_seconds); will retry with the same Message-ID"),
                    false,
                )),
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err((describe(&e), e.is_permanent())),
            }
        }
    }
}

/// Delivers every queued message whose next attempt is due. `now` is the batch's start; as
/// the batch goes on, the real time elapsed since is added to it, so each claim is taken and
/// timed at the moment it is made.
pub async fn send_due(
    store: &Store,
    settings: &MailSettings,
    now: DateTime<Utc>,
) -> Result<SendReport, OutboxError> {
    settings.validate()?;
    let transport = transport(settings)?;
    let started = Instant::now();
    let clock = || now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
    let claim = chrono::Duration::seconds(settings.claim_seconds.min(365 * 86_400) as i64);
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM outbox WHERE status = 'queued' ORDER BY id")
            .fetch_all(store.pool())
            .await?;
    let mut report = SendReport::default();
    for id in ids {
        // Claim the message before sending it: a concurrent sender (the daemon's outbox job
        // and `outbox send`) then sees it as not due until the claim lapses, so it is never
        // sent by both. A sender that dies after claiming leaves it to be retried then.
        let token = new_token();
        let claimed_at = clock();
        if !take_claim(store, id, &token, claimed_at, claim).await? {
            report.waiting += 1;
            continue;
        }
        let Some(row) = ClaimedRow::load(store, id, &token).await? else {
            report.waiting += 1;
            continue;
        };
        let outcome = match row.build(settings) {
            Err(e) => Err((e, true)),
            Ok(msg) => deliver(&transport, settings, &row.key, msg, &token).await,
        };
        let held = Held {
            store,
            id,
            token: &token,
            attempts: row.attempts,
            shown: mask_text(&row.key),
        };
        // Record the outcome under this sender's claim; when the claim was lost, `what` says
        // what this sender did.
        let Some(what) = record_outcome(&held, settings, &clock, outcome, &mut report).await?
        else {
            continue;
        };
        let shown = held.shown;
        tracing::warn!(
            key = %shown,
            outcome = %what,
            claim_seconds = settings.claim_seconds,
            "outbox claim lapsed and was taken by another sender before the outcome was recorded; the other sender's record stands"
        );
        report.lost_claims.push((shown, what));
    }
    Ok(report)
}

/// Claims a queued message that is due at `claimed_at` for `claim`, under `token`; false when
/// it is not due or another sender claimed it.
async fn take_claim(
    store: &Store,
    id: i64,
    token: &str,
    claimed_at: DateTime<Utc>,
    claim: chrono::Duration,
) -> Result<bool, OutboxError> {
    let claimed = sqlx::query("UPDATE outbox SET next_attempt_at = $1, claim_token = $2 WHERE id = $3 AND status = 'queued' AND next_attempt_at <= $4")
        .bind(rfc3339(claimed_at + claim))
        .bind(token)
        .bind(id)
        .bind(rfc3339(claimed_at))
        .execute(store.pool())
        .await?;
    Ok(claimed.rows_affected() == 1)
}

/// An outbox row read under this sender's claim.
struct ClaimedRow {
    key: String,
    /// This attempt's number (1 for the first).
    attempts: i64,
    message_id: String,
    recipients: String,
    subject: String,
    body: String,
    attachments: Vec<PathBuf>,
}

impl ClaimedRow {
    /// The row of message `id` if `token` still holds its claim.
    async fn load(store: &Store, id: i64, token: &str) -> Result<Option<ClaimedRow>, OutboxError> {
        let Some(r) = sqlx::query("SELECT key, message_id, recipients, subject, body, attachments, attempts FROM outbox WHERE id = $1 AND claim_token = $2")
            .bind(id)
            .bind(token)
            .fetch_optional(store.pool())
            .await?
        else {
            return Ok(None);
        };
        let key: String = r.try_get(0)?;
        let attempts: i64 = r.try_get::<i64, _>(6)? + 1;
        let attachments: Vec<PathBuf> = r
            .try_get::<String, _>(5)?
            .lines()
            .filter(|l| !l.is_empty())
            .map(PathBuf::from)
            .collect();
        Ok(Some(ClaimedRow {
            key,
            attempts,
            message_id: r.try_get(1)?,
            recipients: r.try_get(2)?,
            subject: r.try_get(3)?,
            body: r.try_get(4)?,
            attachments,
        }))
    }

    /// The MIME message of the row ([`build_message`]).
    fn build(&self, settings: &MailSettings) -> Result<Message, String> {
        build_message(
            settings,
            &self.message_id,
            &self.recipients,
            &self.subject,
            &self.body,
            &self.attachments,
        )
    }
}

/// A message this sender claimed: every outcome is recorded only while `token` holds it.
struct Held<'a> {
    store: &'a Store,
    id: i64,
    token: &'a str,
    attempts: i64,
    /// Its key, masked ([`mask_text`]).
    shown: String,
}

impl Held<'_> {
    /// Marks the message sent; false when the claim was lost.
    async fn record_sent(&self) -> Result<bool, OutboxError> {
        let done = sqlx::query("UPDATE outbox SET status = 'sent', attempts = $1, sent_at = $2, last_error = NULL, claim_token = NULL WHERE id = $3 AND claim_token = $4")
            .bind(self.attempts)
            .bind(rfc3339(Utc::now()))
            .bind(self.id)
            .bind(self.token)
            .execute(self.store.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Parks the message with its (masked) error; false when the claim was lost.
    async fn record_parked(&self, error: &str) -> Result<bool, OutboxError> {
        let done = sqlx::query("UPDATE outbox SET status = 'parked', attempts = $1, last_error = $2, claim_token = NULL WHERE id = $3 AND claim_token = $4")
            .bind(self.attempts)
            .bind(error)
            .bind(self.id)
            .bind(self.token)
            .execute(self.store.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Schedules the next attempt at `next` with the (masked) error; false when the claim was
    /// lost.
    async fn record_retry(&self, error: &str, next: DateTime<Utc>) -> Result<bool, OutboxError> {
        let done = sqlx::query("UPDATE outbox SET attempts = $1, last_error = $2, next_attempt_at = $3, claim_token = NULL WHERE id = $4 AND claim_token = $5")
            .bind(self.attempts)
            .bind(error)
            .bind(rfc3339(next))
            .bind(self.id)
            .bind(self.token)
            .execute(self.store.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Records the outcome of a delivery: sent; or parked when the error is permanent or the
/// attempts are used up; else retried after a doubling delay. None when recorded (and
/// reported); else what this sender did, its claim lost.
async fn record_outcome(
    held: &Held<'_>,
    settings: &MailSettings,
    clock: &impl Fn() -> DateTime<Utc>,
    outcome: Result<(), (String, bool)>,
    report: &mut SendReport,
) -> Result<Option<String>, OutboxError> {
    let shown = &held.shown;
    let (error, permanent) = match outcome {
        Ok(()) => {
            if held.record_sent().await? {
                tracing::debug!(key = %shown, "mail delivered");
                report.sent.push(shown.clone());
                return Ok(None);
            }
            return Ok(Some("delivered".to_string()));
        }
        Err(e) => e,
    };
    let error = mask_text(&error);
    let attempts = held.attempts;
    if permanent || attempts >= i64::from(settings.max_attempts) {
        if held.record_parked(&error).await? {
            tracing::warn!(key = %shown, error = %error, "mail parked");
            report.parked.push((shown.clone(), error));
            return Ok(None);
        }
        return Ok(Some(format!("failed for good: {error}")));
    }
    let delay = settings
        .retry_seconds
        .saturating_mul(1 << (attempts - 1).min(20));
    let next = clock() + chrono::Duration::seconds(delay.min(7 * 86_400) as i64);
    if held.record_retry(&error, next).await? {
        tracing::warn!(key = %shown, error = %error, attempts, "mail delivery failed; will retry");
        report.retrying.push((shown.clone(), error));
        return Ok(None);
    }
    Ok(Some(format!("failed: {error}")))
}

/// Puts parked messages back in the queue (after the cause was fixed).
pub async fn requeue_parked(store: &Store) -> Result<u64, OutboxError> {
    let r = sqlx::query("UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = '1970-01-01T00:00:00.000Z', claim_token = NULL WHERE status = 'parked'")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_text_masks_every_id_number_and_nothing_else() {
        let t = "recovery:2023:1:370303198005050011 and 37030319800506002X, run 2024, acct 6222021603000000001";
        let m = mask_text(t);
        assert_eq!(
            m,
            "recovery:2023:1:3703**********0011 and 3703**********002X, run 2024, acct 6222***********0001"
        );
        assert_eq!(
            mask_text("第01号机械制造有限公司 2024-01-01"),
            "第01号机械制造有限公司 2024-01-01"
        );
    }

    #[test]
    fn eml_names_are_distinct_and_hold_only_the_kind_and_a_hash() {
        let a = eml_name("run:2024:1:unit:第01号机械制造有限公司");
        let b = eml_name("run:2024:1:unit:第02号机械制造有限公司");
        assert_ne!(a, b);
        assert!(a.starts_with("run-") && a.ends_with(".eml"), "{a}");
        assert_eq!(a.len(), "run-".len() + 32 + ".eml".len());
        assert!(message_id("run:2024:1:unit:第01号机械制造有限公司").contains(&a[4..36]));
        let r = eml_name("recovery:2023:1:370303198005050011");
        assert!(r.starts_with("recovery-"), "{r}");
        assert!(!r.contains("370303"), "{r}");
        assert!(eml_name("finance-export:2022:1").starts_with("finance-export-"));
        assert!(eml_name("370303198005050011:x").starts_with("mail-"));
        assert!(eml_name("").starts_with("mail-"));
    }
}
