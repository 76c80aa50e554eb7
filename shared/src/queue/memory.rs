//! In-memory queue with the semantics of an SQS standard queue and its dead-letter queue: the
//! local stack and the tests use it where Lambda would use SQS.
//!
//! - A received job is invisible for the queue's visibility timeout; unless it is deleted in
//!   that time it becomes visible again and its next receive counts one more.
//! - A job that has been received `max_receive_count` times and not deleted moves to the
//!   dead-letter store on its next would-be receive (as SQS's redrive policy does); inspect it
//!   with [`MemoryQueue::dead_letters`].
//! - Every receive hands out a new receipt handle. Only the latest one deletes the job: a
//!   receipt from an earlier receive of a job that has since been received again is stale, and
//!   deleting with it (like deleting with an unknown or already used receipt) does nothing and
//!   succeeds. (SQS documents the same rule: "the request succeeds, but the message might not
//!   be deleted".)
//! - Jobs are handed out in the order they were sent (SQS standard queues only try to).
//!
//! Time is [`tokio::time`], so tests can pause and advance the clock.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{FanoutJob, Queue, QueueError, Received, encode_job};

/// Most jobs one receive returns (SQS's `MaxNumberOfMessages` limit).
const MAX_RECEIVE_BATCH: usize = 10;

/// Longest wait honoured; longer waits are cut to this (keeps `Instant` arithmetic in range).
const MAX_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// One job in the queue.
#[derive(Debug)]
struct Message {
    message_id: String,
    job: FanoutJob,
    receive_count: u32,
    /// Visible when this is not in the future.
    visible_at: Instant,
    /// The receipt of the latest receive, if any.
    receipt: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    /// Jobs by send sequence number (so oldest first).
    messages: BTreeMap<u64, Message>,
    /// Latest receipt handle → sequence number of its job.
    receipts: HashMap<String, u64>,
    /// Jobs moved to the dead-letter store, oldest first.
    dead: Vec<FanoutJob>,
    next_seq: u64,
    next_receipt: u64,
}

/// An in-memory fan-out queue with a visibility timeout and a dead-letter store. See the
/// [module documentation](self) for its exact semantics.
#[derive(Debug)]
pub struct MemoryQueue {
    visibility_timeout: Duration,
    max_receive_count: u32,
    state: Mutex<State>,
    notify: Notify,
}

impl MemoryQueue {
    /// A queue whose received jobs stay invisible for `visibility_timeout`, and whose jobs move
    /// to the dead-letter store after `max_receive_count` receives without a delete (a count of
    /// 0 is taken as 1, as SQS requires at least 1).
    pub fn new(visibility_timeout: Duration, max_receive_count: u32) -> Self {
        Self {
            visibility_timeout,
            max_receive_count: max_receive_count.max(1),
            state: Mutex::new(State::default()),
            notify: Notify::new(),
        }
    }

    /// The visibility timeout of received jobs.
    pub fn visibility_timeout(&self) -> Duration {
        self.visibility_timeout
    }

    /// How many receives without a delete move a job to the dead-letter store.
    pub fn max_receive_count(&self) -> u32 {
        self.max_receive_count
    }

    /// Number of jobs in the queue, visible and in flight (received, not yet deleted); jobs in
    /// the dead-letter store are not counted.
    pub fn len(&self) -> usize {
        self.state().messages.len()
    }

    /// Whether the queue holds no jobs (visible or in flight).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The jobs moved to the dead-letter store, oldest first.
    pub fn dead_letters(&self) -> Vec<FanoutJob> {
        self.state().dead.clone()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is consistent after every statement that can panic, so a poisoned lock is
        // still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes up to `max` visible jobs (moving exhausted ones to the dead-letter store). When
    /// none is visible, also returns when the next in-flight job becomes visible.
    fn take_visible(&self, max: usize) -> (Vec<Received>, Option<Instant>) {
        let now = Instant::now();
        let mut guard = self.state();
        let State {
            messages,
            receipts,
            dead,
            next_receipt,
            ..
        } = &mut *guard;
        let mut out = Vec::new();
        let mut exhausted = Vec::new();
        let mut next_visible: Option<Instant> = None;
        for (&seq, m) in messages.iter_mut() {
            if m.visible_at > now {
                next_visible = Some(next_visible.map_or(m.visible_at, |t| t.min(m.visible_at)));
                continue;
            }
            if out.len() >= max {
                break;
            }
            if m.receive_count >= self.max_receive_count {
                exhausted.push(seq);
                continue;
            }
            m.receive_count += 1;
            m.visible_at = now + self.visibility_timeout;
            *next_receipt += 1;
            let receipt = format!("{}:{}", m.message_id, next_receipt);
            if let Some(old) = m.receipt.replace(receipt.clone()) {
                receipts.remove(&old);
            }
            receipts.insert(receipt.clone(), seq);
            out.push(Received {
                message_id: m.message_id.clone(),
                receipt,
                receive_count: m.receive_count,
                job: m.job.clone(),
            });
        }
        for seq in exhausted {
            if let Some(m) = messages.remove(&seq) {
                if let Some(r) = m.receipt {
                    receipts.remove(&r);
                }
                dead.push(m.job);
            }
        }
        (out, next_visible)
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    /// Enqueues every job, or none when one is too large ([`QueueError::TooLarge`]).
    async fn send(&self, jobs: &[FanoutJob]) -> Result<(), QueueError> {
        // Encode and decode each job, as a trip through SQS would, before enqueueing any.
        let mut decoded = Vec::with_capacity(jobs.len());
        for job in jobs {
            let body = encode_job(job)?;
            let job: FanoutJob =
                serde_json::from_str(&body).map_err(|e| QueueError::Backend(e.to_string()))?;
            decoded.push(job);
        }
        if decoded.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        {
            let mut st = self.state();
            for job in decoded {
                let seq = st.next_seq;
                st.next_seq += 1;
                st.messages.insert(
                    seq,
                    Message {
                        message_id: uuid::Uuid::now_v7().to_string(),
                        job,
                        receive_count: 0,
                        visible_at: now,
                        receipt: None,
                    },
                );
            }
        }
        self.notify.notify_waiters();
        Ok(())
    }

    /// Receives up to `max` jobs (at most 10, as SQS), waiting up to `wait` for the first.
    /// `max == 0` returns at once with nothing.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let max = max.min(MAX_RECEIVE_BATCH);
        let deadline = Instant::now() + wait.min(MAX_WAIT);
        loop {
            // Register for wake-ups before looking, so a send in between is not missed.
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (received, next_visible) = self.take_visible(max);
            if !received.is_empty() {
                return Ok(received);
            }
            if Instant::now() >= deadline {
                return Ok(received);
            }
            let wake = next_visible.map_or(deadline, |t| t.min(deadline));
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// Deletes the job `receipt` was handed out with, if it is that job's latest receipt;
    /// otherwise (stale, unknown or already used receipt) does nothing. Never fails.
    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        let mut st = self.state();
        if let Some(seq) = st.receipts.remove(receipt) {
            st.messages.remove(&seq);
        }
        Ok(())
    }
}
