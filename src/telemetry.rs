//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default `warn,chieftech=info`; the
//! CLI's `-v` raises it). ID and bank numbers are masked by the code that logs them
//! (`rules::id_number::mask`), and every line passes through
//! [`crate::rules::id_number::mask_numbers`] on its way out as a last guard: no log line holds a
//! full ID or account number, whatever an error message carried.

use std::io::Write;

/// Installs the subscriber once; later calls do nothing.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,chieftech=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| Masking(std::io::stderr()))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// A writer that masks ID and account numbers in what it writes. The fmt layer writes each
/// event with one call, so a number is never split across two writes.
pub struct Masking<W: Write>(pub W);

impl<W: Write> Write for Masking<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0
            .write_all(crate::rules::id_number::mask_numbers(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
