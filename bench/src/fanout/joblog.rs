//! What the fan-out reported about each job it handled, read from its own log events: the
//! `info!`/`warn!` the library emits at the end of every job ("fan-out job delivered",
//! "fan-out job unfinished", "room over the threshold: shard jobs enqueued"), which carry
//! `elapsed_ms` and the job's counts. A process-wide [`tracing`] subscriber that is interested
//! in those events only (every other callsite stays disabled, so logging costs the benchmark
//! nothing) collects them.

use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

/// One job's end, as the fan-out logged it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobEnd {
    /// Subscribers read in the job's range (0 for a split).
    pub subscribers: u64,
    /// Posts delivered.
    pub delivered: u64,
    /// Connections left failing (the job will run again).
    pub unfinished: u64,
    /// Retried posts.
    pub retries: u64,
    /// Shard jobs enqueued (a split), else 0.
    pub shards: u64,
    /// Time the job took, in milliseconds.
    pub elapsed_ms: u64,
}

/// The jobs logged since [`JobLog::take`] was last called.
#[derive(Debug, Default)]
pub struct JobLog {
    jobs: Mutex<Vec<JobEnd>>,
}

impl JobLog {
    /// Installs the collecting subscriber for the whole process; `None` when another global
    /// subscriber was installed first.
    pub fn install() -> Option<Arc<JobLog>> {
        let log = Arc::new(JobLog::default());
        tracing::subscriber::set_global_default(Collector(log.clone())).ok()?;
        Some(log)
    }

    /// The jobs logged so far, emptying the log.
    pub fn take(&self) -> Vec<JobEnd> {
        std::mem::take(&mut *self.jobs.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

struct Collector(Arc<JobLog>);

/// Whether `m` is one of the fan-out's end-of-job events.
fn wanted(m: &Metadata<'_>) -> bool {
    m.is_event() && m.target() == "banter::fanout" && m.fields().field("elapsed_ms").is_some()
}

impl Subscriber for Collector {
    fn register_callsite(&self, m: &'static Metadata<'static>) -> Interest {
        if wanted(m) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, m: &Metadata<'_>) -> bool {
        wanted(m)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut job = JobEnd::default();
        event.record(&mut job);
        self.0
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(job);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

impl Visit for JobEnd {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "subscribers" => self.subscribers = value,
            "delivered" => self.delivered = value,
            "unfinished" => self.unfinished = value,
            "retries" => self.retries = value,
            "shards" => self.shards = value,
            "elapsed_ms" => self.elapsed_ms = value,
            _ => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_u64(field, u64::try_from(value).unwrap_or(0));
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}
