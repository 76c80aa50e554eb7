//! One audience size, measured: start the stack on moto, create the users, make a live event,
//! connect and subscribe the audience, post the comments one at a time over REST (each
//! awaited until every client has it), and close the audience, taking every counter before
//! and after each phase once the stack is quiet.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use banter::ids::UserId;
use indicatif::{ProgressBar, ProgressStyle};

use super::phase::{Phase, Probe};
use super::results::{AudienceRun, Dollars};
use super::stack::{Stack, StackSettings};
use crate::BoxError;
use crate::clients::{self, Audience};

/// Users created per call (for progress).
const USER_CHUNK: usize = 250;

/// How long counters must stay still for the stack to count as quiet.
const QUIET: Duration = Duration::from_millis(1500);

/// Longest wait for the stack to become quiet.
const SETTLE_LIMIT: Duration = Duration::from_secs(120);

/// Longest wait for every client to receive one comment.
const DELIVERY_LIMIT: Duration = Duration::from_secs(180);

/// Longest wait for every `$disconnect`.
const DISCONNECT_LIMIT: Duration = Duration::from_secs(600);

fn bar(len: usize, label: String) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{prefix:>22} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(label);
    bar
}

/// Ends `bar`; when it is not drawn (not a terminal) says on stderr what it counted.
fn done(bar: &ProgressBar) {
    bar.finish();
    if bar.is_hidden() {
        eprintln!(
            "{} {}/{} {} ({:.1} s)",
            bar.prefix(),
            bar.position(),
            bar.length().unwrap_or(0),
            bar.message(),
            bar.elapsed().as_secs_f64()
        );
    }
}

/// Waits until no counter has moved for [`QUIET`] (at most [`SETTLE_LIMIT`]); returns the
/// counters then.
async fn settle(stack: &Stack) -> Probe {
    let limit = Instant::now() + SETTLE_LIMIT;
    let mut last = Probe::of(stack);
    let mut still_since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = Probe::of(stack);
        if now.activity() != last.activity() {
            last = now;
            still_since = Instant::now();
        } else if still_since.elapsed() >= QUIET || Instant::now() > limit {
            return now;
        }
    }
}

/// Waits until `function` has been invoked `count` times (at most `limit`).
async fn invoked(
    stack: &Stack,
    function: &str,
    count: u64,
    limit: Duration,
) -> Result<(), BoxError> {
    let deadline = Instant::now() + limit;
    while Probe::of(stack).invocations_of(function) < count {
        if Instant::now() > deadline {
            return Err(format!("{function} was not invoked {count} times in time").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Creates `n` users through the app, `USER_CHUNK` at a time.
async fn users(stack: &Stack, n: usize, label: &str) -> Result<Vec<UserId>, BoxError> {
    let progress = bar(n, format!("{label} users"));
    let mut ids = Vec::with_capacity(n);
    let mut chunk = 0;
    while ids.len() < n {
        let take = USER_CHUNK.min(n - ids.len());
        let prefix = format!("cost{chunk}");
        ids.extend(clients::create_users(stack.gateway.app(), take, &prefix).await?);
        progress.set_position(ids.len() as u64);
        chunk += 1;
    }
    done(&progress);
    Ok(ids)
}

/// What the clients received while the comments were posted.
#[derive(Debug, Default)]
struct Deliveries {
    received: u64,
    duplicates: u64,
}

/// Posts `comments` comments as `poster` over REST, one at a time, each awaited until every
/// client of `audience` has it.
async fn comments(
    stack: &Stack,
    audience: &mut Audience,
    poster: UserId,
    event: &str,
    comments: usize,
    label: &str,
) -> Result<Deliveries, BoxError> {
    let progress = bar(comments, format!("{label} comments"));
    let mut d = Deliveries::default();
    for i in 0..comments {
        let token = stack
            .gateway
            .app()
            .sessions
            .login_tokens(poster, banter::time::now())
            .await?
            .access_token;
        let content = format!("cost benchmark comment {i}");
        let id = stack.post_comment(&token, event, &content).await?;
        let mut got: HashSet<usize> = HashSet::with_capacity(audience.clients());
        let deadline = tokio::time::Instant::now() + DELIVERY_LIMIT;
        while got.len() < audience.clients() {
            let receipt = tokio::time::timeout_at(deadline, audience.recv()).await;
            let Ok(Some(r)) = receipt else {
                return Err(format!(
                    "comment {i}: {} of {} clients received it (dropped: {:?})",
                    got.len(),
                    audience.clients(),
                    audience.dropped().iter().take(3).collect::<Vec<_>>()
                )
                .into());
            };
            if r.frame_type == "comment_broadcast" && r.id.as_deref() == Some(id.as_str()) {
                d.received += 1;
                if !got.insert(r.client) {
                    d.duplicates += 1;
                }
            }
        }
        progress.set_message(format!("{} clients", got.len()));
        progress.inc(1);
    }
    done(&progress);
    // Duplicates that arrive late still count.
    while let Some(r) = audience.try_recv() {
        if r.frame_type == "comment_broadcast" {
            d.received += 1;
            d.duplicates += 1;
        }
    }
    Ok(d)
}

/// Measures one audience of `size` clients with `count` comments (and `$disconnect` when
/// `disconnect`).
pub async fn measure(
    settings: &StackSettings,
    size: usize,
    count: usize,
    disconnect: bool,
) -> Result<AudienceRun, BoxError> {
    let label = format!("[{size}]");
    let settings = StackSettings {
        deliver_disconnect: disconnect,
        ..settings.clone()
    };
    let stack = Stack::start(&settings).await?;
    let result = phases(&stack, size, count, disconnect, &label).await;
    stack.stop().await;
    result
}

async fn phases(
    stack: &Stack,
    size: usize,
    count: usize,
    disconnect: bool,
    label: &str,
) -> Result<AudienceRun, BoxError> {
    let p0 = settle(stack).await;
    let started = Instant::now();
    let ids = users(stack, size, label).await?;
    let p1 = settle(stack).await;
    let per_user = Phase::between(&p0, &p1, size as f64, started.elapsed().as_secs_f64());

    let poster = *ids.first().ok_or("no users")?;
    let event = clients::live_event(stack.gateway.app(), poster, "cost benchmark").await?;
    // Going live broadcasts the status to the (empty) room: one fan-out invocation.
    invoked(
        stack,
        "fanout",
        p1.invocations_of("fanout") + 1,
        SETTLE_LIMIT,
    )
    .await?;
    let tokens = clients::access_tokens(stack.gateway.app(), &ids).await?;
    let p2 = settle(stack).await;

    let started = Instant::now();
    let progress = bar(size, format!("{label} connect"));
    let mut audience = Audience::open(&stack.gateway.ws_url(), Some(event), 0, tokens, |n| {
        progress.set_position(n as u64);
    })
    .await?;
    done(&progress);
    let p3 = settle(stack).await;
    let per_connect = Phase::between(&p2, &p3, size as f64, started.elapsed().as_secs_f64());

    let started = Instant::now();
    let event_id = event.to_string();
    let d = comments(stack, &mut audience, poster, &event_id, count, label).await?;
    let p4 = settle(stack).await;
    let per_comment = Phase::between(&p3, &p4, count as f64, started.elapsed().as_secs_f64());

    let per_disconnect = if disconnect {
        let started = Instant::now();
        let before = p4.invocations_of("ws-disconnect");
        let progress = bar(size, format!("{label} disconnect"));
        audience.close().await?;
        let deadline = Instant::now() + DISCONNECT_LIMIT;
        loop {
            let done = Probe::of(stack).invocations_of("ws-disconnect") - before;
            progress.set_position(done);
            if done >= size as u64 || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        done(&progress);
        let p5 = settle(stack).await;
        Some(Phase::between(
            &p4,
            &p5,
            size as f64,
            started.elapsed().as_secs_f64(),
        ))
    } else {
        audience.close().await?;
        None
    };

    let connection_item_bytes = per_connect
        .mean_item_bytes("connections", "CONN/CONN")
        .unwrap_or(0.0);
    Ok(AudienceRun {
        audience: size,
        comments: count,
        broadcasts_received: d.received,
        duplicates: d.duplicates,
        per_comment,
        per_user,
        per_connect,
        per_disconnect,
        connection_item_bytes,
        dollars: Dollars::default(),
    })
}
