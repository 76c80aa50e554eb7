//! Counting a room's viewers for its delivery (see [`crate::model::occupancy`]).

use crate::model::{BUCKETS, BucketRange, OCCUPANCY_SAMPLE, Occupancy, bucket_of};
use crate::room::Room;
use crate::store::{ConnectionStore, StoreResult};

/// Rows one page of the count reads.
const PAGE: usize = 500;

/// Counts the live subscriptions of `room`: every one while there are at most
/// [`OCCUPANCY_SAMPLE`], else an estimate from the buckets the first rows cover completely
/// (`rows in buckets 0..b × BUCKETS / b`). At most `OCCUPANCY_SAMPLE / PAGE + 1` Query pages,
/// whatever the audience.
pub async fn count_viewers(
    connections: &dyn ConnectionStore,
    room: Room,
) -> StoreResult<Occupancy> {
    let mut read = 0usize;
    // The bucket of the last row read, and how many rows came before that bucket.
    let mut current: Option<u16> = None;
    let mut before_current = 0usize;
    let mut cursor = None;
    loop {
        let page = connections
            .list_subscriptions(room, BucketRange::ALL, PAGE, cursor.as_ref())
            .await?;
        for s in &page.items {
            let b = bucket_of(&s.connection_id);
            if current != Some(b) {
                current = Some(b);
                before_current = read;
            }
            read += 1;
        }
        let Some(next) = page.next else {
            return Ok(Occupancy {
                viewers: read as u64,
                exact: true,
            });
        };
        if read >= OCCUPANCY_SAMPLE
            && let Some(b) = current.filter(|b| *b > 0)
        {
            // Buckets 0..b are complete; the rows of bucket b may not be.
            let estimate = before_current as u64 * u64::from(BUCKETS) / u64::from(b);
            return Ok(Occupancy {
                viewers: estimate.max(read as u64),
                exact: false,
            });
        }
        cursor = Some(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ConnectionId, EventId, UserId};
    use crate::model::{Subscription, connection_expiry};
    use crate::store::memory::connections::MemoryConnectionStore;

    async fn room_of(n: usize) -> (MemoryConnectionStore, Room) {
        let store = MemoryConnectionStore::default();
        let room = Room::Event(EventId::new());
        let t = crate::time::now();
        for i in 0..n {
            let id: ConnectionId = format!("viewer{i:06}=").parse().expect("id");
            store
                .subscribe(&Subscription {
                    room,
                    connection_id: id,
                    user_id: Some(UserId::new()),
                    subscribed_at: t,
                    expires_at: connection_expiry(t),
                })
                .await
                .expect("subscribed");
        }
        (store, room)
    }

    #[tokio::test]
    async fn small_rooms_are_counted_exactly() {
        for n in [0, 1, 999, OCCUPANCY_SAMPLE] {
            let (store, room) = room_of(n).await;
            let got = count_viewers(&store, room).await.expect("counted");
            assert_eq!(
                got,
                Occupancy {
                    viewers: n as u64,
                    exact: true
                }
            );
        }
    }

    #[tokio::test]
    async fn large_rooms_are_estimated_within_ten_percent_from_a_bounded_read() {
        for n in [OCCUPANCY_SAMPLE + 1, 5_000, 20_000] {
            let (store, room) = room_of(n).await;
            let got = count_viewers(&store, room).await.expect("counted");
            assert!(!got.exact, "{n}: {got:?}");
            let error = (got.viewers as f64 - n as f64).abs() / n as f64;
            assert!(error <= 0.10, "{n} viewers estimated as {}", got.viewers);
        }
    }
}
