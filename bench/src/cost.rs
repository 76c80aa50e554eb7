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
mod moto;
mod phase;
mod plot;
mod pricing;
mod report;
mod results;
mod run;
mod stack;

use std::path::{Path, PathBuf};
use std::time::Duration;

use banter::fanout::FanoutConfig;

use self::results::{CostResults, Machine, Settings};
use self::stack::StackSettings;
use crate::BoxError;

const USAGE: &str = "\
usage: banter-bench cost [options]

Counts the AWS requests, Lambda invocations and PostToConnection calls of one comment
delivered to each audience (real WebSocket clients subscribed to one live event), on the
local stack with DynamoDB and SQS on moto, and prices them beside the naive design.

options:
  --audiences A,B,..         audience sizes (default 100,1000,10000)
  --comments N               comments per audience (default 10)
  --post-latency MS          delay of every PostToConnection, modelling API Gateway's
                             round trip (default 20)
  --platform-connections N   connections on the platform for the second naive figure
                             (default 100000)
  --disconnect-up-to N       measure $disconnect for audiences up to N (default 100; its
                             cost per connection does not depend on the audience, and
                             closing thousands of sockets at once floods moto)
  --aws-endpoint URL         use this moto instead of starting one
  --out DIR                  results directory (default bench/results)
  --doc PATH                 the generated document (default docs/cost.md)
  --report                   do not measure: recompute the dollars, the plot and the
                             document from DIR/cost.json

BANTER_BENCH_LOG=1 writes the stack's logs (JSON lines, RUST_LOG) to stdout.

moto: --aws-endpoint, else one started from .venv with bench/moto_server.py
(scripts/setup-test-tools installs .venv), else BANTER_TEST_AWS_ENDPOINT. Stock moto
copies whole tables in every transaction: large audiences need bench/moto_server.py.
";

/// The command line.
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

fn parse(args: &[String]) -> Result<Option<Args>, BoxError> {
    let root = moto::repository_root();
    let mut a = Args {
        audiences: vec![100, 1_000, 10_000],
        comments: 10,
        post_latency: Duration::from_millis(20),
        platform_connections: 100_000.0,
        disconnect_up_to: 100,
        aws_endpoint: None,
        out: root.join("bench/results"),
        doc: root.join("docs/cost.md"),
        report_only: false,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--audiences" => {
                a.audiences = value()?
                    .split(',')
                    .map(|s| s.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("--audiences: {e}"))?;
                if a.audiences.contains(&0) {
                    return Err("--audiences: sizes must be at least 1".into());
                }
            }
            "--comments" => {
                a.comments = value()?.parse().map_err(|e| format!("--comments: {e}"))?;
                if a.comments == 0 {
                    return Err("--comments: at least 1".into());
                }
            }
            "--post-latency" => {
                let ms: u64 = value()?
                    .parse()
                    .map_err(|e| format!("--post-latency: {e}"))?;
                a.post_latency = Duration::from_millis(ms);
            }
            "--platform-connections" => {
                a.platform_connections = value()?
                    .parse::<u64>()
                    .map_err(|e| format!("--platform-connections: {e}"))?
                    as f64;
            }
            "--disconnect-up-to" => {
                a.disconnect_up_to = value()?
                    .parse()
                    .map_err(|e| format!("--disconnect-up-to: {e}"))?;
            }
            "--aws-endpoint" => a.aws_endpoint = Some(value()?),
            "--out" => a.out = PathBuf::from(value()?),
            "--doc" => a.doc = PathBuf::from(value()?),
            "--report" => a.report_only = true,
            other => return Err(format!("unknown option {other}\n\n{USAGE}").into()),
        }
    }
    Ok(Some(a))
}

/// Runs the benchmark with its command-line arguments.
pub async fn run(args: Vec<String>) -> Result<(), BoxError> {
    let Some(a) = parse(&args)? else {
        print!("{USAGE}");
        return Ok(());
    };
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
    std::fs::write(&a.doc, report::markdown(results))?;
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
