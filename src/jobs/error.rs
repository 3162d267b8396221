//! The one error type of the use cases ([`JobError`]), with the class of exit status the
//! command line maps it to: the input or operation was refused (1), a usage or configuration
//! error (2), or a failure outside the input — database, mail server, disk (3).

use crate::store::StoreError;

/// What kind of failure, for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The input or the operation was refused, wholly or in part (exit status 1).
    Refused,
    /// A usage or configuration error (exit status 2).
    Usage,
    /// A failure outside the input: database, mail server, disk (exit status 3).
    Outside,
}

impl Class {
    /// The exit status of `docs/contract.md`.
    pub fn exit_code(self) -> u8 {
        match self {
            Class::Refused => 1,
            Class::Usage => 2,
            Class::Outside => 3,
        }
    }

    fn of_code(code: i64) -> Class {
        match code {
            1 => Class::Refused,
            2 => Class::Usage,
            _ => Class::Outside,
        }
    }
}

/// A use case's failure: the error and its class.
#[derive(Debug)]
pub struct JobError {
    pub class: Class,
    pub error: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for JobError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

impl JobError {
    pub fn new(class: Class, error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        JobError {
            class,
            error: error.into(),
        }
    }

    /// A refusal (exit status 1) with a message.
    pub fn refused(message: impl Into<String>) -> Self {
        JobError::new(Class::Refused, message.into())
    }

    /// A usage or configuration error (exit status 2) with a message.
    pub fn usage(message: impl Into<String>) -> Self {
        JobError::new(Class::Usage, message.into())
    }

    /// A failure outside the input (exit status 3) with a message.
    pub fn outside(message: impl Into<String>) -> Self {
        JobError::new(Class::Outside, message.into())
    }

    /// The exit status.
    pub fn exit_code(&self) -> u8 {
        self.class.exit_code()
    }
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        let class = match &e {
            StoreError::Refused(_) => Class::Refused,
            StoreError::Usage(_) | StoreError::Url(_) | StoreError::NoDatabase(_) => Class::Usage,
            _ => Class::Outside,
        };
        JobError::new(class, e)
    }
}

impl From<crate::jobs::export::ExportError> for JobError {
    fn from(e: crate::jobs::export::ExportError) -> Self {
        JobError::new(Class::of_code(i64::from(e.exit_code())), e)
    }
}

impl From<crate::jobs::notices::QueueError> for JobError {
    fn from(e: crate::jobs::notices::QueueError) -> Self {
        JobError::new(Class::of_code(i64::from(e.exit_code())), e)
    }
}

impl From<crate::mail::settings::SettingsError> for JobError {
    fn from(e: crate::mail::settings::SettingsError) -> Self {
        JobError::new(Class::Usage, e)
    }
}

impl From<crate::mail::OutboxError> for JobError {
    fn from(e: crate::mail::OutboxError) -> Self {
        JobError::new(Class::Outside, e)
    }
}

impl From<crate::jobs::remind::RemindError> for JobError {
    fn from(e: crate::jobs::remind::RemindError) -> Self {
        JobError::new(Class::Outside, e)
    }
}

impl From<crate::jobs::import::ImportError> for JobError {
    fn from(e: crate::jobs::import::ImportError) -> Self {
        JobError::new(Class::Outside, e)
    }
}

impl From<crate::inbox::InboxError> for JobError {
    fn from(e: crate::inbox::InboxError) -> Self {
        use crate::inbox::InboxError as I;
        let class = match &e {
            I::Config(_) | I::Settings(_) | I::NotHeld(_) => Class::Usage,
            _ => Class::Outside,
        };
        JobError::new(class, e)
    }
}

impl From<crate::jobs::daemon::DaemonError> for JobError {
    fn from(e: crate::jobs::daemon::DaemonError) -> Self {
        use crate::jobs::daemon::DaemonError as D;
        let class = match &e {
            D::Settings(_)
            | D::Schedule(_)
            | D::UnknownJob(_)
            | D::AlreadyRunning(_)
            | D::Usage(_) => Class::Usage,
            _ => Class::Outside,
        };
        JobError::new(class, e)
    }
}
