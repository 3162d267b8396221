//! Logging: `tracing` to stderr, for operators, never mixed into what a command prints on
//! stdout. Off but for warnings and errors unless asked for: the CLI's `-v` raises the filter
//! (`-v` chieftech's INFO lines, `-vv` DEBUG, `-vvv` TRACE of everything); `RUST_LOG`, when
//! set, takes precedence (the systemd unit sets `warn,chieftech=info`). ID and bank numbers
//! are masked by the code that logs them (`rules::id_number::mask`), and every line passes
//! through [`crate::rules::id_number::mask_numbers`] on its way out as a last guard: no log
//! line holds a full ID or account number, whatever an error message carried.

use std::io::Write;

/// The filter for `-v` given `verbose` times (without `RUST_LOG`).
pub fn filter_for(verbose: u8) -> &'static str {
    match verbose {
        0 => "warn",
        1 => "warn,chieftech=info",
        2 => "warn,chieftech=debug",
        _ => "trace",
    }
}

/// Installs the subscriber once; later calls do nothing. `verbose`: how many `-v` were given.
pub fn init(verbose: u8) {
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|_| tracing_subscriber::EnvFilter::try_from_default_env().ok());
    let filter =
        from_env.unwrap_or_else(|| tracing_subscriber::EnvFilter::new(filter_for(verbose)));
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

#[cfg(test)]
mod tests {
    #[test]
    fn each_v_raises_the_filter() {
        assert_eq!(super::filter_for(0), "warn");
        assert_eq!(super::filter_for(1), "warn,chieftech=info");
        assert_eq!(super::filter_for(2), "warn,chieftech=debug");
        assert_eq!(super::filter_for(5), "trace");
    }
}
