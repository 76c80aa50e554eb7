//! Fan-out throughput through the real `ApiGatewayPoster` (aws-sdk-apigatewaymanagement,
//! SigV4-signed HTTP/1.1 requests) against a local management endpoint that answers 200 to
//! every `POST /{stage}/@connections/{id}`, optionally after a fixed latency.
//!
//! ```text
//! cargo run --release -p banter --example fanout_bench
//! ```
//!
//! Part 1 delivers one job to a room of 5,000 subscribers (as one shard job, so it is posted
//! inline) at several concurrency bounds and latencies, and reports the CPU time per post
//! (client and endpoint together: both run in this process). Part 2 broadcasts to 100,000
//! subscribers the way production does: the whole-room job is split into shard jobs on an
//! in-memory queue, and every shard job is then delivered by its own `Fanout` (one per
//! simulated Lambda instance) at the same time, posting to a poster that only waits 20 ms
//! (this machine's CPUs cannot stand in for one vCPU per Lambda instance).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use banter::aws::AwsSettings;
use banter::fanout::{Fanout, FanoutConfig};
use banter::ids::ConnectionId;
use banter::ids::{EventId, UserId};
use banter::model::{BucketRange, Subscription, connection_expiry};
use banter::poster::apigw::ApiGatewayPoster;
use banter::poster::{PostError, Poster};
use banter::queue::memory::MemoryQueue;
use banter::queue::{FanoutJob, Queue};
use banter::room::Room;
use banter::store::ConnectionStore;
use banter::store::memory::connections::MemoryConnectionStore;
use tokio::time::Instant;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A poster that only waits: API Gateway's latency without this process's CPU cost.
struct SleepPoster {
    latency: Duration,
    posts: AtomicU64,
}

#[async_trait::async_trait]
impl Poster for SleepPoster {
    async fn post(&self, _: &ConnectionId, _: &[u8]) -> Result<(), PostError> {
        tokio::time::sleep(self.latency).await;
        self.posts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn disconnect(&self, _: &ConnectionId) -> Result<(), PostError> {
        tokio::time::sleep(self.latency).await;
        Ok(())
    }
}

/// CPU time (user + system) this process has used, from `/proc/self/stat` (Linux).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // The kernel reports in USER_HZ, 100 on Linux.
    Some(Duration::from_millis(ticks * 10))
}

#[derive(Clone)]
struct Endpoint {
    latency_ms: Arc<AtomicU64>,
    posts: Arc<AtomicU64>,
}

async fn accept(State(e): State<Endpoint>) -> StatusCode {
    let ms = e.latency_ms.load(Ordering::Relaxed);
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    e.posts.fetch_add(1, Ordering::Relaxed);
    StatusCode::OK
}

async fn serve() -> Result<(Endpoint, String), BoxError> {
    let endpoint = Endpoint {
        latency_ms: Arc::new(AtomicU64::new(0)),
        posts: Arc::new(AtomicU64::new(0)),
    };
    let app = Router::new()
        .route("/{stage}/@connections/{id}", post(accept))
        .with_state(endpoint.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("endpoint stopped: {e}");
        }
    });
    Ok((endpoint, format!("http://{addr}/bench")))
}

async fn room_of(n: usize) -> Result<(Arc<MemoryConnectionStore>, Room), BoxError> {
    let store = Arc::new(MemoryConnectionStore::default());
    let room = Room::Event(EventId::new());
    let now = banter::time::now();
    for i in 0..n {
        store
            .subscribe(&Subscription {
                room,
                connection_id: format!("bench{i:07}Q=").parse()?,
                user_id: Some(UserId::new()),
                subscribed_at: now,
                expires_at: connection_expiry(now),
            })
            .await?;
    }
    Ok((store, room))
}

fn payload() -> serde_json::Value {
    serde_json::json!({
        "type": "comment_broadcast",
        "message_id": uuid::Uuid::now_v7().to_string(),
        "timestamp": "2025-09-01T19:04:12.345Z",
        "payload": {"content": "What a goal!", "position": 1042, "like_count": 0},
    })
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(600)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let (endpoint, url) = serve().await?;
    let sdk = AwsSettings::local("http://127.0.0.1:9").load().await;
    let poster: Arc<dyn Poster> = Arc::new(ApiGatewayPoster::new(&sdk, url));
    let queue: Arc<dyn Queue> = Arc::new(MemoryQueue::new(Duration::from_secs(60), 3));

    println!("Part 1: one job, posted inline through ApiGatewayPoster");
    println!(
        "{:>11} {:>11} {:>12} {:>10} {:>10} {:>13}",
        "subscribers", "concurrency", "latency/post", "elapsed", "posts/s", "CPU µs/post"
    );
    let (store_5k, room_5k) = room_of(5_000).await?;
    let (store_200, room_200) = room_of(200).await?;
    // Warm the client's connection pool.
    {
        let fanout = Fanout::new(
            store_200.clone(),
            poster.clone(),
            queue.clone(),
            FanoutConfig::default(),
        )?;
        let job = FanoutJob {
            shard: Some(BucketRange::ALL),
            ..FanoutJob::new(room_200, payload())
        };
        fanout.deliver(&job, far()).await?;
    }
    let cases: [(usize, u64, bool); 6] = [
        (1, 0, true),
        (16, 0, true),
        (64, 0, true),
        (1, 20, false),
        (16, 20, true),
        (64, 20, true),
    ];
    for (concurrency, latency_ms, big) in cases {
        let (store, room, n) = if big {
            (store_5k.clone(), room_5k, 5_000)
        } else {
            (store_200.clone(), room_200, 200)
        };
        endpoint.latency_ms.store(latency_ms, Ordering::Relaxed);
        let fanout = Fanout::new(
            store,
            poster.clone(),
            queue.clone(),
            FanoutConfig {
                concurrency,
                reshard_threshold: 1_000_000,
                ..FanoutConfig::default()
            },
        )?;
        let job = FanoutJob {
            shard: Some(BucketRange::ALL),
            ..FanoutJob::new(room, payload())
        };
        let before = endpoint.posts.load(Ordering::Relaxed);
        let cpu_before = cpu_time();
        let started = Instant::now();
        let report = fanout.deliver(&job, far()).await?;
        let elapsed = started.elapsed();
        let cpu = cpu_before
            .zip(cpu_time())
            .map(|(a, b)| format!("{:.0}", (b - a).as_secs_f64() * 1e6 / n as f64))
            .unwrap_or_else(|| "n/a".into());
        let posted = endpoint.posts.load(Ordering::Relaxed) - before;
        assert_eq!(report.delivered, n);
        assert_eq!(posted, n as u64);
        println!(
            "{:>11} {:>11} {:>10}ms {:>9.2}s {:>10.0} {:>13}",
            n,
            concurrency,
            latency_ms,
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64(),
            cpu
        );
    }

    println!();
    println!("Part 2: 100,000 subscribers, sharded (1,000 per shard); every shard job is");
    println!("        delivered at once by its own Fanout (concurrency 64 each), as one Lambda");
    println!("        instance per shard would. Posts go to a poster that only waits 20 ms:");
    println!("        Part 1 shows one process's CPU caps real posts at a few thousand per");
    println!("        second, and this box cannot stand in for ~100 Lambda vCPUs.");
    let (store, room) = room_of(100_000).await?;
    let queue = Arc::new(MemoryQueue::new(Duration::from_secs(60), 3));
    let sleeper = Arc::new(SleepPoster {
        latency: Duration::from_millis(20),
        posts: AtomicU64::new(0),
    });
    let coordinator = Fanout::new(
        store.clone(),
        sleeper.clone(),
        queue.clone(),
        FanoutConfig::default(),
    )?;
    let started = Instant::now();
    let split = coordinator
        .deliver(&FanoutJob::new(room, payload()), far())
        .await?;
    let split_time = started.elapsed();
    let mut jobs = Vec::new();
    loop {
        let received = queue.receive(10, Duration::ZERO).await?;
        if received.is_empty() {
            break;
        }
        for r in received {
            queue.delete(&r.receipt).await?;
            jobs.push(r.job);
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for job in jobs {
        let lambda = Fanout::new(
            store.clone() as Arc<dyn ConnectionStore>,
            sleeper.clone(),
            queue.clone(),
            FanoutConfig::default(),
        )?;
        tasks.spawn(async move {
            let started = Instant::now();
            let report = lambda.deliver(&job, far()).await;
            (report, started.elapsed())
        });
    }
    let mut delivered = 0;
    let mut slowest = Duration::ZERO;
    let mut sizes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (report, took) = joined?;
        let report = report?;
        delivered += report.delivered;
        sizes.push(report.subscribers);
        slowest = slowest.max(took);
    }
    let total = started.elapsed();
    assert_eq!(delivered, 100_000);
    assert_eq!(sleeper.posts.load(Ordering::Relaxed), 100_000);
    sizes.sort_unstable();
    println!(
        "  shards: {} (subscribers per shard: min {}, median {}, max {})",
        split.shards.len(),
        sizes.first().copied().unwrap_or(0),
        sizes.get(sizes.len() / 2).copied().unwrap_or(0),
        sizes.last().copied().unwrap_or(0)
    );
    println!(
        "  split (read 1,001 subscriptions, enqueue the shard jobs): {:.3}s",
        split_time.as_secs_f64()
    );
    println!(
        "  slowest shard, all running at once: {:.2}s",
        slowest.as_secs_f64()
    );
    println!(
        "  whole broadcast (split + every shard): {:.2}s",
        total.as_secs_f64()
    );
    let lambda = Fanout::new(store, sleeper, queue, FanoutConfig::default())?;
    let shard = FanoutJob {
        shard: split.shards.first().copied(),
        ..FanoutJob::new(room, payload())
    };
    let started = Instant::now();
    let report = lambda.deliver(&shard, far()).await?;
    println!(
        "  one shard alone ({} subscribers): {:.2}s",
        report.subscribers,
        started.elapsed().as_secs_f64()
    );
    println!(
        "  (unsharded, one instance at concurrency 64 would need 100,000 / 64 x 20 ms = {:.0}s)",
        100_000.0 / 64.0 * 0.020
    );
    Ok(())
}
