//! Structured logs. In Lambda every line is one JSON object carrying the current span's
//! fields (request id, route, connection id…); CloudWatch Logs Insights can query them.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber used by every function: level from `RUST_LOG` (default
/// `info`), the current span's fields on each line, no span list, no module targets.
/// Calling it twice is harmless (the second call does nothing).
pub fn init_json() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .try_init();
}
