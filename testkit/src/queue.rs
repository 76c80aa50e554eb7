//! The fan-out jobs a request left on an in-memory queue.

use std::time::Duration;

use banter::queue::memory::MemoryQueue;
use banter::queue::{FanoutJob, Queue};

/// Every job now on `queue`, received and deleted (the queue is left empty).
pub async fn drain(queue: &MemoryQueue) -> Vec<FanoutJob> {
    let mut jobs = Vec::new();
    loop {
        let batch = queue
            .receive(10, Duration::ZERO)
            .await
            .expect("receive from the memory queue");
        if batch.is_empty() {
            return jobs;
        }
        for r in batch {
            queue.delete(&r.receipt).await.expect("delete the job");
            jobs.push(r.job);
        }
    }
}

/// A queue whose sends fail while [`FlakyQueue::set_failing`] is on (otherwise it is the
/// memory queue it wraps): a broadcast that cannot be enqueued after its item is stored.
pub struct FlakyQueue {
    inner: std::sync::Arc<MemoryQueue>,
    failing: std::sync::atomic::AtomicBool,
}

impl FlakyQueue {
    /// Wraps `inner`, working.
    pub fn new(inner: std::sync::Arc<MemoryQueue>) -> Self {
        Self {
            inner,
            failing: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Turns the outage on or off.
    pub fn set_failing(&self, failing: bool) {
        self.failing
            .store(failing, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl Queue for FlakyQueue {
    async fn send(&self, jobs: &[FanoutJob]) -> Result<(), banter::queue::QueueError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(banter::queue::QueueError::Backend("scripted outage".into()));
        }
        self.inner.send(jobs).await
    }
    async fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<banter::queue::Received>, banter::queue::QueueError> {
        self.inner.receive(max, wait).await
    }
    async fn delete(&self, receipt: &str) -> Result<(), banter::queue::QueueError> {
        self.inner.delete(receipt).await
    }
}

/// Where a test's reading of each room's stream has got to.
pub type Heard =
    std::sync::Mutex<std::collections::HashMap<banter::room::Room, banter::room::Position>>;

/// What the subscribers of the jobs' rooms are told, one frame per change as the
/// one-frame-per-entry delivery would post it: a frame job's payload as it is; for a stream
/// job, the room's entries after what `heard` has got to (its counts flushed first when the
/// job asks), rendered. Lets a request's test say what the room hears without running the
/// fan-out.
pub async fn heard(
    app: &banter::app::App,
    jobs: Vec<FanoutJob>,
    heard: &Heard,
) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for job in jobs {
        let Some(work) = job.stream else {
            out.push(job.payload);
            continue;
        };
        if work.counts
            && let banter::room::Room::Event(event) = job.room
        {
            app.stores
                .streams
                .flush_counts(event)
                .await
                .expect("flush counts");
        }
        let after = heard
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&job.room)
            .copied()
            .unwrap_or_default();
        let slice = app
            .stores
            .streams
            .read_stream(job.room, after, 1000)
            .await
            .expect("read the stream");
        let items = banter::stream::render(
            app.stores.users.as_ref(),
            Some(app.objects.as_ref()),
            &slice.entries,
        )
        .await
        .expect("render the stream");
        if let Some(last) = slice.entries.last() {
            heard
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(job.room, last.position);
        }
        for frame in banter::stream::legacy_frames(items) {
            out.push(serde_json::to_value(&frame).expect("frame to JSON"));
        }
    }
    out
}
