//! `banter-bench fanout`: how long a comment takes to reach N WebSocket subscribers through
//! the whole local stack, and how close that is to what the fan-out's concurrency allows.
//!
//! Per run (one N, one per-post latency t): a fresh in-process gateway whose management API
//! waits t before every `POST` (`--post-latency`), N clients in worker processes (see
//! [`crate::clients`]) each signed in with its own token and subscribed at connect to one live
//! event, and one sender that sends M `comment_submit`s at a steady rate. The time origin of
//! each comment is the moment its frame is sent; each client stamps each broadcast as it
//! reads it. Reported: latency p50/p95/p99/max over all deliveries, the time until the last
//! subscriber per comment, deliveries per second, lost and duplicated deliveries (both must
//! be 0), and the ideal bound N·t/(C·S) (C the fan-out's concurrency, S the shards the room
//! was split into) beside the measured time to the last subscriber.

mod dollars;
pub mod hot_room;
mod joblog;
mod plot;
pub(crate) mod tally;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use banter::fanout::FanoutConfig;
use banter_local::QueueHandle;
use banter_local::flag_values::{at_least_one, duration, number};
use futures::{SinkExt, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::BoxError;
use crate::clients::{self, Audience, GatewaySettings};
use joblog::{JobEnd, JobLog};
use tally::{Percentiles, Summary, Tally};

/// Text after the flags in `--help`.
const AFTER_HELP: &str = "\
The whole issue's matrix:
  cargo run --release -p banter-bench -- fanout --clients 1000,10000 --post-latency 0ms,20ms

Each run writes <out>/fanout-<N>-<t>ms.json and .svg.";

/// Comment fan-out latency to N WebSocket subscribers on the local stack
#[derive(Debug, Clone, clap::Parser)]
#[command(after_help = AFTER_HELP, args_override_self = true)]
pub struct Flags {
    /// Subscribers; one run per value
    #[arg(long, value_name = "N[,N…]", value_delimiter = ',', default_value = "1000", value_parser = at_least_one)]
    clients: Vec<usize>,
    /// Delay of every management API POST, e.g. 0ms,20ms; one run per value and N
    #[arg(long, value_name = "D[,D…]", value_delimiter = ',', default_value = "0ms", value_parser = duration)]
    post_latency: Vec<Duration>,
    /// Comments per run
    #[arg(long, value_name = "M", default_value = "20", value_parser = at_least_one)]
    comments: usize,
    /// Comments per second, sent at a steady pace [default: 1, or 2000/N when lower: 0.2 for
    /// 10000]; keep R × N under the stack's deliveries per second, or each comment also waits
    /// for the fan-outs before it
    #[arg(long, value_name = "R", value_parser = positive_rate)]
    rate: Option<f64>,
    /// The fan-out's posts in flight (as BANTER_FANOUT_CONCURRENCY)
    #[arg(long, value_name = "C", default_value_t = FanoutConfig::default().concurrency, value_parser = number::<usize>)]
    concurrency: usize,
    /// Rooms above this are split into shards
    #[arg(long, value_name = "N", default_value_t = FanoutConfig::default().shard_threshold, value_parser = number::<usize>)]
    shard_threshold: usize,
    /// Subscribers per shard
    #[arg(long, value_name = "N", default_value_t = FanoutConfig::default().shard_target, value_parser = number::<usize>)]
    shard_target: usize,
    /// Execution environments on the shard queue, each with its own concurrency C; 1 runs the
    /// shards one after another, as if they shared one bound
    #[arg(long, value_name = "E", default_value_t = GatewaySettings::default().shard_pollers, value_parser = at_least_one)]
    shard_environments: usize,
    /// Wait at most this long after the last comment
    #[arg(long, value_name = "D", default_value = "60s", value_parser = duration)]
    settle: Duration,
    /// Live frames: batched (stream_batch, one frame per viewer per tick) or per_entry (one
    /// frame per change, the delivery before room streams)
    #[arg(long, value_name = "MODE", default_value = "batched", value_parser = frame_mode)]
    frames: banter::stream::FrameMode,
    /// PostToConnection calls per second one room may use (as BANTER_FANOUT_POST_BUDGET)
    #[arg(long, value_name = "P", default_value_t = FanoutConfig::default().post_budget, value_parser = number::<u32>)]
    post_budget: u32,
    /// Where the JSON and SVG go [default: bench/results]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// `--frames`: `batched` or `per_entry`.
fn frame_mode(raw: &str) -> Result<banter::stream::FrameMode, String> {
    match raw.trim() {
        "batched" => Ok(banter::stream::FrameMode::Batched),
        "per_entry" => Ok(banter::stream::FrameMode::PerEntry),
        other => Err(format!("{other:?} is not batched or per_entry")),
    }
}

/// `--rate`: a positive number of comments per second.
fn positive_rate(raw: &str) -> Result<f64, String> {
    raw.trim()
        .parse()
        .ok()
        .filter(|r: &f64| r.is_finite() && *r > 0.0)
        .ok_or_else(|| format!("{raw:?} is not a positive number"))
}

/// What the command line asked for.
#[derive(Debug, Clone)]
struct Options {
    clients: Vec<usize>,
    post_latencies: Vec<Duration>,
    comments: usize,
    /// Comments per second; `None`: [`default_rate`] of each run's N.
    rate: Option<f64>,
    fanout: FanoutConfig,
    /// Pollers of the shard queue (`--shard-environments`).
    shard_environments: usize,
    settle: Duration,
    out: PathBuf,
    /// Faults the stack injects; with any, the clients catch up at the end.
    inject: banter_local::faults::FaultPlan,
}

/// Comments per second when `--rate` is not given: 1, or 2,000 deliveries per second's worth
/// for large N (0.2/s for 10,000), so that on a small machine a comment's fan-out has ended
/// before the next one starts and each comment's time is its own.
fn default_rate(clients: usize) -> f64 {
    (2_000.0 / clients.max(1) as f64).min(1.0)
}

impl Options {
    /// The runs `flags` ask for, with the fan-out's settings checked.
    fn from_flags(flags: Flags) -> Result<Self, BoxError> {
        let defaults = FanoutConfig::default();
        let fanout = FanoutConfig {
            concurrency: flags.concurrency,
            shard_threshold: flags.shard_threshold,
            shard_target: flags.shard_target,
            reshard_threshold: defaults.reshard_threshold.max(flags.shard_target),
            frames: flags.frames,
            post_budget: flags.post_budget,
            ..defaults
        };
        fanout.validate()?;
        Ok(Self {
            clients: flags.clients,
            post_latencies: flags.post_latency,
            comments: flags.comments,
            rate: flags.rate,
            fanout,
            shard_environments: flags.shard_environments,
            settle: flags.settle,
            out: flags
                .out
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results")),
            inject: banter_local::faults::FaultPlan::default(),
        })
    }
}

/// Runs the benchmark with its command-line flags.
pub async fn run(flags: Flags) -> Result<(), BoxError> {
    let options = Options::from_flags(flags)?;
    let log = JobLog::install().ok_or("a tracing subscriber is already installed")?;
    std::fs::create_dir_all(&options.out)?;
    let files = clients::raise_open_files();
    println!("open-file limit: {files}");
    let mut rows = Vec::new();
    for &n in &options.clients {
        // Latencies in ascending order, so the 0 ms run of this N (if asked for) comes first
        // and its time to the last subscriber is known as the machine's floor for the others.
        let mut latencies = options.post_latencies.clone();
        latencies.sort();
        latencies.dedup();
        let mut floor: Option<f64> = None;
        for t in latencies {
            let mut result = run_one(&options, n, t, &log).await?;
            if t.is_zero() {
                floor = Some(result.row.to_all.p50);
            } else if let (Some(f), Some(obj)) = (floor, result.json.as_object_mut()) {
                obj.insert("floor_0ms_to_all_p50_ms".into(), json!(f));
                result.row.floor = Some(f);
            }
            let stem = format!("fanout-{n}-{}ms", t.as_millis());
            let json_path = options.out.join(format!("{stem}.json"));
            std::fs::write(&json_path, serde_json::to_string_pretty(&result.json)?)?;
            let svg_path = options.out.join(format!("{stem}.svg"));
            plot::write(
                &svg_path,
                &plot::PlotInput {
                    title: format!(
                        "fan-out to {n} subscribers, post latency {} ms (C={}, S={})",
                        t.as_millis(),
                        result.row.concurrency,
                        result.row.shards
                    ),
                    latencies: &result.latencies,
                    clients: n,
                    bound: result.row.bound,
                },
            )?;
            println!("  wrote {} and {}", json_path.display(), svg_path.display());
            rows.push(result.row);
        }
    }
    print_table(&rows);
    let bad = rows.iter().any(|r| r.lost > 0 || r.duplicated > 0);
    if bad {
        return Err("deliveries were lost or duplicated".into());
    }
    Ok(())
}

/// One line of the final table.
#[derive(Debug, Clone)]
struct Row {
    clients: usize,
    post_latency: Duration,
    latency: Percentiles,
    to_all: Percentiles,
    fanout_per_second: f64,
    deliveries_per_second: f64,
    lost: usize,
    duplicated: usize,
    concurrency: usize,
    shards: u64,
    bound: Option<Duration>,
    /// Median time to the last subscriber of the same N at 0 ms: what this machine needs
    /// without any post latency (its CPU floor).
    floor: Option<f64>,
}

impl Row {
    /// Median time to the last subscriber over the bound.
    fn ratio(&self) -> Option<f64> {
        self.bound
            .filter(|b| !b.is_zero())
            .map(|b| self.to_all.p50 / (b.as_secs_f64() * 1_000.0))
    }
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "ratio = to all p50 / bound; floor = to all p50 of the same N at 0 ms (this machine's CPU)"
    );
    println!(
        "| N | t | p50 | p95 | p99 | max | to all p50 | deliveries/s fan-out (run) | lost | dup | C | S | bound N·t/(C·S) | ratio | floor |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.0} ({:.0}) | {} | {} | {} | {} | {} | {} | {} |",
            r.clients,
            r.post_latency.as_millis(),
            r.latency.p50,
            r.latency.p95,
            r.latency.p99,
            r.latency.max,
            r.to_all.p50,
            r.fanout_per_second,
            r.deliveries_per_second,
            r.lost,
            r.duplicated,
            r.concurrency,
            r.shards,
            r.bound
                .map_or("0".into(), |b| format!("{:.1} ms", b.as_secs_f64() * 1e3)),
            r.ratio().map_or("–".into(), |x| format!("{x:.2}")),
            r.floor.map_or("–".into(), |f| format!("{f:.1} ms")),
        );
    }
}

/// What one run produced.
struct RunResult {
    row: Row,
    json: Value,
    latencies: Vec<Vec<Duration>>,
}

/// What the sender task reports.
enum Sent {
    /// Comment `i` was sent at this time.
    At(usize, SystemTime),
    /// Comment `i` was stored as this comment id.
    Acked(usize, String),
    /// Comment `i` was refused, or the socket failed.
    Failed(String),
}

fn bar(len: usize, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len as u64);
    if let Ok(style) =
        ProgressStyle::with_template("  {msg:<28} [{bar:40}] {pos}/{len} {elapsed_precise}")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_owned());
    pb
}

/// One run: a fresh gateway and audience, the comments sent and counted, the results.
async fn run_one(
    options: &Options,
    n: usize,
    t: Duration,
    log: &Arc<JobLog>,
) -> Result<RunResult, BoxError> {
    let rate = options.rate.unwrap_or_else(|| default_rate(n));
    println!(
        "\nfan-out to {n} subscribers, post latency {} ms: {} comments at {rate}/s",
        t.as_millis(),
        options.comments,
    );
    let mut room = Room::open(options, n, t).await?;
    log.take();
    let before = Usage::now(&room.gw);
    let mut tally = Tally::new(n, options.comments);
    let run_time = deliver(options, rate, &mut room, &mut tally).await?;
    let queue_drained = drain(&mut room, &mut tally).await;
    let jobs = log.take();
    let facts = room.close(before, queue_drained, run_time).await?;
    let summary = tally.summary();
    let row = row_of(options, n, t, &summary, &jobs);
    print_run(&row, &summary, &facts);
    let per_comment_viewer = facts.posts as f64 / (options.comments.max(1) * n.max(1)) as f64;
    println!(
        "  PostToConnection calls: {} ({:.0}/s over the run; {per_comment_viewer:.3} per comment per viewer; {:?} frames)",
        facts.posts,
        facts.posts as f64 / facts.run_time.as_secs_f64().max(1e-9),
        options.fanout.frames
    );
    let json = result_json(options, &row, &summary, &jobs, facts);
    Ok(RunResult {
        row,
        json,
        latencies: tally.latencies(),
    })
}

/// The stack of one run: the gateway, the live event, its sender and the subscribed audience.
struct Room {
    gw: banter_local::RunningGateway,
    sender_token: String,
    event: banter::ids::EventId,
    audience: Audience,
    connect_time: Duration,
}

impl Room {
    /// Starts a gateway whose posts take `t`, a live event, and `n` subscribed clients.
    async fn open(options: &Options, n: usize, t: Duration) -> Result<Self, BoxError> {
        let gw = clients::start_gateway(GatewaySettings {
            post_latency: t,
            fanout: options.fanout.clone(),
            shard_pollers: options.shard_environments,
            inject: options.inject.clone(),
        })
        .await?;
        let app = gw.app().clone();
        let sender_user = clients::create_users(&app, 1, "sender").await?[0];
        let event = clients::live_event(&app, sender_user, "fan-out benchmark").await?;
        let users = clients::create_users(&app, n, "fan").await?;
        let tokens = clients::access_tokens(&app, &users).await?;
        let sender_token = clients::access_tokens(&app, &[sender_user])
            .await?
            .remove(0);

        let head = app
            .stores
            .streams
            .stream_head(banter::room::Room::Event(event))
            .await?;
        let connecting = bar(n, "connecting + subscribing");
        let started = Instant::now();
        let audience = Audience::open(&gw.ws_url(), Some(event), head.0, tokens, |k| {
            connecting.set_position(k as u64);
        })
        .await?;
        let connect_time = started.elapsed();
        connecting.finish_and_clear();
        println!(
            "  {n} clients connected and subscribed in {:.1} s",
            connect_time.as_secs_f64()
        );
        let open = gw.connections().len();
        if open < audience.clients() {
            return Err(format!("only {open} of {n} connections are open").into());
        }
        Ok(Self {
            gw,
            sender_token,
            event,
            audience,
            connect_time,
        })
    }

    /// Stops the audience and the gateway, and gathers the run's facts.
    async fn close(
        self,
        before: Usage,
        queue_drained: bool,
        run_time: Duration,
    ) -> Result<RunFacts, BoxError> {
        let after = Usage::now(&self.gw);
        let dropped = self.audience.dropped().len();
        let queue_left = queue_len(&self.gw);
        let dead_letters = self.gw.dead_letters().await.map(|d| d.len()).unwrap_or(0);
        let injected = self.gw.injected();
        let closed = self.audience.close().await?;
        self.gw.shutdown().await;
        Ok(RunFacts {
            connect_time: self.connect_time,
            run_time,
            dropped,
            queue_drained,
            queue_left,
            dead_letters,
            gateway_cpu: match (before.cpu, after.cpu) {
                (Some(a), Some(b)) => b.saturating_sub(a),
                _ => Duration::ZERO,
            },
            clients_cpu: closed.cpu,
            load: (before.load, after.load),
            invocations: after.invocations.saturating_sub(before.invocations),
            posts: after.posts.saturating_sub(before.posts),
            failed_posts: after.failed_posts.saturating_sub(before.failed_posts),
            delivery: dollars::DeliveryUse {
                comments: 0,
                metered_messages: after.metered.saturating_sub(before.metered),
                bytes: after.bytes.saturating_sub(before.bytes),
                invocations: after.invocations.saturating_sub(before.invocations),
                milliseconds: (after.fanout_ms - before.fanout_ms).max(0.0),
            },
            resilience: closed.resilience,
            injected,
        })
    }
}

/// This process's CPU, the load average and the fan-out invocations at one moment.
struct Usage {
    load: Option<f64>,
    cpu: Option<Duration>,
    invocations: u64,
    /// `PostToConnection` calls of the fan-out so far (delivered and failed).
    posts: u64,
    /// Of those, failed.
    failed_posts: u64,
    /// The fan-out's delivered posts as API Gateway meters them, their bytes, and the
    /// fan-out's summed invocation time (ms).
    metered: u64,
    bytes: u64,
    fanout_ms: f64,
}

impl Usage {
    fn now(gw: &banter_local::RunningGateway) -> Self {
        Self {
            load: clients::load_average(),
            cpu: clients::cpu_time(),
            invocations: fanout_invocations(gw),
            posts: gw
                .posts()
                .get("fanout")
                .map_or(0, |p| p.delivered + p.failed),
            failed_posts: gw.posts().get("fanout").map_or(0, |p| p.failed),
            metered: gw.posts().get("fanout").map_or(0, |p| p.metered_messages),
            bytes: gw.posts().get("fanout").map_or(0, |p| p.bytes),
            fanout_ms: gw
                .invocations()
                .get("fanout")
                .map_or(0.0, |f| f.total().as_secs_f64() * 1e3),
        }
    }
}

/// The sender sends M `comment_submit` frames at a steady pace (acks name the comments) while
/// every broadcast is counted; returns when every client has every comment, or `settle` after
/// the last was sent.
async fn deliver(
    options: &Options,
    rate: f64,
    room: &mut Room,
    tally: &mut Tally,
) -> Result<Duration, BoxError> {
    let socket = clients::connect(&room.gw.ws_url(), &room.sender_token, None).await?;
    let (tx, mut sent_rx) = mpsc::unbounded_channel();
    let sender = tokio::spawn(send_comments(
        Writer {
            socket,
            ws_url: room.gw.ws_url(),
            token: room.sender_token.clone(),
            event_id: room.event.to_string(),
        },
        options.comments,
        Duration::from_secs_f64(1.0 / rate),
        tx,
    ));
    let delivering = bar(room.audience.clients() * options.comments, "deliveries");
    let mut last_sent: Option<Instant> = None;
    let mut sent = 0;
    let run_started = Instant::now();
    loop {
        let give_up = last_sent.map(|s| s + options.settle);
        tokio::select! {
            event = sent_rx.recv(), if sent < options.comments || tally.acked_count() < sent => {
                match event {
                    Some(Sent::At(i, at)) => {
                        tally.sent(i, at);
                        sent += 1;
                        if sent == options.comments {
                            last_sent = Some(Instant::now());
                        }
                    }
                    Some(Sent::Acked(i, id)) => tally.acked(i, id),
                    Some(Sent::Failed(e)) => return Err(format!("the sender: {e}").into()),
                    None => return Err("the sender stopped early".into()),
                }
            }
            receipt = room.audience.recv() => {
                let Some(r) = receipt else {
                    return Err("every client worker stopped".into());
                };
                count(tally, &r);
                // Take what else is waiting before redrawing.
                while let Some(r) = room.audience.try_recv() {
                    count(tally, &r);
                }
                delivering.set_position(tally.unique() as u64);
                delivering.set_message(format!(
                    "deliveries ({} dup, {} dropped)",
                    tally.duplicates(),
                    room.audience.dropped().len()
                ));
            }
            () = async {
                match give_up {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => break,
        }
        if tally.complete() {
            break;
        }
    }
    if !options.inject.is_empty() {
        catch_up(options, room, tally).await?;
    }
    let run_time = run_started.elapsed();
    delivering.finish_and_clear();
    sender.abort();
    Ok(run_time)
}

/// Under injected faults: every client subscribes with `since` (the highest position it holds
/// with no gap before it) until the head, as a client that reconnects does; counts what that
/// brings, until every client is done or `settle` has passed.
async fn catch_up(options: &Options, room: &mut Room, tally: &mut Tally) -> Result<(), BoxError> {
    room.audience.ask_catch_up().await?;
    let until = Instant::now() + options.settle;
    while room.audience.caught_up() < room.audience.clients() {
        match tokio::time::timeout_at(until, room.audience.recv()).await {
            Ok(Some(r)) => count(tally, &r),
            Ok(None) | Err(_) => break,
        }
    }
    println!(
        "  catch-up: {} of {} clients reached the head",
        room.audience.caught_up(),
        room.audience.clients()
    );
    Ok(())
}

/// Counts a receipt that is a comment broadcast.
fn count(tally: &mut Tally, r: &clients::Receipt) {
    if r.frame_type == "comment_broadcast"
        && let Some(id) = &r.id
    {
        tally.received(r.client, id, r.at);
    }
}

/// A job left in the queue would run again and deliver twice: waits for the queue to empty,
/// and keeps counting receipts (late duplicates) meanwhile. Whether the queue drained.
async fn drain(room: &mut Room, tally: &mut Tally) -> bool {
    let queue_drained = wait_for_empty_queue(&room.gw, Duration::from_secs(10)).await;
    let linger = Instant::now() + Duration::from_millis(500);
    while let Ok(Some(r)) = tokio::time::timeout_at(linger, room.audience.recv()).await {
        count(tally, &r);
    }
    queue_drained
}

/// The table row of a run.
fn row_of(options: &Options, n: usize, t: Duration, summary: &Summary, jobs: &[JobEnd]) -> Row {
    let concurrency = options.fanout.concurrency;
    let shards = jobs.iter().map(|j| j.shards).max().unwrap_or(0).max(1);
    let bound = (!t.is_zero()).then(|| t.mul_f64(n as f64 / (concurrency as f64 * shards as f64)));
    Row {
        clients: n,
        post_latency: t,
        latency: summary.latency_ms,
        to_all: summary.to_all_ms,
        fanout_per_second: summary.fanout_per_second,
        deliveries_per_second: summary.deliveries_per_second,
        lost: summary.lost,
        duplicated: summary.duplicated,
        concurrency,
        shards,
        bound,
        floor: None,
    }
}

/// Prints a run's figures, and a warning when something was off.
fn print_run(row: &Row, summary: &Summary, facts: &RunFacts) {
    println!(
        "  latency p50 {:.1} / p95 {:.1} / p99 {:.1} / max {:.1} ms; to all p50 {:.1} ms; \
         {:.0} deliveries/s during a fan-out ({:.0} over the run); lost {}, duplicated {}; \
         bound {}; ratio {}",
        row.latency.p50,
        row.latency.p95,
        row.latency.p99,
        row.latency.max,
        row.to_all.p50,
        row.fanout_per_second,
        row.deliveries_per_second,
        row.lost,
        row.duplicated,
        row.bound
            .map_or("0".into(), |b| format!("{:.1} ms", b.as_secs_f64() * 1e3)),
        row.ratio().map_or("–".into(), |x| format!("{x:.2}")),
    );
    if facts.dropped > 0 || !facts.queue_drained || facts.dead_letters > 0 {
        println!(
            "  WARNING: {} sockets closed on their own, queue drained: {} ({} jobs left), {} \
             dead letters",
            facts.dropped, facts.queue_drained, facts.queue_left, facts.dead_letters
        );
    }
    if summary.delivered > 0 {
        let us = |cpu: Duration| cpu.as_secs_f64() * 1e6 / summary.delivered as f64;
        let (load_before, load_after) = facts.load;
        println!(
            "  CPU per delivery: gateway process {:.0} µs, client workers {:.0} µs; load average {} → {}",
            us(facts.gateway_cpu),
            us(facts.clients_cpu),
            load_before.map_or("?".into(), |l| format!("{l:.1}")),
            load_after.map_or("?".into(), |l| format!("{l:.1}")),
        );
    }
}

/// Facts of a run beside the deliveries.
struct RunFacts {
    connect_time: Duration,
    run_time: Duration,
    dropped: usize,
    queue_drained: bool,
    queue_left: usize,
    dead_letters: usize,
    /// CPU of this process (gateway, sender, tally) while the comments were delivered.
    gateway_cpu: Duration,
    /// CPU of the client workers over the same phase.
    clients_cpu: Duration,
    /// 1-minute load average before and after the delivery phase.
    load: (Option<f64>, Option<f64>),
    /// Fan-out function invocations (SQS batches) over the delivery phase.
    invocations: u64,
    /// `PostToConnection` calls over the delivery phase.
    posts: u64,
    /// Of those, calls that failed (injected faults among them), retries included.
    failed_posts: u64,
    /// What the delivery used, for its dollars.
    delivery: dollars::DeliveryUse,
    /// What the clients did to receive every change once (reconnects, duplicates dropped).
    resilience: clients::Resilience,
    /// Faults the stack injected.
    injected: banter_local::faults::Injected,
}

/// The fan-out jobs of a run, summed.
#[derive(Debug, Default, Serialize)]
struct JobsSummary {
    delivering_jobs: usize,
    splits: usize,
    posts_delivered: u64,
    retries: u64,
    unfinished_jobs: usize,
    job_elapsed_ms: Percentiles,
}

fn summarize_jobs(jobs: &[JobEnd]) -> JobsSummary {
    let delivering: Vec<&JobEnd> = jobs.iter().filter(|j| j.shards == 0).collect();
    let mut elapsed: Vec<Duration> = delivering
        .iter()
        .map(|j| Duration::from_millis(j.elapsed_ms))
        .collect();
    elapsed.sort();
    JobsSummary {
        delivering_jobs: delivering.len(),
        splits: jobs.len() - delivering.len(),
        posts_delivered: delivering.iter().map(|j| j.delivered).sum(),
        retries: jobs.iter().map(|j| j.retries).sum(),
        unfinished_jobs: jobs.iter().filter(|j| j.unfinished > 0).count(),
        job_elapsed_ms: Percentiles::of(&elapsed),
    }
}

fn result_json(
    options: &Options,
    row: &Row,
    summary: &Summary,
    jobs: &[JobEnd],
    facts: RunFacts,
) -> Value {
    let f = &options.fanout;
    let per_delivery_us = |cpu: Duration| {
        (summary.delivered > 0).then(|| cpu.as_secs_f64() * 1e6 / summary.delivered as f64)
    };
    json!({
        "benchmark": "fanout",
        "unix_time": unix_time(),
        "machine": {
            "cpus": std::thread::available_parallelism().map_or(0, usize::from),
            "load_average_1m_before": facts.load.0,
            "load_average_1m_after": facts.load.1,
        },
        "cpu": {
            "note": "CPU time used while the comments were delivered; the gateway's includes the sender and the tally",
            "gateway_process_ms": facts.gateway_cpu.as_secs_f64() * 1e3,
            "client_workers_ms": facts.clients_cpu.as_secs_f64() * 1e3,
            "gateway_us_per_delivery": per_delivery_us(facts.gateway_cpu),
            "clients_us_per_delivery": per_delivery_us(facts.clients_cpu),
        },
        "settings": {
            "clients": row.clients,
            "comments": options.comments,
            "rate_per_second": options.rate.unwrap_or_else(|| default_rate(row.clients)),
            "post_latency_ms": row.post_latency.as_secs_f64() * 1e3,
            "fanout": {
                "concurrency": f.concurrency,
                "record_concurrency": f.record_concurrency,
                "shard_threshold": f.shard_threshold,
                "shard_target": f.shard_target,
                "reshard_threshold": f.reshard_threshold,
                "page_size": f.page_size,
                "frames": format!("{:?}", f.frames),
                "post_budget": f.post_budget,
            },
            "fanout_environments": {
                "note": "local pollers, each one execution environment with its own concurrency bound",
                "fanout_queue": banter_local::GatewayConfig::default().pollers,
                "shard_queue": options.shard_environments,
            },
            "comment_via": "websocket comment_submit",
            "time_origin": "the comment_submit frame being sent",
        },
        "shards": row.shards,
        "bound_ms": row.bound.map(|b| b.as_secs_f64() * 1e3),
        "measured_to_all_p50_ms": row.to_all.p50,
        "ratio_to_bound": row.ratio(),
        "connect_seconds": facts.connect_time.as_secs_f64(),
        "run_seconds": facts.run_time.as_secs_f64(),
        "dropped_sockets": facts.dropped,
        "queue": {
            "drained": facts.queue_drained,
            "jobs_left": facts.queue_left,
            "dead_letters": facts.dead_letters,
        },
        "fanout_invocations": facts.invocations,
        "post_to_connection": {
            "calls": facts.posts,
            "per_second": facts.posts as f64 / facts.run_time.as_secs_f64().max(1e-9),
            "per_comment_per_viewer": facts.posts as f64
                / (options.comments.max(1) * row.clients.max(1)) as f64,
        },
        "fanout_jobs": summarize_jobs(jobs),
        "deliveries": summary,
        "delivery_dollars_per_million_comments": delivery_dollars(options, &facts),
        "faults": {
            "plan": options.inject.faults.iter().map(|f| json!({"status": f.status, "percent": f64::from(f.per_million) / 1e4})).collect::<Vec<_>>(),
            "dynamodb_percent": f64::from(options.inject.dynamodb) / 1e4,
            "sqs_percent": f64::from(options.inject.sqs) / 1e4,
            "seed": options.inject.seed,
            "injected": {
                "management": facts.injected.management.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<String, Value>>(),
                "dynamodb": facts.injected.dynamodb,
                "sqs_send_failures": facts.injected.sqs_send_failures,
                "sqs_duplicates": facts.injected.sqs_duplicates,
            },
            "failed_posts": facts.failed_posts,
            "client_reconnects": facts.resilience.reconnects,
            "entries_dropped_as_held": facts.resilience.position_duplicates,
            "dead_letters": facts.dead_letters,
        },
    })
}

/// The run's delivery in dollars per million comments ([`dollars`]); `null` when the
/// template cannot be read.
fn delivery_dollars(options: &Options, facts: &RunFacts) -> Value {
    let template = crate::cost::moto::repository_root().join("template.yaml");
    let Ok(functions) = crate::cost::pricing::functions(&template) else {
        return Value::Null;
    };
    let used = dollars::DeliveryUse {
        comments: options.comments as u64,
        ..facts.delivery
    };
    dollars::per_million(&used, &functions, &crate::cost::pricing::Prices::current())
}

/// Seconds since the Unix epoch (the results carry no time-zone dependency).
fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Invocations of the fan-out function so far (each one SQS batch).
fn fanout_invocations(gw: &banter_local::RunningGateway) -> u64 {
    gw.invocations().get("fanout").map_or(0, |f| f.count)
}

fn queue_len(gw: &banter_local::RunningGateway) -> usize {
    match gw.queue() {
        QueueHandle::Memory(q) => q.len(),
        QueueHandle::Sqs { .. } => 0,
    }
}

async fn wait_for_empty_queue(gw: &banter_local::RunningGateway, within: Duration) -> bool {
    let until = Instant::now() + within;
    loop {
        if queue_len(gw) == 0 {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The writer's connection, and what it takes to open it again.
struct Writer {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    ws_url: String,
    token: String,
    event_id: String,
}

/// A comment sent and not acked yet is sent again (same `message_id`: the server keeps one
/// comment per id and acks it again) after this long.
const RESEND_AFTER: Duration = Duration::from_secs(2);

/// Sends `count` comments, one every `every`, and reports sends and acks. A socket the
/// gateway closes (an injected 410) is opened again, and comments not acked (an ack lost to
/// a fault) are sent again with the same `message_id`, as a client does.
async fn send_comments(
    writer: Writer,
    count: usize,
    every: Duration,
    tx: mpsc::UnboundedSender<Sent>,
) {
    let Writer {
        socket,
        ws_url,
        token,
        event_id,
    } = writer;
    let frame_of = |i: usize| {
        json!({
            "type": "comment_submit",
            "message_id": format!("bench-{i}"),
            "payload": { "event_id": event_id, "content": format!("comment {i}") },
        })
        .to_string()
    };
    let (mut sink, mut stream) = socket.split();
    let mut unacked: std::collections::BTreeMap<usize, Instant> = Default::default();
    let mut next = 0usize;
    let start = Instant::now();
    let mut resend = tokio::time::interval(Duration::from_millis(500));
    loop {
        if next == count && unacked.is_empty() {
            return;
        }
        let due = start + every.mul_f64(next as f64);
        tokio::select! {
            () = tokio::time::sleep_until(due), if next < count => {
                let at = SystemTime::now();
                if sink.send(Message::Text(frame_of(next).into())).await.is_err() {
                    // Sent again after the reconnect below.
                }
                unacked.insert(next, Instant::now());
                if tx.send(Sent::At(next, at)).is_err() {
                    return;
                }
                next += 1;
            }
            _ = resend.tick() => {
                let late: Vec<usize> = unacked
                    .iter()
                    .filter(|(_, at)| at.elapsed() >= RESEND_AFTER)
                    .map(|(i, _)| *i)
                    .collect();
                for i in late {
                    let _ = sink.send(Message::Text(frame_of(i).into())).await;
                    unacked.insert(i, Instant::now());
                }
            }
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                    let index = v["message_id"]
                        .as_str()
                        .and_then(|m| m.strip_prefix("bench-"))
                        .and_then(|i| i.parse::<usize>().ok());
                    let report = match (v["type"].as_str(), index) {
                        (Some("ack"), Some(i)) => match v["payload"]["comment_id"].as_str() {
                            Some(id) => {
                                if unacked.remove(&i).is_none() {
                                    continue; // the ack of a resend, already counted
                                }
                                Sent::Acked(i, id.to_owned())
                            }
                            None => Sent::Failed(format!("ack without a comment id: {v}")),
                        },
                        (Some("error"), _) => Sent::Failed(format!("comment refused: {v}")),
                        _ => continue,
                    };
                    if tx.send(report).is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    match clients::connect(&ws_url, &token, None).await {
                        Ok(socket) => {
                            (sink, stream) = socket.split();
                            for i in unacked.keys().copied().collect::<Vec<_>>() {
                                let _ = sink.send(Message::Text(frame_of(i).into())).await;
                                unacked.insert(i, Instant::now());
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Sent::Failed(format!("reconnecting: {e}")));
                            return;
                        }
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The options of `fanout ARGS`; `None` for `--help`.
    fn parse_options(args: Vec<String>) -> Result<Option<Options>, BoxError> {
        use clap::Parser as _;
        match Flags::try_parse_from(std::iter::once("fanout".to_owned()).chain(args)) {
            Ok(flags) => Options::from_flags(flags).map(Some),
            Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    #[test]
    fn options_parse() {
        let o = parse_options(args(&[
            "--clients",
            "1000,10000",
            "--post-latency=0ms,20ms",
            "--concurrency",
            "32",
            "--shard-environments",
            "1",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(o.clients, [1_000, 10_000]);
        assert_eq!(
            o.post_latencies,
            [Duration::ZERO, Duration::from_millis(20)]
        );
        assert_eq!(o.fanout.concurrency, 32);
        assert_eq!(o.shard_environments, 1);
        assert!(parse_options(args(&["--shard-environments", "0"])).is_err());
        assert_eq!(o.rate, None);
        assert_eq!((default_rate(1_000), default_rate(10_000)), (1.0, 0.2));
        assert!(parse_options(args(&["--help"])).unwrap().is_none());
        assert!(parse_options(args(&["--clients", "x"])).is_err());
        assert!(parse_options(args(&["--rate", "0"])).is_err());
        assert!(parse_options(args(&["--concurrency", "0"])).is_err());
        assert!(parse_options(args(&["--bogus", "1"])).is_err());
    }

    #[test]
    fn the_ratio_compares_the_median_time_to_all_with_the_bound() {
        let row = Row {
            clients: 1_000,
            post_latency: Duration::from_millis(20),
            latency: Percentiles::default(),
            to_all: Percentiles {
                p50: 625.0,
                ..Percentiles::default()
            },
            fanout_per_second: 0.0,
            deliveries_per_second: 0.0,
            lost: 0,
            duplicated: 0,
            concurrency: 64,
            shards: 1,
            bound: Some(Duration::from_micros(312_500)),
            floor: None,
        };
        assert_eq!(row.ratio(), Some(2.0));
    }
}
