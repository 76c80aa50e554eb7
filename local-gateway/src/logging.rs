//! Logs: compact, coloured lines in a terminal; one JSON object per line otherwise (or with
//! `--log-json`), in the same shape as the Lambda functions' logs. `RUST_LOG` sets the level
//! (default `info`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Calling it twice is harmless.
pub fn init(force_json: bool) {
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if force_json || !std::io::stdout().is_terminal() {
        let _ = tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter())
            .with_current_span(true)
            .with_span_list(false)
            .with_target(false)
            .try_init();
    } else {
        let _ = tracing_subscriber::fmt()
            .compact()
            .with_env_filter(filter())
            .with_target(false)
            .try_init();
    }
}
