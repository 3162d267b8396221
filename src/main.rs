//! The `chieftech` binary: parses the command line, sets up logging (stderr; warnings only
//! unless `-v` or `RUST_LOG`), maps errors to exit statuses (docs/contract.md).

use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: the export's writer threads free what the reading
/// thread allocated, and glibc's arenas serialise that on a lock (README, "Province scale").
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = chieftech::cli::Cli::parse();
    if !matches!(cli.command, chieftech::cli::Command::Daemon) {
        // Rust ignores SIGPIPE, so printing into a pipe whose reader has gone (`… | head`)
        // panicked with a backtrace. A command ends quietly instead, as other tools do (its
        // writes are transactions: one stopped before its commit leaves nothing). The daemon
        // keeps it ignored: its log may go to a socket that closes under it.
        // SAFETY: at the start of main, before any thread is started.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    chieftech::telemetry::init(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(chieftech::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            // The error and its causes on one line, each cause once: most error texts already
            // name their cause, which `{:#}` would print a second time.
            let mut text = f.error.to_string();
            for cause in f.error.chain().skip(1) {
                let c = cause.to_string();
                if !text.contains(&c) {
                    text.push_str(": ");
                    text.push_str(&c);
                }
            }
            eprintln!(
                "error: {}",
                chieftech::rules::id_number::mask_numbers(&text)
            );
            ExitCode::from(f.code)
        }
    }
}
