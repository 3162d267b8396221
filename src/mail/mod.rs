//! E-mail: notices queued in a transactional outbox and delivered with lettre.
//!
//! - [`settings`]: the `[mail]` and `[reminders]` configuration tables;
//! - [`templates`]: notice texts kept in `config/templates/` so the bureau can reword them;
//! - [`outbox`]: queuing (idempotent by key) and delivery (SMTP or .eml files) with retries.

pub mod outbox;
pub mod settings;
pub mod templates;

pub use outbox::{queue, Notice, OutboxError, SendReport};
pub use settings::{MailSettings, Security};
