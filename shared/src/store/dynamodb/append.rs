//! Appending to a position-ordered stream (an event's comments, a conversation's messages):
//! reserve a position, then commit the change and its stream entry at it in one transaction.
//!
//! Writers never contend for a position. The head's `seq` is a counter: `ADD seq 1` reserves
//! the next position in one unconditional `UpdateItem` (DynamoDB serialises those per item,
//! about a thousand a second on one partition), so one room's write rate is not one
//! transaction round trip at a time (the head-conditioned transaction before: every writer
//! raced for `head + 1` and all but one re-read and tried again).
//!
//! Gap-free all the same: every reserved position ends with exactly one entry. The writer's
//! transaction puts the entry `IF attribute_not_exists`; a writer whose change is refused (an
//! idempotent retry, a missing parent) or fails puts a [`Change::Void`] entry on the same
//! condition, and so does the room's delivery for a position reserved longer than
//! [`RESERVATION_GRACE`](crate::model::RESERVATION_GRACE) (a writer that crashed, or stalls).
//! Whichever put lands first holds the position; a live writer that finds its position voided
//! reserves another. Readers stop at the first reserved position without an entry
//! (`read_stream`, `pending`), so they see a prefix with no gap, in position order, even
//! though later positions may commit first.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{ReturnValue, TransactWriteItem};

use super::comments::HEAD_SK;
use super::item::{TABLE_KEY, from_item, get_n, key, n, s};
use super::ops::{Retry, get_item, query, query_page, sdk_error};
use super::streams::{DELIVERY_SK, entry_item, entry_sk};
use super::txn::transact_once;
use crate::model::{Change, StreamEntry};
use crate::room::Position;
use crate::store::{StoreError, StoreResult};
use crate::time::now;

/// Why an append wrote nothing.
pub(super) enum AppendRefused {
    /// An idempotency action (the claim, or the pointer of an already used id) found its item
    /// already there: the append happened before.
    AlreadyDone,
    /// The parent (reply target) does not exist.
    ParentMissing,
}

/// The transaction actions of one append: the change and its stream entry at the reserved
/// position.
pub(super) struct AppendActions {
    /// The actions (item, pointer, claim, parent, the entry…).
    pub actions: Vec<TransactWriteItem>,
    /// Indexes into `actions` whose condition failing means the append was already done.
    pub idempotency: Vec<usize>,
    /// Index into `actions` whose condition failing means the parent is missing.
    pub parent: Option<usize>,
}

/// Whether an append counts one more comment on the head (`comments`, the event's count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Counted {
    /// A new comment.
    Comment,
    /// Anything else.
    No,
}

/// Reservations one append makes at most: a position is lost only to a void, so a second
/// one is already rare.
const RESERVATIONS: u32 = 5;

/// Appends to the stream in partition `stream_pk` of `table`: reserves a position `p`, then
/// commits `build(p)` (which includes the entry at `p`). See the [module
/// documentation](self).
pub(super) async fn append_to_stream<F>(
    client: &Client,
    table: &str,
    stream_pk: &str,
    counted: Counted,
    mut build: F,
) -> StoreResult<Result<Position, AppendRefused>>
where
    F: FnMut(Position) -> StoreResult<AppendActions>,
{
    for _ in 0..RESERVATIONS {
        let p = reserve(client, table, stream_pk, counted).await?;
        match commit(client, table, stream_pk, p, &mut build).await {
            Committed::Yes => return Ok(Ok(p)),
            Committed::Refused(why) => {
                release(client, table, stream_pk, p, counted).await?;
                return Ok(Err(why));
            }
            Committed::Failed(e) => {
                return match release(client, table, stream_pk, p, counted).await? {
                    // The void landed: nothing of the change was written.
                    Released::Voided => Err(e),
                    // The position is taken: by this very change (the failure was only in
                    // hearing back), or by another's void.
                    Released::Taken { void: false } => Ok(Ok(p)),
                    Released::Taken { void: true } => Err(e),
                };
            }
            Committed::Lost => {
                // Voided before the commit landed (this writer was slower than the grace),
                // or another condition failed that a new position may cure.
                uncount(client, table, stream_pk, counted).await?;
            }
        }
    }
    Err(StoreError::Throttled)
}

/// The outcome of committing at a reserved position.
enum Committed {
    Yes,
    Refused(AppendRefused),
    Failed(StoreError),
    Lost,
}

/// Runs `build(p)`'s transaction, retrying only what DynamoDB asks to retry (transaction
/// conflicts on shared items, throttling).
async fn commit<F>(
    client: &Client,
    table: &str,
    stream_pk: &str,
    p: Position,
    build: &mut F,
) -> Committed
where
    F: FnMut(Position) -> StoreResult<AppendActions>,
{
    let retry = Retry::THROTTLED;
    for attempt in 0..retry.attempts {
        if attempt > 0 {
            retry.backoff(attempt).await;
        }
        let AppendActions {
            actions,
            idempotency,
            parent,
        } = match build(p) {
            Ok(a) => a,
            Err(e) => return Committed::Failed(e),
        };
        let cancelled = match transact_once(client, actions, "append").await {
            Ok(Ok(())) => return Committed::Yes,
            Ok(Err(cancelled)) => cancelled,
            Err(e) => return Committed::Failed(e),
        };
        if idempotency.iter().any(|&i| cancelled.condition_failed(i)) {
            return Committed::Refused(AppendRefused::AlreadyDone);
        }
        if parent.is_some_and(|i| cancelled.condition_failed(i)) {
            return Committed::Refused(AppendRefused::ParentMissing);
        }
        if let Some(code) = cancelled.hard_failure() {
            return Committed::Failed(StoreError::Backend(format!(
                "append to {stream_pk} at {p}: transaction cancelled: {code}"
            )));
        }
        if cancelled.any("ConditionalCheckFailed") {
            // The entry's condition (voided meanwhile), or another item changed under it:
            // either way this position is done for.
            return match release(client, table, stream_pk, p, Counted::No).await {
                Ok(_) => Committed::Lost,
                Err(e) => Committed::Failed(e),
            };
        }
    }
    Committed::Failed(StoreError::Throttled)
}

/// Reserves the next position: `ADD seq 1` (and `comments 1` for a comment) on the head.
async fn reserve(
    client: &Client,
    table: &str,
    stream_pk: &str,
    counted: Counted,
) -> StoreResult<Position> {
    let update = match counted {
        Counted::Comment => "ADD seq :one, comments :one",
        Counted::No => "ADD seq :one",
    };
    let out = client
        .update_item()
        .table_name(table)
        .set_key(Some(key(stream_pk, HEAD_SK)))
        .update_expression(update)
        .expression_attribute_values(":one", n(1))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .map_err(|e| sdk_error(e, "reserve position"))?;
    let attributes = out.attributes.unwrap_or_default();
    Ok(Position(get_n(&attributes, "seq")?))
}

/// Takes back the comment count of a reservation that holds no comment.
async fn uncount(
    client: &Client,
    table: &str,
    stream_pk: &str,
    counted: Counted,
) -> StoreResult<()> {
    if counted == Counted::No {
        return Ok(());
    }
    client
        .update_item()
        .table_name(table)
        .set_key(Some(key(stream_pk, HEAD_SK)))
        .update_expression("ADD comments :minus")
        .expression_attribute_values(":minus", n(-1))
        .send()
        .await
        .map_err(|e| sdk_error(e, "uncount comment"))?;
    Ok(())
}

/// What [`void_position`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Released {
    /// The void is in: the position holds nothing.
    Voided,
    /// An entry was already there (`void`: another's void).
    Taken { void: bool },
}

/// Voids `p` of a reservation that will hold nothing, and takes back its count.
async fn release(
    client: &Client,
    table: &str,
    stream_pk: &str,
    p: Position,
    counted: Counted,
) -> StoreResult<Released> {
    let outcome = void_position(client, table, stream_pk, p).await?;
    if outcome != (Released::Taken { void: false }) {
        uncount(client, table, stream_pk, counted).await?;
    }
    Ok(outcome)
}

/// Puts a [`Change::Void`] entry at `p` unless an entry is there.
pub(super) async fn void_position(
    client: &Client,
    table: &str,
    stream_pk: &str,
    p: Position,
) -> StoreResult<Released> {
    let item = entry_item(stream_pk, p, now(), Change::Void)?;
    let put = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    match put {
        Ok(_) => Ok(Released::Voided),
        Err(e) => match sdk_error(e, "void position") {
            StoreError::Conflict(_) => {
                let there = get_item(client, table, key(stream_pk, entry_sk(p))).await?;
                let void = match there {
                    Some(item) => from_item::<StreamEntry>(item)?.change == Change::Void,
                    None => false,
                };
                Ok(Released::Taken { void })
            }
            other => Err(other),
        },
    }
}

/// The highest position in `after..=upto` up to which every position holds its entry (or
/// void): `after` when `after + 1` is still reserved. Everything up to the room's delivery
/// cursor is (delivery never passes a position before its entry is in; entries past their
/// retention are gone, so their absence proves nothing), and beyond it a strongly consistent
/// `Query` of the entries says. Looks at most 1,000 positions past the cursor.
pub(super) async fn committed_through(
    client: &Client,
    table: &str,
    stream_pk: &str,
    after: Position,
    upto: Position,
) -> StoreResult<Position> {
    if upto <= after {
        return Ok(upto);
    }
    let delivered = match get_item(client, table, key(stream_pk, DELIVERY_SK)).await? {
        Some(cursor) if cursor.contains_key("delivered") => Position(get_n(&cursor, "delivered")?),
        _ => Position::ZERO,
    };
    let from = after.max(delivered);
    if from >= upto {
        return Ok(upto);
    }
    let upto = Position(upto.0.min(from.0.saturating_add(1000)));
    let q = query(
        client,
        table,
        None,
        "pk = :pk AND sk BETWEEN :lo AND :hi",
        vec![
            (":pk", s(stream_pk)),
            (":lo", s(entry_sk(from.next()))),
            (":hi", s(entry_sk(upto))),
        ],
    )
    .projection_expression("pk, sk, #p")
    .expression_attribute_names("#p", "position")
    .consistent_read(true);
    let (positions, _) = query_page(q, &TABLE_KEY, 1000, None, "committed through", |item| {
        Ok(Some(Position(get_n(&item, "position")?)))
    })
    .await?;
    let mut through = from;
    for p in positions {
        if p != through.next() {
            break;
        }
        through = p;
    }
    Ok(through)
}
