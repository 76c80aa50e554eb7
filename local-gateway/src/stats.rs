//! What the gateway did, for benchmarks and tests: every function invocation with its
//! duration ([`Invocations`]), and every `PostToConnection` the functions made through the
//! management API ([`Posts`], counted by [`CountingPoster`] around the real poster).
//!
//! [`RunningGateway::invocations`](crate::RunningGateway::invocations) and
//! [`RunningGateway::posts`](crate::RunningGateway::posts) return snapshots; subtract an
//! earlier snapshot ([`FunctionStats::since`], [`PostStats::since`]) to get what one phase of a
//! run cost.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use banter::ids::ConnectionId;
use banter::poster::{PostError, Poster};

use banter::functions::Function;

/// The invocations of one function.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionStats {
    /// Invocations.
    pub count: u64,
    /// Each invocation's duration (handler start to its answer, or to the function's
    /// timeout), in the order they ended.
    pub durations: Vec<Duration>,
}

impl FunctionStats {
    /// Sum of the durations.
    pub fn total(&self) -> Duration {
        self.durations.iter().sum()
    }

    /// The invocations that ended after `earlier` (an earlier snapshot of the same function).
    pub fn since(&self, earlier: &FunctionStats) -> FunctionStats {
        let skip = usize::try_from(earlier.count).unwrap_or(usize::MAX);
        FunctionStats {
            count: self.count.saturating_sub(earlier.count),
            durations: self.durations.iter().skip(skip).copied().collect(),
        }
    }
}

/// Invocation counts and durations of every function, keyed by its binary name (`comments`,
/// `ws-connect`, `fanout`, … as in `Metadata.BuildProperties.Binary`).
#[derive(Debug, Default)]
pub struct Invocations {
    by_function: Mutex<BTreeMap<&'static str, FunctionStats>>,
}

impl Invocations {
    /// Runs `work` as one invocation of `handler`'s function and records how long it took.
    pub async fn timed<F: Future>(&self, handler: Function, work: F) -> F::Output {
        let started = Instant::now();
        let output = work.await;
        self.record(handler, started.elapsed());
        output
    }

    /// Records one invocation of `handler`'s function that took `duration`.
    pub fn record(&self, handler: Function, duration: Duration) {
        let mut map = self
            .by_function
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let stats = map.entry(handler.binary()).or_default();
        stats.count += 1;
        stats.durations.push(duration);
    }

    /// Every function invoked so far, by binary name.
    pub fn snapshot(&self) -> BTreeMap<String, FunctionStats> {
        self.by_function
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }
}

/// `PostToConnection` calls of one function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PostStats {
    /// Calls the management API answered with success.
    pub delivered: u64,
    /// Calls that failed (410, 429, 413, 5xx, transport), retries included.
    pub failed: u64,
    /// Payload bytes of the delivered calls.
    pub bytes: u64,
    /// API Gateway's metering of the delivered calls: one message per started 32 KB of each.
    pub metered_messages: u64,
    /// Calls in flight now.
    pub in_flight: u64,
    /// The most calls that were in flight at once, since the gateway started.
    pub max_in_flight: u64,
}

/// API Gateway meters WebSocket messages in 32 KB increments.
pub const MESSAGE_METERING_BYTES: u64 = 32 * 1024;

impl PostStats {
    /// What happened after `earlier` (an earlier snapshot of the same function).
    pub fn since(&self, earlier: &PostStats) -> PostStats {
        PostStats {
            delivered: self.delivered.saturating_sub(earlier.delivered),
            failed: self.failed.saturating_sub(earlier.failed),
            bytes: self.bytes.saturating_sub(earlier.bytes),
            metered_messages: self
                .metered_messages
                .saturating_sub(earlier.metered_messages),
            in_flight: self.in_flight,
            max_in_flight: self.max_in_flight,
        }
    }

    fn start(&mut self) {
        self.in_flight += 1;
        self.max_in_flight = self.max_in_flight.max(self.in_flight);
    }

    fn add(&mut self, len: usize, ok: bool) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if ok {
            let len = u64::try_from(len).unwrap_or(u64::MAX);
            self.delivered += 1;
            self.bytes += len;
            self.metered_messages += len.div_ceil(MESSAGE_METERING_BYTES).max(1);
        } else {
            self.failed += 1;
        }
    }
}

/// `PostToConnection` counts of every function that posts, keyed by its binary name.
#[derive(Debug, Default)]
pub struct Posts {
    by_function: Mutex<BTreeMap<&'static str, PostStats>>,
}

impl Posts {
    fn start(&self, function: &'static str) {
        self.by_function
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(function)
            .or_default()
            .start();
    }

    /// Ends a call that [`Posts::start`] counted.
    fn record(&self, function: &'static str, len: usize, ok: bool) {
        self.by_function
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(function)
            .or_default()
            .add(len, ok);
    }

    /// Every function that posted so far, by binary name.
    pub fn snapshot(&self) -> BTreeMap<String, PostStats> {
        self.by_function
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect()
    }
}

/// A [`Poster`] that counts every post of one function into [`Posts`] and hands it on.
pub struct CountingPoster {
    inner: Arc<dyn Poster>,
    posts: Arc<Posts>,
    function: &'static str,
}

impl CountingPoster {
    /// Counts `handler`'s posts through `inner` into `posts`.
    pub fn new(inner: Arc<dyn Poster>, posts: Arc<Posts>, handler: Function) -> Self {
        Self {
            inner,
            posts,
            function: handler.binary(),
        }
    }
}

impl std::fmt::Debug for CountingPoster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountingPoster")
            .field("function", &self.function)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Poster for CountingPoster {
    async fn post(&self, connection: &ConnectionId, data: &[u8]) -> Result<(), PostError> {
        self.posts.start(self.function);
        // Counted as ended even when this future is dropped mid-call.
        let mut finish = FinishGuard {
            posts: &self.posts,
            function: self.function,
            len: data.len(),
            ok: false,
        };
        let result = self.inner.post(connection, data).await;
        finish.ok = result.is_ok();
        result
    }

    /// Not counted as a post: a close carries no frame.
    async fn disconnect(&self, connection: &ConnectionId) -> Result<(), PostError> {
        self.inner.disconnect(connection).await
    }
}

/// Records the end of a post when dropped.
struct FinishGuard<'a> {
    posts: &'a Posts,
    function: &'static str,
    len: usize,
    ok: bool,
}

impl Drop for FinishGuard<'_> {
    fn drop(&mut self) {
        self.posts.record(self.function, self.len, self.ok);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use banter::poster::memory::MemoryPoster;

    #[tokio::test]
    async fn invocations_are_counted_and_diffed() {
        let inv = Invocations::default();
        inv.record(Function::Fanout, Duration::from_millis(5));
        let before = inv.snapshot();
        let out = inv.timed(Function::Fanout, async { 7 }).await;
        assert_eq!(out, 7);
        inv.record(Function::WsConnect, Duration::from_millis(2));
        let after = inv.snapshot();
        let fanout = after["fanout"].since(&before["fanout"]);
        assert_eq!(fanout.count, 1);
        assert_eq!(fanout.durations.len(), 1);
        assert_eq!(after["ws-connect"].count, 1);
        assert_eq!(
            after["fanout"].total(),
            Duration::from_millis(5) + fanout.total()
        );
    }

    #[tokio::test]
    async fn posts_are_counted_with_their_metering() {
        let posts = Arc::new(Posts::default());
        let memory = Arc::new(MemoryPoster::new());
        let id: ConnectionId = "L0SM9cOFvHcCIhw="
            .parse()
            .unwrap_or_else(|_| unreachable!());
        let _frames = memory.open(id.clone());
        let poster = CountingPoster::new(memory.clone(), posts.clone(), Function::Fanout);
        let big = vec![b'x'; 40 * 1024];
        assert!(poster.post(&id, b"hello").await.is_ok());
        assert!(poster.post(&id, &big).await.is_ok());
        memory.close(&id);
        assert!(poster.post(&id, b"gone").await.is_err());
        let s = posts.snapshot()["fanout"];
        assert_eq!((s.delivered, s.failed), (2, 1));
        assert_eq!(s.bytes, 5 + 40 * 1024);
        assert_eq!(s.metered_messages, 1 + 2);
        // One call at a time, each counted as ended.
        assert_eq!((s.in_flight, s.max_in_flight), (0, 1));
        let later = PostStats { delivered: 3, ..s };
        assert_eq!(later.since(&s).delivered, 1);
    }
}
