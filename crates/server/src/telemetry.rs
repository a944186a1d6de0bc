//! Logging. `RUST_LOG` picks what is shown (e.g. `RUST_LOG=debug,sqlx=warn`); without it, `info`.
//! Request spans from tower-http are at debug level: `RUST_LOG=info,tower_http=debug` shows
//! each request.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Call once, from `main`.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colours only on a terminal: in a log file or journald they are noise.
        .with_ansi(std::io::stdout().is_terminal())
        .init();
}
