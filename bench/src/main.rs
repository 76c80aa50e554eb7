//! Banter's benchmarks, run against the local stack (`banter-local`, started in this process):
//!
//! ```sh
//! cargo run --release -p banter-bench -- fanout [--help]   # fan-out latency, 1k/10k subscribers
//! cargo run --release -p banter-bench -- hot-room [--help] # a room under a sustained rate
//! cargo run --release -p banter-bench -- cost [--help]     # requests and dollars per comment
//! ```
//!
//! Each writes machine-readable results and a plot under `bench/results/`.

mod ceiling;
mod clients;
mod cost;
mod error;
mod fanout;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// `crate::BoxError` names the error module's type (as `cost::pricing` writes it).
pub(crate) use error::BoxError;

/// Banter's benchmarks, against the local stack (banter-local) started in this process. Each
/// writes machine-readable results and a plot under bench/results/.
#[derive(Debug, Parser)]
#[command(name = "banter-bench", disable_help_subcommand = true)]
struct Bench {
    #[command(subcommand)]
    command: Command,
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
enum Command {
    /// Comment fan-out latency to N WebSocket subscribers (1k/10k) on the local stack
    Fanout(fanout::Flags),
    /// A live room under a sustained comment rate: stream delivery against one frame per change
    HotRoom(fanout::hot_room::Flags),
    /// Comments per second one room accepts from many writers (DynamoDB on moto, latency added)
    WriteCeiling(ceiling::Flags),
    /// Requests and dollars per comment, on the local stack with DynamoDB and SQS on moto
    Cost(cost::Flags),
    /// The WebSocket clients of a benchmark, in a process of their own (see `clients`).
    #[command(name = clients::WORKER_COMMAND, hide = true)]
    ClientsWorker,
}

#[tokio::main]
async fn main() -> ExitCode {
    // `--help` and bad flags: clap prints them and exits (0 and 2).
    let bench = Bench::parse();
    let result: Result<(), BoxError> = match bench.command {
        Command::Fanout(flags) => fanout::run(flags).await,
        Command::HotRoom(flags) => fanout::hot_room::run(flags).await,
        Command::WriteCeiling(flags) => ceiling::run(flags).await,
        // The words after `cost`, recorded with the results.
        Command::Cost(flags) => cost::run(flags, std::env::args().skip(2).collect()).await,
        Command::ClientsWorker => clients::worker_main().await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("banter-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
