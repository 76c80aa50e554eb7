//! The `dynamodb` and `sqs` faults of `--inject` (see [`faults`](crate::faults)), as
//! decorators of the ports: the room-stream store and the fan-out queue.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use banter::ids::EventId;
use banter::model::{StreamSlice, ViewerCount};
use banter::queue::{FanoutJob, Queue, QueueError, Received};
use banter::room::{Position, Room};
use banter::store::{Claim, DeliveryLease, Release, StoreError, StoreResult, StreamStore};
use banter::time::Timestamp;

use crate::faults::Injector;

/// A room-stream store whose calls fail at the plan's `dynamodb` share.
pub(crate) struct FaultyStreams {
    pub(crate) inner: Arc<dyn StreamStore>,
    pub(crate) injector: Arc<Injector>,
}

impl FaultyStreams {
    fn check(&self, call: &str) -> StoreResult<()> {
        if self.injector.store_call_fails() {
            return Err(StoreError::Backend(format!(
                "{call}: injected DynamoDB failure"
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl StreamStore for FaultyStreams {
    async fn read_stream(
        &self,
        room: Room,
        after: Position,
        limit: usize,
    ) -> StoreResult<StreamSlice> {
        self.check("read_stream")?;
        self.inner.read_stream(room, after, limit).await
    }

    async fn stream_head(&self, room: Room) -> StoreResult<Position> {
        self.check("stream_head")?;
        self.inner.stream_head(room).await
    }

    async fn void_position(&self, room: Room, position: Position) -> StoreResult<bool> {
        self.check("void_position")?;
        self.inner.void_position(room, position).await
    }

    async fn flush_counts(&self, event: EventId) -> StoreResult<Option<Position>> {
        self.check("flush_counts")?;
        self.inner.flush_counts(event).await
    }

    async fn occupancy(&self, room: Room) -> StoreResult<Option<ViewerCount>> {
        self.check("occupancy")?;
        self.inner.occupancy(room).await
    }

    async fn record_occupancy(
        &self,
        room: Room,
        count: ViewerCount,
    ) -> StoreResult<Option<Position>> {
        self.check("record_occupancy")?;
        self.inner.record_occupancy(room, count).await
    }

    async fn want_delivery(
        &self,
        room: Room,
        upto: Option<Position>,
        counts: bool,
    ) -> StoreResult<()> {
        self.check("want_delivery")?;
        self.inner.want_delivery(room, upto, counts).await
    }

    async fn claim_delivery(
        &self,
        room: Room,
        lease: DeliveryLease,
        until: Timestamp,
    ) -> StoreResult<Claim> {
        self.check("claim_delivery")?;
        self.inner.claim_delivery(room, lease, until).await
    }

    async fn release_delivery(
        &self,
        room: Room,
        lease: DeliveryLease,
        delivered: Position,
        until: Timestamp,
        force: bool,
    ) -> StoreResult<Release> {
        self.check("release_delivery")?;
        self.inner
            .release_delivery(room, lease, delivered, until, force)
            .await
    }
}

/// A fan-out queue whose enqueues fail, and whose receives hand a job out twice, at halves
/// of the plan's `sqs` share.
pub(crate) struct FaultyQueue {
    pub(crate) inner: Arc<dyn Queue>,
    pub(crate) injector: Arc<Injector>,
}

#[async_trait]
impl Queue for FaultyQueue {
    async fn send(&self, jobs: &[FanoutJob]) -> Result<(), QueueError> {
        if self.injector.send_fails() {
            return Err(QueueError::Backend(
                "injected SQS SendMessageBatch failure".into(),
            ));
        }
        self.inner.send(jobs).await
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError> {
        let received = self.inner.receive(max, wait).await?;
        // A second copy, received later by whichever poller: SQS delivers at least once.
        let twice: Vec<FanoutJob> = received
            .iter()
            .filter(|_| self.injector.duplicates())
            .map(|r| r.job.clone())
            .collect();
        if !twice.is_empty() {
            self.inner.send(&twice).await?;
        }
        Ok(received)
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.inner.delete(receipt).await
    }
}
