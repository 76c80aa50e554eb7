//! `banter-bench hot-room`: one live event with V viewers on real WebSocket connections and
//! comments at a sustained rate R for a duration, delivered by the room-stream delivery
//! (`stream_batch`, one frame per viewer per tick) and, in the same invocation, by one frame
//! per change (the delivery before room streams), side by side. Reuses the fan-out benchmark's
//! gateway, worker processes, progress bars and tally.

use std::path::PathBuf;
use std::time::Duration;

use banter::fanout::FanoutConfig;
use banter::stream::FrameMode;
use banter_local::flag_values::{at_least_one, duration, number};
use serde_json::json;

use super::{JobLog, Options, RunResult, plot, positive_rate, run_one};
use crate::BoxError;
use crate::clients::{self, GatewaySettings};

/// A live room under a sustained comment rate, stream delivery against one frame per change
#[derive(Debug, Clone, clap::Parser)]
#[command(
    after_help = "Each pair writes <out>/hot-room-<V>-<R>.json and .svg (the batched run's latencies)."
)]
pub struct Flags {
    /// Viewers; one pair of runs per value and rate
    #[arg(long, value_name = "V[,V…]", value_delimiter = ',', default_value = "1000", value_parser = at_least_one)]
    viewers: Vec<usize>,
    /// Comments per second; one pair of runs per value
    #[arg(long, value_name = "R[,R…]", value_delimiter = ',', default_value = "5,50", value_parser = positive_rate)]
    rate: Vec<f64>,
    /// How long the writers post
    #[arg(long, value_name = "D", default_value = "6s", value_parser = duration)]
    duration: Duration,
    /// Delay of every management API POST
    #[arg(long, value_name = "D", default_value = "20ms", value_parser = duration)]
    post_latency: Duration,
    /// PostToConnection calls per second one room may use
    #[arg(long, value_name = "P", default_value_t = FanoutConfig::default().post_budget, value_parser = number::<u32>)]
    post_budget: u32,
    /// Skip the one-frame-per-change run
    #[arg(long)]
    batched_only: bool,
    /// Faults the stack injects, as `banter-local --inject` takes them
    /// (`410:2%,429:5%,500:2%,dynamodb:1%,sqs:1%`); the viewers then reconnect when a socket
    /// is dropped and catch up at the end
    #[arg(long, value_name = "PLAN", default_value = "")]
    inject: String,
    /// Seed of the injected faults
    #[arg(long, value_name = "N", default_value_t = 1)]
    fault_seed: u64,
    /// Wait at most this long after the last comment
    #[arg(long, value_name = "D", default_value = "90s", value_parser = duration)]
    settle: Duration,
    /// Where the JSON and SVG go [default: bench/results]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Runs the pairs.
pub async fn run(flags: Flags) -> Result<(), BoxError> {
    let log = JobLog::install().ok_or("a tracing subscriber is already installed")?;
    let out = flags
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results"));
    std::fs::create_dir_all(&out)?;
    let inject = banter_local::faults::FaultPlan::parse(&flags.inject, flags.fault_seed)?;
    println!("open-file limit: {}", clients::raise_open_files());
    let mut lines = Vec::new();
    let mut bad = false;
    for &v in &flags.viewers {
        for &r in &flags.rate {
            let comments = ((r * flags.duration.as_secs_f64()).ceil() as usize).max(1);
            let modes: &[FrameMode] = if flags.batched_only {
                &[FrameMode::Batched]
            } else {
                &[FrameMode::Batched, FrameMode::PerEntry]
            };
            let mut runs: Vec<(FrameMode, RunResult)> = Vec::new();
            for &mode in modes {
                let options = Options {
                    clients: vec![v],
                    post_latencies: vec![flags.post_latency],
                    comments,
                    rate: Some(r),
                    fanout: FanoutConfig {
                        frames: mode,
                        post_budget: flags.post_budget,
                        ..FanoutConfig::default()
                    },
                    shard_environments: GatewaySettings::default().shard_pollers,
                    settle: flags.settle,
                    out: out.clone(),
                    inject: inject.clone(),
                };
                println!(
                    "\nhot room: {v} viewers, {r}/s for {:?}, {mode:?} frames",
                    flags.duration
                );
                let result = run_one(&options, v, flags.post_latency, &log).await?;
                bad |= result.row.lost > 0 || result.row.duplicated > 0;
                runs.push((mode, result));
            }
            let posts =
                |j: &serde_json::Value| j["post_to_connection"]["per_comment_per_viewer"].as_f64();
            let ratio = match (runs.first(), runs.get(1)) {
                (Some((_, b)), Some((_, p))) => match (posts(&b.json), posts(&p.json)) {
                    (Some(b), Some(p)) if b > 0.0 => Some(p / b),
                    _ => None,
                },
                _ => None,
            };
            let dollars = |j: &serde_json::Value| {
                j["delivery_dollars_per_million_comments"]["total"].as_f64()
            };
            let dollar_ratio = match (runs.first(), runs.get(1)) {
                (Some((_, b)), Some((_, p))) => match (dollars(&b.json), dollars(&p.json)) {
                    (Some(b), Some(p)) if b > 0.0 => Some(p / b),
                    _ => None,
                },
                _ => None,
            };
            let stem = if inject.is_empty() {
                format!("hot-room-{v}-{r}")
            } else {
                format!("hot-room-{v}-{r}-faults")
            };
            let json = json!({
                "viewers": v,
                "rate_per_second": r,
                "comments": comments,
                "post_latency_ms": flags.post_latency.as_secs_f64() * 1e3,
                "post_budget": flags.post_budget,
                "per_entry_posts_over_batched": ratio,
                "per_entry_dollars_over_batched": dollar_ratio,
                "runs": runs.iter().map(|(m, res)| json!({"frames": format!("{m:?}"), "result": res.json})).collect::<Vec<_>>(),
            });
            std::fs::write(
                out.join(format!("{stem}.json")),
                serde_json::to_string_pretty(&json)?,
            )?;
            if let Some((_, batched)) = runs.first() {
                plot::write(
                    &out.join(format!("{stem}.svg")),
                    &plot::PlotInput {
                        title: format!(
                            "hot room: {v} viewers, {r} comments/s, stream_batch delivery"
                        ),
                        latencies: &batched.latencies,
                        clients: v,
                        bound: None,
                    },
                )?;
            }
            for (mode, res) in &runs {
                lines.push(format!(
                    "| {v} | {r} | {mode:?} | {} | {:.3} | ${:.0} | {:.0} ms | {:.0} ms | {:.0} ms | {} / {} |",
                    res.json["post_to_connection"]["calls"],
                    posts(&res.json).unwrap_or_default(),
                    dollars(&res.json).unwrap_or_default(),
                    res.row.latency.p50,
                    res.row.latency.p99,
                    res.row.latency.max,
                    res.row.lost,
                    res.row.duplicated,
                ));
            }
            if let (Some(x), Some(d)) = (ratio, dollar_ratio) {
                lines.push(format!(
                    "|  |  | per entry / batched | | {x:.1}× | {d:.1}× | | | | |"
                ));
            }
            println!("  wrote {}", out.join(format!("{stem}.json")).display());
        }
    }
    println!(
        "\n| viewers | comments/s | frames | PostToConnection | per comment per viewer | delivery $ per million comments | p50 | p99 | max | lost / dup |"
    );
    println!("|---:|---:|---|---:|---:|---:|---:|---:|---:|---|");
    for l in lines {
        println!("{l}");
    }
    if bad {
        return Err("deliveries were lost or duplicated".into());
    }
    Ok(())
}
