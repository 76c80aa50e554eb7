//! What the benchmark counts, per DynamoDB operation and table, per SQS operation and queue,
//! per Lambda function and per posting function, with the arithmetic to take the difference
//! of two snapshots and to divide a phase by its number of comments.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// DynamoDB requests of one operation on one table (or index), and the capacity they use.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DynamoCount {
    /// Requests.
    pub requests: f64,
    /// Requests answered with an error (conditional check failures included).
    pub errors: f64,
    /// Read request units (4 KB; eventually consistent ×½, transactional ×2).
    pub read_units: f64,
    /// Write request units of the table (1 KB; transactional ×2).
    pub write_units: f64,
    /// Write request units of its global secondary indexes (1 KB, one or two per index the
    /// item is in).
    pub index_write_units: f64,
    /// Items read (before any filter).
    pub items_read: f64,
    /// Bytes of the items read.
    pub bytes_read: f64,
    /// Items written (put, updated or deleted).
    pub items_written: f64,
    /// Bytes of the items written (after the write; deletes count 0).
    pub bytes_written: f64,
}

/// SQS requests of one operation on one queue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SqsCount {
    /// Requests.
    pub requests: f64,
    /// Billed requests: one per started 64 KB of payload, at least one per request.
    pub billed_requests: f64,
    /// Messages sent or received.
    pub messages: f64,
    /// Their payload bytes.
    pub bytes: f64,
}

/// Invocations of one Lambda function.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LambdaCount {
    /// Invocations.
    pub invocations: f64,
    /// Sum of their durations, in milliseconds.
    pub total_ms: f64,
    /// Sum of their billed durations (each rounded up to 1 ms), in milliseconds.
    pub billed_ms: f64,
    /// Median duration, in milliseconds (not divided by comments).
    pub median_ms: f64,
    /// Longest duration, in milliseconds (not divided by comments).
    pub max_ms: f64,
}

/// `PostToConnection` calls of one function.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PostCount {
    /// Calls answered with success.
    pub delivered: f64,
    /// Calls that failed.
    pub failed: f64,
    /// WebSocket messages API Gateway meters for the delivered calls (32 KB each).
    pub metered_messages: f64,
    /// Payload bytes of the delivered calls.
    pub bytes: f64,
}

/// Items of one kind written, and their total size.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SizeCount {
    /// Items.
    pub items: f64,
    /// Their bytes.
    pub bytes: f64,
}

impl SizeCount {
    /// Mean size in bytes (0 without items).
    pub fn mean(&self) -> f64 {
        if self.items > 0.0 {
            self.bytes / self.items
        } else {
            0.0
        }
    }
}

/// Arithmetic on the counts: difference and scaling, field by field.
pub trait Counts: Clone + Default {
    /// Every field of `self` combined with `other`'s by `f`.
    fn zip(&self, other: &Self, f: impl Fn(f64, f64) -> f64) -> Self;

    /// `self - earlier`.
    fn minus(&self, earlier: &Self) -> Self {
        self.zip(earlier, |a, b| a - b)
    }

    /// `self + other`.
    fn plus(&self, other: &Self) -> Self {
        self.zip(other, |a, b| a + b)
    }

    /// Every field times `k`.
    fn times(&self, k: f64) -> Self {
        self.zip(self, |a, _| a * k)
    }
}

macro_rules! counts {
    ($t:ty { $($f:ident),* }) => {
        impl Counts for $t {
            fn zip(&self, other: &Self, f: impl Fn(f64, f64) -> f64) -> Self {
                Self { $($f: f(self.$f, other.$f)),* }
            }
        }
    };
}

counts!(DynamoCount {
    requests,
    errors,
    read_units,
    write_units,
    index_write_units,
    items_read,
    bytes_read,
    items_written,
    bytes_written
});
counts!(SqsCount {
    requests,
    billed_requests,
    messages,
    bytes
});
counts!(SizeCount { items, bytes });
counts!(PostCount {
    delivered,
    failed,
    metered_messages,
    bytes
});

impl Counts for LambdaCount {
    fn zip(&self, other: &Self, f: impl Fn(f64, f64) -> f64) -> Self {
        Self {
            invocations: f(self.invocations, other.invocations),
            total_ms: f(self.total_ms, other.total_ms),
            billed_ms: f(self.billed_ms, other.billed_ms),
            // Distribution figures are kept, not combined.
            median_ms: self.median_ms,
            max_ms: self.max_ms,
        }
    }
}

/// `later - earlier`, key by key (keys only in `earlier` are dropped); rows that did not
/// change are left out.
pub fn map_minus<K: Ord + Clone, T: Counts + PartialEq>(
    later: &BTreeMap<K, T>,
    earlier: &BTreeMap<K, T>,
) -> BTreeMap<K, T> {
    later
        .iter()
        .map(|(k, v)| {
            let d = earlier.get(k).map_or_else(|| v.clone(), |e| v.minus(e));
            (k.clone(), d)
        })
        .filter(|(_, d)| *d != T::default())
        .collect()
}

/// Every row of `map` times `k`.
pub fn map_times<K: Ord + Clone, T: Counts>(map: &BTreeMap<K, T>, k: f64) -> BTreeMap<K, T> {
    map.iter()
        .map(|(key, v)| (key.clone(), v.times(k)))
        .collect()
}

/// The sum of `rows`.
pub fn map_total<'a, T: Counts + 'a>(rows: impl IntoIterator<Item = &'a T>) -> T {
    rows.into_iter().fold(T::default(), |acc, v| acc.plus(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_drop_unchanged_rows_and_scale() {
        let mut earlier = BTreeMap::new();
        earlier.insert(
            "Query t".to_owned(),
            DynamoCount {
                requests: 2.0,
                read_units: 1.0,
                ..DynamoCount::default()
            },
        );
        earlier.insert("GetItem t".to_owned(), DynamoCount::default());
        let mut later = earlier.clone();
        if let Some(q) = later.get_mut("Query t") {
            q.requests = 6.0;
            q.read_units = 3.0;
        }
        let d = map_minus(&later, &earlier);
        assert_eq!(d.len(), 1);
        let per = map_times(&d, 0.5);
        assert_eq!(per["Query t"].requests, 2.0);
        assert_eq!(per["Query t"].read_units, 1.0);
        assert_eq!(map_total(per.values()).requests, 2.0);
    }
}
