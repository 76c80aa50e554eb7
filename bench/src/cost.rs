//! `banter-bench cost`: what one comment costs on AWS, delivered to audiences of 100, 1,000
//! and 10,000 WebSocket clients, counted on the local stack with DynamoDB and SQS on moto,
//! and the same for the naive design that Scans every connection per message.
//!
//! For each audience: a fresh stack ([`stack`]), users, a live event, the audience connected
//! and subscribed, then comments posted over REST one at a time and awaited by every client
//! ([`run`]). DynamoDB and SQS requests are counted on the wire by a proxy in front of moto
//! ([`meter`], [`accounting`]); Lambda invocations with their durations and
//! `PostToConnection` calls by the gateway's own counters. The counts go to
//! `bench/results/cost.json`; dollars ([`model`], at the [`pricing`] figures), the plot
//! (`bench/results/cost.svg`, [`plot`]) and `docs/cost.md` ([`report`]) are computed from it.

mod accounting;
mod costs;
mod counts;
mod item_size;
mod meter;
mod model;
pub(crate) mod moto;
mod phase;
mod plot;
pub(crate) mod pricing;
mod report;
mod results;
mod run;
mod stack;

use std::path::{Path, PathBuf};
use std::time::Duration;

use banter::fanout::FanoutConfig;
use banter_local::flag_values::{at_least_one, number};

use self::results::{CostResults, Machine, Settings};
use self::stack::StackSettings;
use crate::BoxError;

/// Text after the flags in `--help`.
const AFTER_HELP: &str = "\
BANTER_BENCH_LOG=1 writes the stack's logs (JSON lines, RUST_LOG) to stdout.

moto: --aws-endpoint, else one started from .venv with bench/moto_server.py
(scripts/setup-test-tools installs .venv), else BANTER_TEST_AWS_ENDPOINT. Stock moto
copies whole tables in every transaction: large audiences need bench/moto_server.py.";

/// Requests and dollars per comment: counts the AWS requests, Lambda invocations and
/// PostToConnection calls of one comment delivered to each audience (real WebSocket clients
/// subscribed to one live event), on the local stack with DynamoDB and SQS on moto, and
/// prices them beside the naive design.
#[derive(Debug, Clone, clap::Parser)]
#[command(after_help = AFTER_HELP, args_override_self = true)]
pub struct Flags {
    /// Audience sizes
    #[arg(long, value_name = "A,B,..", value_delimiter = ',', default_value = "100,1000,10000", value_parser = at_least_one)]
    audiences: Vec<usize>,
    /// Comments per audience
    #[arg(long, value_name = "N", default_value = "10", value_parser = at_least_one)]
    comments: usize,
    /// Delay of every PostToConnection in milliseconds, modelling API Gateway's round trip
    #[arg(long, value_name = "MS", default_value = "20", value_parser = number::<u64>)]
    post_latency: u64,
    /// Connections on the platform for the second naive figure
    #[arg(long, value_name = "N", default_value = "100000", value_parser = number::<u64>)]
    platform_connections: u64,
    /// Measure $disconnect for audiences up to N (its cost per connection does not depend on
    /// the audience, and closing thousands of sockets at once floods moto)
    #[arg(long, value_name = "N", default_value = "100", value_parser = number::<usize>)]
    disconnect_up_to: usize,
    /// Use this moto instead of starting one
    #[arg(long, value_name = "URL")]
    aws_endpoint: Option<String>,
    /// Results directory [default: bench/results]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The generated document [default: docs/cost.md]
    #[arg(long, value_name = "PATH")]
    doc: Option<PathBuf>,
    /// Do not measure: recompute the dollars, the plot and the document from DIR/cost.json
    #[arg(long)]
    report: bool,
}

/// The command line, with its defaults resolved.
#[derive(Debug, Clone)]
struct Args {
    audiences: Vec<usize>,
    comments: usize,
    post_latency: Duration,
    platform_connections: f64,
    disconnect_up_to: usize,
    aws_endpoint: Option<String>,
    out: PathBuf,
    doc: PathBuf,
    report_only: bool,
}

impl From<Flags> for Args {
    fn from(f: Flags) -> Self {
        let root = moto::repository_root();
        Self {
            audiences: f.audiences,
            comments: f.comments,
            post_latency: Duration::from_millis(f.post_latency),
            platform_connections: f.platform_connections as f64,
            disconnect_up_to: f.disconnect_up_to,
            aws_endpoint: f.aws_endpoint,
            out: f.out.unwrap_or_else(|| root.join("bench/results")),
            doc: f.doc.unwrap_or_else(|| root.join("docs/cost.md")),
            report_only: f.report,
        }
    }
}

/// Runs the benchmark with its command-line flags; `args` are the words after `cost`, for
/// the record of the command in the results.
pub async fn run(flags: Flags, args: Vec<String>) -> Result<(), BoxError> {
    let a = Args::from(flags);
    // The stack's own logs (to stdout, `RUST_LOG` filtered), for diagnosing a run.
    if std::env::var_os("BANTER_BENCH_LOG").is_some() {
        banter_local::logging::init(true);
    }
    let json = a.out.join("cost.json");
    if a.report_only {
        let text = std::fs::read_to_string(&json)
            .map_err(|e| format!("reading {}: {e}", json.display()))?;
        let mut results: CostResults = serde_json::from_str(&text)?;
        results.platform_connections = a.platform_connections;
        return publish(&mut results, &a, &json);
    }

    let template = moto::repository_root().join("template.yaml");
    let fanout = FanoutConfig::default();
    let mut results = CostResults {
        benchmark: "cost".into(),
        command: std::iter::once(if cfg!(debug_assertions) {
            "cargo run -p banter-bench -- cost".to_owned()
        } else {
            "cargo run --release -p banter-bench -- cost".to_owned()
        })
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" "),
        generated_at: banter::time::sort_key(banter::time::now()),
        machine: Machine {
            cpus: std::thread::available_parallelism().map_or(0, usize::from),
            os: std::env::consts::OS.into(),
        },
        settings: Settings {
            post_latency_ms: a.post_latency.as_secs_f64() * 1e3,
            aws: match &a.aws_endpoint {
                Some(e) => format!("{e}, through the request meter"),
                None => "moto (bench/moto_server.py), through the request meter".into(),
            },
            fanout_shard_threshold: fanout.shard_threshold,
            fanout_shard_target: fanout.shard_target,
            fanout_concurrency: fanout.concurrency,
            fanout_page_size: fanout.page_size,
        },
        functions: pricing::functions(&template)?,
        prices: pricing::Prices::current(),
        platform_connections: a.platform_connections,
        runs: Vec::new(),
    };
    let settings = StackSettings {
        post_latency: a.post_latency,
        fanout,
        aws_endpoint: a.aws_endpoint.clone(),
        deliver_disconnect: true,
    };
    for &size in &a.audiences {
        let disconnect = size <= a.disconnect_up_to;
        let measured = run::measure(&settings, size, a.comments, disconnect).await?;
        eprintln!(
            "[{size}] {} per comment: {} DynamoDB requests, {} PostToConnection calls, {} s",
            a.comments,
            report::num(measured.per_comment.dynamodb_total().requests),
            report::num(measured.per_comment.posts_total().delivered),
            report::num((measured.per_comment.seconds * 10.0).round() / 10.0),
        );
        results.runs.push(measured);
        // Written after every audience, so a failure later keeps what was measured.
        publish(&mut results, &a, &json)?;
    }
    Ok(())
}

/// Prices every run, writes the JSON, the plot and the document.
fn publish(results: &mut CostResults, a: &Args, json: &Path) -> Result<(), BoxError> {
    for r in &mut results.runs {
        r.dollars = model::dollars(
            r,
            &results.functions,
            &results.prices,
            results.platform_connections,
        );
    }
    std::fs::create_dir_all(&a.out)?;
    std::fs::write(json, serde_json::to_string_pretty(results)? + "\n")?;
    let svg = a.out.join("cost.svg");
    plot::write(results, &svg)?;
    let hot_rooms = report::hot_rooms(&a.out);
    std::fs::write(&a.doc, report::markdown(results, &hot_rooms))?;
    eprintln!(
        "wrote {}, {} and {}",
        json.display(),
        svg.display(),
        a.doc.display()
    );
    for r in &results.runs {
        eprintln!(
            "  {:>6} subscribers: Banter {} per million comments, naive {} ({} with {} connections)",
            r.audience,
            report::dollars(r.dollars.banter.per_million()),
            report::dollars(r.dollars.naive.per_million()),
            report::dollars(r.dollars.naive_platform.per_million()),
            report::num(results.platform_connections),
        );
    }
    Ok(())
}
