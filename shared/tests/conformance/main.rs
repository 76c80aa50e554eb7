//! The conformance suite: one set of tests, generic over the store ports, run against the
//! in-memory adapters (`…::memory::…`) and the DynamoDB adapters over a real moto server
//! (`…::dynamodb::…`). Each case file lists its tests with `conformance_tests!`.

#[path = "../support/mod.rs"]
mod support;

use banter::store::{Appended, Cursor, Page, Slice, StoreResult, Stores, Window};

/// Fresh in-memory stores.
pub async fn memory_stores() -> Stores {
    banter::store::memory::stores()
}

/// Fresh DynamoDB stores over moto, on tables no other test uses.
pub async fn dynamodb_stores() -> Stores {
    support::moto_stores("conf").await
}

/// The item of an append that must succeed and store a new item (no idempotent retry).
pub fn created<T>(out: StoreResult<Appended<T>>) -> T {
    let out = out.expect("append");
    assert!(out.created);
    out.item
}

/// The changes `room`'s stream holds: its entries but voids (positions that an adapter
/// reserving positions gave up, for a refused change). On an adapter that never voids, this
/// is the head.
pub async fn changes_in(stores: &Stores, room: banter::room::Room) -> u64 {
    let mut after = banter::room::Position::ZERO;
    let mut changes = 0;
    loop {
        let slice = stores
            .streams
            .read_stream(room, after, 1000)
            .await
            .expect("read stream");
        for e in &slice.entries {
            after = e.position;
            changes += u64::from(e.change != banter::model::Change::Void);
        }
        if !slice.has_more || slice.entries.is_empty() {
            return changes;
        }
    }
}

/// A window to read, and what it must hold: (case, window, the positions read, has_more).
pub type WindowCase = (&'static str, Window, Vec<u64>, bool);

/// Reads the window of each case through `read` and checks the positions of what it read (by
/// `position`) and whether more follow, naming the case on failure: the comment and message
/// streams window alike.
pub async fn check_windows<T, F, Fut>(read: F, position: fn(&T) -> u64, cases: Vec<WindowCase>)
where
    F: Fn(Window) -> Fut,
    Fut: Future<Output = Slice<T>>,
{
    for (case, window, want, has_more) in cases {
        let s = read(window).await;
        let got: Vec<u64> = s.items.iter().map(position).collect();
        assert_eq!((got, s.has_more), (want, has_more), "{case}");
    }
}

/// Reads every page of a listing, `limit` items at a time, through `fetch` (given the cursor
/// of the page to read); returns the items and the number of pages. The case files' listings
/// all page alike, so they share the checks: no page is larger than `limit`, and the listing
/// ends within `max_pages` (or fails naming `what`).
pub async fn read_pages<T, F, Fut>(
    what: &str,
    limit: usize,
    max_pages: usize,
    mut fetch: F,
) -> (Vec<T>, usize)
where
    F: FnMut(Option<Cursor>) -> Fut,
    Fut: Future<Output = StoreResult<Page<T>>>,
{
    let mut all = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = fetch(cursor.take())
            .await
            .unwrap_or_else(|e| panic!("{what}: {e:?}"));
        pages += 1;
        assert!(page.items.len() <= limit, "page larger than limit");
        all.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return (all, pages),
        }
        assert!(pages < max_pages, "{what} does not end");
    }
}

/// Expands each listed `async fn name(stores: Stores)` of the calling module into one test per
/// adapter: `memory::name` and `dynamodb::name`.
#[macro_export]
macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::memory_stores().await).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::dynamodb_stores().await).await
                }
            )*
        }
    };
}

mod comments;
mod connections;
mod conversations;
mod events;
mod likes;
mod media;
mod messages;
mod presence;
mod rate_limits;
mod reservations;
mod sessions;
mod streams;
mod users;
