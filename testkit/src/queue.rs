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
