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
