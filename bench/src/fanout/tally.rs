//! Deliveries of one run, as the clients saw them: for each comment, which client received
//! it when (first receipt only), how many receipts were duplicates, and the summary the
//! report shows (latency percentiles, deliveries per second, lost and duplicated).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;

/// The receipts of one comment.
#[derive(Debug, Clone)]
struct Arrivals {
    seen: Vec<bool>,
    /// (client, when), first receipt per client, in the order they were read.
    first: Vec<(usize, SystemTime)>,
    duplicates: usize,
}

/// One submitted comment.
#[derive(Debug, Clone, Default)]
struct Submitted {
    sent: Option<SystemTime>,
    comment_id: Option<String>,
}

/// Receipts of a run of `comments` comments to `clients` clients.
#[derive(Debug)]
pub struct Tally {
    clients: usize,
    submitted: Vec<Submitted>,
    by_id: HashMap<String, Arrivals>,
    unique: usize,
    duplicates: usize,
}

impl Tally {
    /// An empty tally.
    pub fn new(clients: usize, comments: usize) -> Self {
        Self {
            clients,
            submitted: vec![Submitted::default(); comments],
            by_id: HashMap::new(),
            unique: 0,
            duplicates: 0,
        }
    }

    /// Comment `index` was sent at `at`.
    pub fn sent(&mut self, index: usize, at: SystemTime) {
        if let Some(s) = self.submitted.get_mut(index) {
            s.sent = Some(at);
        }
    }

    /// Comment `index` was stored as `comment_id` (its ack).
    pub fn acked(&mut self, index: usize, comment_id: String) {
        if let Some(s) = self.submitted.get_mut(index) {
            s.comment_id = Some(comment_id);
        }
    }

    /// Client `client` received the broadcast of `comment_id` at `at`.
    pub fn received(&mut self, client: usize, comment_id: &str, at: SystemTime) {
        if client >= self.clients {
            return;
        }
        let clients = self.clients;
        let a = self
            .by_id
            .entry(comment_id.to_owned())
            .or_insert_with(|| Arrivals {
                seen: vec![false; clients],
                first: Vec::with_capacity(clients),
                duplicates: 0,
            });
        if a.seen[client] {
            a.duplicates += 1;
            self.duplicates += 1;
        } else {
            a.seen[client] = true;
            a.first.push((client, at));
            self.unique += 1;
        }
    }

    /// First receipts so far (of any comment).
    pub fn unique(&self) -> usize {
        self.unique
    }

    /// Duplicate receipts so far.
    pub fn duplicates(&self) -> usize {
        self.duplicates
    }

    /// Comments acknowledged so far.
    pub fn acked_count(&self) -> usize {
        self.submitted
            .iter()
            .filter(|s| s.comment_id.is_some())
            .count()
    }

    /// Whether every comment was acknowledged and reached every client.
    pub fn complete(&self) -> bool {
        self.acked_count() == self.submitted.len()
            && self.unique >= self.clients * self.submitted.len()
    }

    /// For each comment (in order), the delay of each first receipt from its sending, sorted
    /// (empty for a comment never sent or never acknowledged).
    pub fn latencies(&self) -> Vec<Vec<Duration>> {
        self.submitted
            .iter()
            .map(|s| {
                let (Some(sent), Some(id)) = (s.sent, &s.comment_id) else {
                    return Vec::new();
                };
                let mut l: Vec<Duration> = self
                    .by_id
                    .get(id)
                    .map(|a| {
                        a.first
                            .iter()
                            .map(|(_, at)| at.duration_since(sent).unwrap_or_default())
                            .collect()
                    })
                    .unwrap_or_default();
                l.sort();
                l
            })
            .collect()
    }

    /// Summary of the run so far.
    pub fn summary(&self) -> Summary {
        let per_comment = self.latencies();
        let mut all: Vec<Duration> = per_comment.iter().flatten().copied().collect();
        all.sort();
        let expected = self.clients * self.submitted.len();
        let ours: usize = per_comment.iter().map(Vec::len).sum();
        let duplicated: usize = self
            .submitted
            .iter()
            .filter_map(|s| s.comment_id.as_ref())
            .filter_map(|id| self.by_id.get(id))
            .map(|a| a.duplicates)
            .sum();
        let first_sent = self.submitted.iter().filter_map(|s| s.sent).min();
        let last_arrival = self
            .submitted
            .iter()
            .filter_map(|s| s.comment_id.as_ref())
            .filter_map(|id| self.by_id.get(id))
            .filter_map(|a| a.first.iter().map(|(_, at)| *at).max())
            .max();
        let span = match (first_sent, last_arrival) {
            (Some(a), Some(b)) => b.duration_since(a).unwrap_or_default(),
            _ => Duration::ZERO,
        };
        let comments: Vec<CommentSummary> = per_comment
            .iter()
            .enumerate()
            .map(|(index, l)| CommentSummary {
                index,
                received: l.len(),
                first_ms: ms(l.first().copied()),
                p50_ms: ms(percentile(l, 0.50)),
                last_ms: ms(l.last().copied()),
                fanout_per_second: match (l.first(), l.last()) {
                    (Some(a), Some(b)) if b > a => l.len() as f64 / (*b - *a).as_secs_f64(),
                    _ => 0.0,
                },
            })
            .collect();
        let mut to_all: Vec<Duration> = per_comment
            .iter()
            .filter(|l| l.len() == self.clients)
            .filter_map(|l| l.last().copied())
            .collect();
        to_all.sort();
        let mut rates: Vec<f64> = per_comment
            .iter()
            .filter(|l| l.len() == self.clients)
            .filter_map(|l| l.last())
            .filter(|d| !d.is_zero())
            .map(|d| self.clients as f64 / d.as_secs_f64())
            .collect();
        rates.sort_by(f64::total_cmp);
        let fanout_per_second = rates.get(rates.len().saturating_sub(1) / 2).copied();
        Summary {
            expected,
            delivered: ours,
            lost: expected.saturating_sub(ours),
            duplicated,
            latency_ms: Percentiles::of(&all),
            to_all_ms: Percentiles::of(&to_all),
            fanout_per_second: fanout_per_second.unwrap_or(0.0),
            deliveries_per_second: if span.is_zero() {
                0.0
            } else {
                ours as f64 / span.as_secs_f64()
            },
            comments,
        }
    }
}

/// Milliseconds, for reports.
fn ms(d: Option<Duration>) -> f64 {
    d.map_or(0.0, |d| d.as_secs_f64() * 1_000.0)
}

/// The nearest-rank percentile `p` (0..=1) of sorted values.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// p50/p95/p99/max in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// Of sorted values.
    pub fn of(sorted: &[Duration]) -> Self {
        Self {
            p50: ms(percentile(sorted, 0.50)),
            p95: ms(percentile(sorted, 0.95)),
            p99: ms(percentile(sorted, 0.99)),
            max: ms(sorted.last().copied()),
        }
    }
}

/// One comment's deliveries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommentSummary {
    /// Its place in the run, from 0.
    pub index: usize,
    /// Clients it reached.
    pub received: usize,
    /// From sending to the first client, ms.
    pub first_ms: f64,
    /// To half of the clients, ms.
    pub p50_ms: f64,
    /// To the last client, ms.
    pub last_ms: f64,
    /// Clients reached per second between the first and the last receipt.
    pub fanout_per_second: f64,
}

/// The deliveries of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Clients × comments.
    pub expected: usize,
    /// Distinct (client, comment) receipts.
    pub delivered: usize,
    /// Expected receipts that never came.
    pub lost: usize,
    /// Receipts beyond the first of the same comment at the same client.
    pub duplicated: usize,
    /// From sending a comment to its receipt, over every delivery.
    pub latency_ms: Percentiles,
    /// From sending a comment until the last client received it, over the comments that
    /// reached every client.
    pub to_all_ms: Percentiles,
    /// Deliveries per second while one comment fans out: N over its time to the last
    /// subscriber, the median over the comments that reached every client.
    pub fanout_per_second: f64,
    /// Deliveries over the whole run: from the first comment sent to the last receipt
    /// (bounded by the offered load, N × the comment rate).
    pub deliveries_per_second: f64,
    /// Per comment.
    pub comments: Vec<CommentSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: SystemTime = SystemTime::UNIX_EPOCH;

    #[test]
    fn counts_lost_and_duplicated_deliveries() {
        let mut t = Tally::new(3, 2);
        t.sent(0, T0);
        t.acked(0, "a".into());
        t.sent(1, T0 + Duration::from_millis(100));
        t.acked(1, "b".into());
        for c in 0..3 {
            t.received(c, "a", T0 + Duration::from_millis(10 * (c as u64 + 1)));
        }
        t.received(1, "a", T0 + Duration::from_millis(50));
        t.received(0, "b", T0 + Duration::from_millis(120));
        t.received(9, "b", T0);
        assert!(!t.complete());
        let s = t.summary();
        assert_eq!(
            (s.expected, s.delivered, s.lost, s.duplicated),
            (6, 4, 2, 1)
        );
        assert_eq!(s.latency_ms.max, 30.0);
        assert_eq!(s.to_all_ms.p50, 30.0, "only the complete comment counts");
        assert_eq!(s.comments[1].received, 1);
        assert!((s.deliveries_per_second - 4.0 / 0.12).abs() < 1e-6);
        assert!((s.fanout_per_second - 3.0 / 0.03).abs() < 1e-6);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&v, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&v, 1.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
