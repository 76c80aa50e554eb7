//! Faults the local stack injects (`--inject 410:2%,429:5%,500:2%,dynamodb:1%,sqs:1%`),
//! drawn from seeded generators so a run can be repeated:
//!
//! - **management API** (`410`, `429`, `5xx`): a `PostToConnection` is answered with that
//!   status instead of delivering; an injected `410` also drops the connection, as a client
//!   that vanished (its socket closes, `$disconnect` runs), so the client reconnects and
//!   catches up;
//! - **`dynamodb`**: a call of the room-stream store (`StreamStore`: catch-up reads, the
//!   delivery cursor, stream reads, counts flushes) fails as a DynamoDB error would (the
//!   store ports are the adapters' seam; the other stores are left alone);
//! - **`sqs`**: a fan-out job's enqueue fails (as `SendMessageBatch` would), or a received job
//!   is delivered twice (SQS is at-least-once), each half of the share.
//!
//! The fan-out's retries, backoff, leases, retry jobs and dead letters meet them.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// A share of posts answered with one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// The HTTP status (410, 429 or 5xx).
    pub status: u16,
    /// The share of posts, in millionths.
    pub per_million: u32,
}

/// The faults of a run and the seed they are drawn with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FaultPlan {
    /// The management API's faults; their shares add up to at most 1.
    pub faults: Vec<Fault>,
    /// Share of room-stream store calls that fail, in millionths.
    pub dynamodb: u32,
    /// Share of fan-out enqueues that fail and of receives delivered twice, in millionths.
    pub sqs: u32,
    /// Seed of the draws.
    pub seed: u64,
}

fn share(part: &str, raw: &str) -> Result<u32, String> {
    let percent: f64 = raw
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("{part:?}: {raw:?} is not a percentage"))?;
    if !(0.0..=100.0).contains(&percent) {
        return Err(format!("{part:?}: the share must be 0–100%"));
    }
    Ok((percent * 10_000.0).round() as u32)
}

impl FaultPlan {
    /// Parses `410:2%,429:5%,500:2%,dynamodb:1%,sqs:1%` (statuses 410, 429 and 500–599,
    /// summing to at most 100%; `dynamodb` and `sqs` on their own).
    pub fn parse(raw: &str, seed: u64) -> Result<Self, String> {
        let mut plan = Self {
            seed,
            ..Self::default()
        };
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (target, amount) = part
                .split_once(':')
                .ok_or_else(|| format!("{part:?}: expected TARGET:PERCENT%"))?;
            match target.trim() {
                "dynamodb" => plan.dynamodb = share(part, amount)?,
                "sqs" => plan.sqs = share(part, amount)?,
                status => {
                    let status: u16 = status.parse().map_err(|_| {
                        format!("{part:?}: {status:?} is not a status, dynamodb or sqs")
                    })?;
                    if status != 410 && status != 429 && !(500..=599).contains(&status) {
                        return Err(format!("{part:?}: only 410, 429 and 5xx can be injected"));
                    }
                    plan.faults.push(Fault {
                        status,
                        per_million: share(part, amount)?,
                    });
                }
            }
        }
        if plan
            .faults
            .iter()
            .map(|f| u64::from(f.per_million))
            .sum::<u64>()
            > 1_000_000
        {
            return Err("the statuses' shares add up to more than 100%".into());
        }
        Ok(plan)
    }

    /// Whether anything is injected.
    pub fn is_empty(&self) -> bool {
        self.faults.is_empty() && self.dynamodb == 0 && self.sqs == 0
    }
}

/// What was injected so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Injected {
    /// Management API answers, by status.
    pub management: BTreeMap<u16, u64>,
    /// Failed room-stream store calls.
    pub dynamodb: u64,
    /// Failed enqueues.
    pub sqs_send_failures: u64,
    /// Jobs delivered twice.
    pub sqs_duplicates: u64,
}

/// Draws the faults of a plan (each target from a generator of its own).
#[derive(Debug)]
pub struct Injector {
    plan: FaultPlan,
    posts: Mutex<fastrand::Rng>,
    store: Mutex<fastrand::Rng>,
    queue: Mutex<fastrand::Rng>,
    management: Mutex<BTreeMap<u16, u64>>,
    dynamodb: AtomicU64,
    sqs_send_failures: AtomicU64,
    sqs_duplicates: AtomicU64,
}

fn below(rng: &Mutex<fastrand::Rng>, per_million: u32) -> bool {
    per_million > 0
        && rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .u32(0..1_000_000)
            < per_million
}

impl Injector {
    /// An injector drawing from `plan`'s seed.
    pub fn new(plan: FaultPlan) -> Self {
        let rng = |salt: u64| Mutex::new(fastrand::Rng::with_seed(plan.seed ^ salt));
        Self {
            posts: rng(0),
            store: rng(0x5eed_0001),
            queue: rng(0x5eed_0002),
            plan,
            management: Mutex::default(),
            dynamodb: AtomicU64::new(0),
            sqs_send_failures: AtomicU64::new(0),
            sqs_duplicates: AtomicU64::new(0),
        }
    }

    /// The plan drawn from.
    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// The status this post is answered with instead of being delivered, if any.
    pub fn draw(&self) -> Option<u16> {
        if self.plan.faults.is_empty() {
            return None;
        }
        let x = self
            .posts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .u32(0..1_000_000);
        let mut edge = 0u32;
        let status = self.plan.faults.iter().find_map(|f| {
            edge = edge.saturating_add(f.per_million);
            (x < edge).then_some(f.status)
        })?;
        *self
            .management
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(status)
            .or_default() += 1;
        Some(status)
    }

    /// Whether this room-stream store call fails.
    pub fn store_call_fails(&self) -> bool {
        let fails = below(&self.store, self.plan.dynamodb);
        if fails {
            self.dynamodb.fetch_add(1, Ordering::Relaxed);
        }
        fails
    }

    /// Whether this enqueue fails.
    pub fn send_fails(&self) -> bool {
        let fails = below(&self.queue, self.plan.sqs / 2);
        if fails {
            self.sqs_send_failures.fetch_add(1, Ordering::Relaxed);
        }
        fails
    }

    /// Whether this received job is delivered a second time.
    pub fn duplicates(&self) -> bool {
        let twice = below(&self.queue, self.plan.sqs / 2);
        if twice {
            self.sqs_duplicates.fetch_add(1, Ordering::Relaxed);
        }
        twice
    }

    /// What was injected so far.
    pub fn injected(&self) -> Injected {
        Injected {
            management: self
                .management
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            dynamodb: self.dynamodb.load(Ordering::Relaxed),
            sqs_send_failures: self.sqs_send_failures.load(Ordering::Relaxed),
            sqs_duplicates: self.sqs_duplicates.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_parse_and_bad_ones_are_refused() {
        let plan = FaultPlan::parse("429:5%, 500:2%", 7).unwrap();
        assert_eq!((plan.dynamodb, plan.sqs), (0, 0));
        assert_eq!(
            plan.faults,
            [
                Fault {
                    status: 429,
                    per_million: 50_000
                },
                Fault {
                    status: 500,
                    per_million: 20_000
                }
            ]
        );
        assert!(FaultPlan::parse("", 1).unwrap().is_empty());
        let all = FaultPlan::parse("410:2%,dynamodb:1%,sqs:0.5%", 3).unwrap();
        assert_eq!(
            (all.faults[0].status, all.dynamodb, all.sqs),
            (410, 10_000, 5_000)
        );
        for bad in [
            "404:5%",
            "429",
            "429:x",
            "500:120%",
            "429:60%,500:50%",
            "s3:1%",
            "dynamodb:101%",
        ] {
            assert!(FaultPlan::parse(bad, 1).is_err(), "{bad}");
        }
    }

    #[test]
    fn draws_follow_the_shares_and_repeat_with_the_seed() {
        let plan = FaultPlan::parse("429:10%,500:5%", 42).unwrap();
        let draw = |n| {
            let i = Injector::new(plan.clone());
            (0..n).map(|_| i.draw()).collect::<Vec<_>>()
        };
        let a = draw(20_000);
        assert_eq!(a, draw(20_000), "the same seed, the same faults");
        let share = |s| a.iter().filter(|d| **d == Some(s)).count() as f64 / 20_000.0;
        assert!((share(429) - 0.10).abs() < 0.01, "{}", share(429));
        assert!((share(500) - 0.05).abs() < 0.01, "{}", share(500));
    }
}
