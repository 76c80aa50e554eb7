//! Transactions: building `TransactWriteItems` actions, sending them, reading why a
//! transaction was cancelled, and retrying it when it was cancelled only by contention.

use std::fmt;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};

use super::item::{Item, expression_values};
use super::ops::{Retry, build_error, sdk_error};
use crate::store::{StoreError, StoreResult};

/// Most actions one `TransactWriteItems` may hold.
pub(super) const MAX_TRANSACTION_ACTIONS: usize = 100;

/// The cancellation reason codes of a failed `TransactWriteItems` (one per action, `None`
/// for actions that did not fail), or `None` when the error is not a cancellation.
pub fn cancellation_reasons<R>(
    err: &SdkError<TransactWriteItemsError, R>,
) -> Option<Vec<Option<String>>> {
    match err.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(e) => Some(
            e.cancellation_reasons()
                .iter()
                .map(|r| r.code().filter(|c| *c != "None").map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

/// Why a `TransactWriteItems` was cancelled: entry `i` is the failure code of action `i`
/// (`Some("ConditionalCheckFailed")`, `Some("TransactionConflict")`…), `None` for actions that
/// did not fail.
#[derive(Debug)]
pub(super) struct Cancelled(Vec<Option<String>>);

impl Cancelled {
    /// Whether any action failed with `code`.
    pub fn any(&self, code: &str) -> bool {
        self.0.iter().flatten().any(|c| c == code)
    }

    /// Whether the condition of action `i` failed.
    pub fn condition_failed(&self, i: usize) -> bool {
        self.0
            .get(i)
            .and_then(|r| r.as_deref())
            .is_some_and(|c| c == "ConditionalCheckFailed")
    }

    /// Whether DynamoDB throttled the transaction.
    fn throttled(&self) -> bool {
        self.0.iter().flatten().any(|c| is_throttling(c))
    }

    /// The first failure code that re-reading and trying again cannot cure (anything but a
    /// lost condition, a transaction conflict or throttling), if any.
    pub fn hard_failure(&self) -> Option<&str> {
        self.0.iter().flatten().map(String::as_str).find(|c| {
            !matches!(*c, "ConditionalCheckFailed" | "TransactionConflict") && !is_throttling(c)
        })
    }
}

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Whether a cancellation reason code means DynamoDB throttled the action.
fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingError" | "ProvisionedThroughputExceeded" | "RequestLimitExceeded"
    )
}

/// A transactional put, optionally conditional.
pub(super) fn tx_put(
    table: &str,
    item: Item,
    condition: Option<&str>,
) -> StoreResult<TransactWriteItem> {
    tx_put_with(table, item, condition, Vec::new())
}

/// A transactional put with a condition that uses expression values (`:name` → value).
pub(super) fn tx_put_with(
    table: &str,
    item: Item,
    condition: Option<&str>,
    values: Vec<(&str, AttributeValue)>,
) -> StoreResult<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_owned))
        .set_expression_attribute_values(expression_values(values))
        .build()
        .map_err(build_error)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A transactional delete, optionally conditional.
pub(super) fn tx_delete(
    table: &str,
    key: Item,
    condition: Option<&str>,
) -> StoreResult<TransactWriteItem> {
    tx_delete_with(table, key, condition, Vec::new())
}

/// A transactional delete with a condition that uses expression values.
pub(super) fn tx_delete_with(
    table: &str,
    key: Item,
    condition: Option<&str>,
    values: Vec<(&str, AttributeValue)>,
) -> StoreResult<TransactWriteItem> {
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(key))
        .set_condition_expression(condition.map(str::to_owned))
        .set_expression_attribute_values(expression_values(values))
        .build()
        .map_err(build_error)?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// A transactional update with expression values (`:name` → value), optionally conditional.
pub(super) fn tx_update(
    table: &str,
    key: Item,
    update: &str,
    condition: Option<&str>,
    values: Vec<(&str, AttributeValue)>,
) -> StoreResult<TransactWriteItem> {
    tx_update_named(table, key, update, condition, &[], values)
}

/// [`tx_update`] with expression attribute names (`#name` → attribute), for reserved words.
pub(super) fn tx_update_named(
    table: &str,
    key: Item,
    update: &str,
    condition: Option<&str>,
    names: &[(&str, &str)],
    values: Vec<(&str, AttributeValue)>,
) -> StoreResult<TransactWriteItem> {
    let names = (!names.is_empty()).then(|| {
        names
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    });
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(update)
        .set_condition_expression(condition.map(str::to_owned))
        .set_expression_attribute_names(names)
        .set_expression_attribute_values(expression_values(values))
        .build()
        .map_err(build_error)?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Sends one `TransactWriteItems`, without retrying: `Ok(Err(_))` when it was cancelled (the
/// caller decides whether to re-read and try again), `Err` for any other failure.
pub(super) async fn transact_once(
    client: &Client,
    actions: Vec<TransactWriteItem>,
    what: &'static str,
) -> StoreResult<Result<(), Cancelled>> {
    match client
        .transact_write_items()
        .set_transact_items(Some(actions))
        .send()
        .await
    {
        Ok(_) => Ok(Ok(())),
        Err(err) => match cancellation_reasons(&err) {
            Some(reasons) => Ok(Err(Cancelled(reasons))),
            None => Err(sdk_error(err, what)),
        },
    }
}

/// Runs a `TransactWriteItems`, retrying it with [`Retry::THROTTLED`] backoff when it is
/// cancelled only by throttling (then `Throttled`) or by conflicts with other transactions.
/// `Ok(Err(_))` when a condition failed; any other cancellation is a `Backend` error.
pub(super) async fn transact(
    client: &Client,
    actions: Vec<TransactWriteItem>,
    what: &'static str,
) -> StoreResult<Result<(), Cancelled>> {
    let retry = Retry::THROTTLED;
    let mut attempt = 0;
    loop {
        if attempt > 0 {
            retry.backoff(attempt).await;
        }
        attempt += 1;
        let cancelled = match transact_once(client, actions.clone(), what).await? {
            Ok(()) => return Ok(Ok(())),
            Err(cancelled) => cancelled,
        };
        if cancelled.any("ConditionalCheckFailed") {
            return Ok(Err(cancelled));
        }
        if cancelled.throttled() {
            if attempt >= retry.attempts {
                return Err(StoreError::Throttled);
            }
            continue;
        }
        if cancelled.any("TransactionConflict") && attempt < retry.attempts {
            continue;
        }
        return Err(StoreError::Backend(format!(
            "{what}: transaction cancelled: {cancelled}"
        )));
    }
}
