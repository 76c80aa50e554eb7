//! Conformance cases for the rate_limits store.

use banter::store::*;
use banter::time::Timestamp;
use chrono::{DateTime, Duration};

fn at(epoch: i64) -> Timestamp {
    DateTime::from_timestamp(epoch, 0).expect("timestamp")
}

/// A minute boundary (1_800_000_000 is a multiple of 60).
const T0: i64 = 1_800_000_000;

async fn counts_hits_per_window(stores: Stores) {
    let key = format!("comment:{}", uuid::Uuid::now_v7());
    let minute = Duration::seconds(60);
    for i in 1..=5u64 {
        let hit = stores
            .rate_limits
            .hit(&key, minute, at(T0 + 10 * i as i64))
            .await
            .unwrap();
        assert_eq!(
            hit,
            WindowCount {
                count: i,
                resets_at: at(T0 + 60),
            }
        );
    }
    // The last second of the window still counts in it.
    let hit = stores
        .rate_limits
        .hit(&key, minute, at(T0 + 59))
        .await
        .unwrap();
    assert_eq!(hit.count, 6);

    // The next window starts again at 1.
    let hit = stores
        .rate_limits
        .hit(&key, minute, at(T0 + 60))
        .await
        .unwrap();
    assert_eq!(
        hit,
        WindowCount {
            count: 1,
            resets_at: at(T0 + 120),
        }
    );
    let hit = stores
        .rate_limits
        .hit(&key, minute, at(T0 + 61))
        .await
        .unwrap();
    assert_eq!(hit.count, 2);

    // Other keys and other window lengths count separately.
    let other = stores
        .rate_limits
        .hit(&format!("{key}:other"), minute, at(T0 + 61))
        .await
        .unwrap();
    assert_eq!(other.count, 1);
    let hour = stores
        .rate_limits
        .hit(&format!("{key}:hour"), Duration::hours(1), at(T0 + 61))
        .await
        .unwrap();
    // 1_800_000_000 = 500_000 h.
    assert_eq!(
        hour,
        WindowCount {
            count: 1,
            resets_at: at(T0 + 3600),
        }
    );
}

async fn concurrent_hits_count_exactly(stores: Stores) {
    let key = format!("login:{}", uuid::Uuid::now_v7());
    let mut tasks = Vec::new();
    for i in 0..20 {
        let stores = stores.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            stores
                .rate_limits
                .hit(&key, Duration::seconds(60), at(T0 + i % 60))
                .await
                .unwrap()
        }));
    }
    let mut counts = Vec::new();
    for t in tasks {
        let hit = t.await.unwrap();
        assert_eq!(hit.resets_at, at(T0 + 60));
        counts.push(hit.count);
    }
    counts.sort();
    assert_eq!(counts, (1..=20).collect::<Vec<u64>>());
    let after = stores
        .rate_limits
        .hit(&key, Duration::seconds(60), at(T0 + 30))
        .await
        .unwrap();
    assert_eq!(after.count, 21);
}

async fn peek_reads_without_counting(stores: Stores) {
    let key = format!("login-fail#{}", uuid::Uuid::now_v7());
    let minute = Duration::seconds(60);
    assert_eq!(
        stores
            .rate_limits
            .peek(&key, minute, at(T0 + 5))
            .await
            .unwrap(),
        WindowCount {
            count: 0,
            resets_at: at(T0 + 60),
        }
    );
    for _ in 0..3 {
        stores
            .rate_limits
            .hit(&key, minute, at(T0 + 10))
            .await
            .unwrap();
    }
    for _ in 0..2 {
        assert_eq!(
            stores
                .rate_limits
                .peek(&key, minute, at(T0 + 20))
                .await
                .unwrap(),
            WindowCount {
                count: 3,
                resets_at: at(T0 + 60),
            }
        );
    }
    // The next hit is the fourth: peeking counted nothing.
    assert_eq!(
        stores
            .rate_limits
            .hit(&key, minute, at(T0 + 30))
            .await
            .unwrap()
            .count,
        4
    );
    // The next window is empty.
    assert_eq!(
        stores
            .rate_limits
            .peek(&key, minute, at(T0 + 60))
            .await
            .unwrap()
            .count,
        0
    );
}

/// Turns are at least the gap apart, to the millisecond; a refusal takes nothing and says
/// when the next turn opens; keys are independent.
async fn turns_are_spaced_by_the_gap(stores: Stores) {
    let key = format!("slow:{}", uuid::Uuid::now_v7());
    let other = format!("slow:{}", uuid::Uuid::now_v7());
    let gap = Duration::seconds(10);
    let t0 = at(T0) + Duration::milliseconds(250);
    let turns = &stores.rate_limits;
    assert_eq!(turns.take_turn(&key, gap, t0).await.unwrap(), None);
    let opens = t0 + gap;
    for later in [
        Duration::zero(),
        Duration::seconds(3),
        Duration::milliseconds(9_999),
    ] {
        assert_eq!(
            turns.take_turn(&key, gap, t0 + later).await.unwrap(),
            Some(opens),
            "{later} after the first turn"
        );
    }
    assert_eq!(turns.take_turn(&other, gap, t0).await.unwrap(), None);
    // Refusals took nothing: the next turn opens exactly one gap after the first.
    assert_eq!(turns.take_turn(&key, gap, opens).await.unwrap(), None);
    assert_eq!(
        turns
            .take_turn(&key, gap, opens + Duration::seconds(1))
            .await
            .unwrap(),
        Some(opens + gap)
    );
}

/// Of many writers taking a turn at once, exactly one gets it.
async fn concurrent_turns_go_to_one_writer(stores: Stores) {
    let key = format!("slow:{}", uuid::Uuid::now_v7());
    let gap = Duration::seconds(5);
    let now = at(T0 + 7);
    let tries = (0..8).map(|_| stores.rate_limits.take_turn(&key, gap, now));
    let answers = futures::future::join_all(tries).await;
    let taken = answers
        .into_iter()
        .map(|a| a.unwrap())
        .filter(Option::is_none)
        .count();
    assert_eq!(taken, 1);
}

conformance_tests!(
    peek_reads_without_counting,
    counts_hits_per_window,
    concurrent_hits_count_exactly,
    turns_are_spaced_by_the_gap,
    concurrent_turns_go_to_one_writer
);
