//! `banter-bench write-ceiling`: comments per second one room accepts from many concurrent
//! writers, on the DynamoDB adapter against moto behind a [latency proxy](proxy) (every request
//! waits `--db-latency` outside moto, as DynamoDB's round trip would). Each writer appends
//! comments to the same live event as fast as its answers come back, for `--duration`; the
//! run then reads the room's stream back and checks that its positions are exactly
//! `1..=head`, one entry each.
//!
//! moto serialises DynamoDB requests (one lock; about a millisecond each), so the figure is
//! also bounded by moto's own service time: the `0ms` run shows that bound.

mod proxy;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use banter::aws::AwsSettings;
use banter::ids::{CommentId, EventId, UserId};
use banter::model::{CLAIM_WINDOW, Change, Content, ModerationStatus, NewComment};
use banter::room::{Position, Room};
use banter::store::dynamodb::tables::{self, TableNames};
use banter::store::{StoreError, Stores};
use banter_local::flag_values::{at_least_one, duration};
use plotters::prelude::*;
use serde::Serialize;

use self::proxy::LatencyProxy;
use crate::BoxError;
use crate::cost::moto::Moto;
use crate::fanout::tally::Percentiles;

/// Comments per second one room accepts from many concurrent writers (DynamoDB on moto)
#[derive(Debug, Clone, clap::Parser)]
#[command(after_help = "Writes <out>/write-ceiling-<label>.json and .svg.")]
pub struct Flags {
    /// Concurrent writers; one run per value
    #[arg(long, value_name = "W[,W…]", value_delimiter = ',', default_value = "1,8,32,128", value_parser = at_least_one)]
    writers: Vec<usize>,
    /// How long each run writes
    #[arg(long, value_name = "D", default_value = "10s", value_parser = duration)]
    duration: Duration,
    /// Added to every DynamoDB request; one set of runs per value
    #[arg(long, value_name = "D[,D…]", value_delimiter = ',', default_value = "0ms,10ms", value_parser = duration)]
    db_latency: Vec<Duration>,
    /// Also run each writer count with one room per writer (nothing shared: what moto
    /// itself carries of this request mix)
    #[arg(long)]
    control: bool,
    /// Names the results (`before`, `after`…)
    #[arg(long, default_value = "current")]
    label: String,
    /// A moto endpoint to use instead of starting one
    #[arg(long, value_name = "URL")]
    aws_endpoint: Option<String>,
    /// Where the JSON and SVG go [default: bench/results]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// One run's figures.
#[derive(Debug, Clone, Serialize)]
struct RunFigures {
    writers: usize,
    rooms: usize,
    db_latency_ms: f64,
    seconds: f64,
    accepted: u64,
    accepted_per_second: f64,
    refused: u64,
    refusals: Vec<(String, u64)>,
    latency_ms: Percentiles,
    dynamodb_requests_per_comment: f64,
    stream_head: u64,
    stream_entries: u64,
    void_entries: u64,
    gap_free: bool,
}

/// Runs every (latency, writers) pair.
pub async fn run(flags: Flags) -> Result<(), BoxError> {
    let out = flags
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results"));
    std::fs::create_dir_all(&out)?;
    let moto = Moto::start_or_use(flags.aws_endpoint.as_deref()).await?;
    let mut runs = Vec::new();
    let mut bad = false;
    for &latency in &flags.db_latency {
        let proxy = LatencyProxy::start(moto.endpoint(), latency).await?;
        let stores = open_stores(proxy.url()).await?;
        let shapes = flags.writers.iter().flat_map(|&w| {
            let control = (flags.control && w > 1).then_some((w, w));
            std::iter::once((w, 1)).chain(control)
        });
        for (w, rooms) in shapes {
            let r = one_run(&stores, &proxy, w, rooms, latency, flags.duration).await?;
            println!(
                "db latency {:>4.0} ms, {w:>4} writers, {rooms:>4} room(s): {:>7.1} comments/s \
                 accepted, {} refused, p50 {:.1} ms p99 {:.1} ms, {:.2} DynamoDB \
                 requests/comment, gap-free {}",
                r.db_latency_ms,
                r.accepted_per_second,
                r.refused,
                r.latency_ms.p50,
                r.latency_ms.p99,
                r.dynamodb_requests_per_comment,
                r.gap_free
            );
            bad |= !r.gap_free;
            runs.push(r);
        }
    }
    moto.stop().await;
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let json = serde_json::json!({
        "benchmark": "write-ceiling",
        "label": flags.label,
        "commit": commit,
        "duration_s": flags.duration.as_secs_f64(),
        "method": "DynamoDB adapter (append_comment) against moto (bench/moto_server.py, one \
                   lock around DynamoDB requests) behind a TCP proxy adding db_latency_ms to \
                   every request; writers loop on one live event",
        "runs": runs,
    });
    let base = out.join(format!("write-ceiling-{}", flags.label));
    std::fs::write(
        base.with_extension("json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    plot(&base.with_extension("svg"), &flags.label, &runs)?;
    println!("wrote {}.json and .svg", base.display());
    if bad {
        return Err("a run's stream was not gap-free".into());
    }
    Ok(())
}

/// Fresh tables (a prefix of their own) on `endpoint`, and the stores over them.
async fn open_stores(endpoint: &str) -> Result<Stores, BoxError> {
    let sdk = AwsSettings::local(endpoint).load().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let id = UserId::new().to_string().replace('-', "");
    let names = TableNames::with_prefix(&format!("ceil-{}", &id[id.len() - 12..]));
    for def in tables::ALL {
        tables::create_table(&client, def, names.of(def)).await?;
    }
    Ok(banter::store::dynamodb::stores(client, names))
}

/// `writers` tasks appending to `rooms` new events (writer `i` to room `i % rooms`) for
/// `length`; then each stream is checked.
async fn one_run(
    stores: &Stores,
    proxy: &LatencyProxy,
    writers: usize,
    rooms: usize,
    latency: Duration,
    length: Duration,
) -> Result<RunFigures, BoxError> {
    let events: Vec<EventId> = (0..rooms.max(1)).map(|_| EventId::new()).collect();
    let requests_before = proxy.requests();
    let started = Instant::now();
    let deadline = started + length;
    let mut tasks = Vec::with_capacity(writers);
    for i in 0..writers {
        let event = events[i % events.len()];
        let comments = Arc::clone(&stores.comments);
        let user = UserId::new();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut refusals: Vec<String> = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let new = NewComment {
                    comment_id: CommentId::new(),
                    event_id: event,
                    user_id: user,
                    content: Content::parse("content", "GOAL! What a finish.")
                        .map_err(|e| format!("{e:?}"))?,
                    parent_comment_id: None,
                    client_key: None,
                    claim_window: CLAIM_WINDOW,
                    moderation_status: ModerationStatus::Approved,
                    client_metadata: None,
                    created_at: banter::time::now(),
                };
                match comments.append_comment(new).await {
                    Ok(_) => latencies.push(t.elapsed()),
                    Err(e) => refusals.push(refusal_kind(&e)),
                }
            }
            Ok::<_, String>((event, latencies, refusals))
        }));
    }
    let mut latencies = Vec::new();
    let mut accepted_in: std::collections::BTreeMap<EventId, u64> = Default::default();
    let mut refusals: std::collections::BTreeMap<String, u64> = Default::default();
    for t in tasks {
        let (event, l, r) = t.await??;
        *accepted_in.entry(event).or_default() += l.len() as u64;
        latencies.extend(l);
        for kind in r {
            *refusals.entry(kind).or_default() += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let requests = proxy.requests() - requests_before;
    latencies.sort_unstable();
    let accepted = latencies.len() as u64;
    let (mut head, mut entries, mut voids, mut gap_free) = (0, 0, 0, true);
    for event in &events {
        let want = accepted_in.get(event).copied().unwrap_or(0);
        let (h, e, v, ok) = check_stream(stores, *event, want).await?;
        head += h;
        entries += e;
        voids += v;
        gap_free &= ok;
    }
    Ok(RunFigures {
        writers,
        rooms: events.len(),
        db_latency_ms: latency.as_secs_f64() * 1_000.0,
        seconds,
        accepted,
        accepted_per_second: accepted as f64 / seconds,
        refused: refusals.values().sum(),
        refusals: refusals.into_iter().collect(),
        latency_ms: Percentiles::of(&latencies),
        dynamodb_requests_per_comment: requests as f64 / accepted.max(1) as f64,
        stream_head: head,
        stream_entries: entries,
        void_entries: voids,
        gap_free,
    })
}

fn refusal_kind(e: &StoreError) -> String {
    match e {
        StoreError::Throttled => "throttled (contention retries spent)".into(),
        other => {
            let text = other.to_string();
            text.chars().take(80).collect()
        }
    }
}

/// Reads the whole stream of `event`: (head, entries, void entries, whether positions are
/// exactly `1..=head` with one comment per accepted append).
async fn check_stream(
    stores: &Stores,
    event: EventId,
    accepted: u64,
) -> Result<(u64, u64, u64, bool), BoxError> {
    let room = Room::Event(event);
    let mut after = Position::ZERO;
    let mut entries = 0u64;
    let mut created = 0u64;
    let mut voids = 0u64;
    let mut contiguous = true;
    let head = loop {
        let slice = stores.streams.read_stream(room, after, 1000).await?;
        for e in &slice.entries {
            contiguous &= e.position == after.next() || e.position == after;
            after = e.position;
            entries += 1;
            match e.change {
                Change::CommentCreated { .. } => created += 1,
                Change::Void => voids += 1,
                _ => {}
            }
        }
        if !slice.has_more || slice.entries.is_empty() {
            break slice.head;
        }
    };
    let gap_free = contiguous && after == head && created == accepted;
    Ok((head.0, entries, voids, gap_free))
}

/// Accepted comments per second against writers, one line per latency.
fn plot(path: &std::path::Path, label: &str, runs: &[RunFigures]) -> Result<(), BoxError> {
    let max_w = runs.iter().map(|r| r.writers).max().unwrap_or(1) as f64;
    let max_y = runs
        .iter()
        .map(|r| r.accepted_per_second)
        .fold(1.0, f64::max)
        * 1.15;
    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Comments/s one room accepts ({label})"),
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d((1.0f64..max_w * 1.2).log_scale(), 0.0..max_y)?;
    chart
        .configure_mesh()
        .x_desc("concurrent writers")
        .y_desc("comments accepted per second")
        .draw()?;
    let mut latencies: Vec<f64> = runs.iter().map(|r| r.db_latency_ms).collect();
    latencies.dedup();
    for (i, l) in latencies.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points: Vec<(f64, f64)> = runs
            .iter()
            .filter(|r| r.db_latency_ms == *l && r.rooms == 1)
            .map(|r| (r.writers as f64, r.accepted_per_second))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(format!("DynamoDB latency {l:.0} ms"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 4, color.filled())),
        )?;
        let control: Vec<(f64, f64)> = runs
            .iter()
            .filter(|r| r.db_latency_ms == *l && r.rooms > 1)
            .map(|r| (r.writers as f64, r.accepted_per_second))
            .collect();
        if !control.is_empty() {
            chart
                .draw_series(DashedLineSeries::new(control, 6, 4, color.stroke_width(1)))?
                .label(format!("{l:.0} ms, one room per writer (moto's own bound)"))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
