//! Banter's benchmarks, run against the local stack (`banter-local`, started in this process):
//!
//! ```sh
//! cargo run --release -p banter-bench -- fanout [--help]   # fan-out latency, 1k/10k subscribers
//! cargo run --release -p banter-bench -- cost [--help]     # requests and dollars per comment
//! ```
//!
//! Each writes machine-readable results and a plot under `bench/results/`.

mod clients;
mod cost;
mod error;
mod fanout;

use std::process::ExitCode;

// `crate::BoxError` names the error module's type (as `cost::pricing` writes it).
pub(crate) use error::BoxError;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let rest: Vec<String> = args.collect();
    let result: Result<(), BoxError> = match command.as_deref() {
        Some("fanout") => fanout::run(rest).await,
        Some("cost") => cost::run(rest).await,
        // The WebSocket clients of a benchmark, in a process of their own (see `clients`).
        Some(clients::WORKER_COMMAND) => clients::worker_main().await,
        _ => {
            eprintln!("usage: banter-bench fanout|cost [--help]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("banter-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
