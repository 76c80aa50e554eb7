//! Faults the local management API injects into `PostToConnection` (`--inject
//! 429:5%,500:2%`), drawn from a seeded generator so a run can be repeated: the fan-out's
//! retries, backoff and retry jobs meet the answers API Gateway gives under load.

use std::sync::Mutex;

/// A share of posts answered with one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// The HTTP status (429 or 5xx).
    pub status: u16,
    /// The share of posts, in millionths.
    pub per_million: u32,
}

/// The faults of a run and the seed they are drawn with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FaultPlan {
    /// The faults; their shares add up to at most 1.
    pub faults: Vec<Fault>,
    /// Seed of the draws.
    pub seed: u64,
}

impl FaultPlan {
    /// Parses `429:5%,500:2%` (statuses 429 and 500–599; shares in percent, summing to at
    /// most 100).
    pub fn parse(raw: &str, seed: u64) -> Result<Self, String> {
        let mut faults = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (status, share) = part
                .split_once(':')
                .ok_or_else(|| format!("{part:?}: expected STATUS:PERCENT%"))?;
            let status: u16 = status
                .trim()
                .parse()
                .map_err(|_| format!("{part:?}: {status:?} is not a status"))?;
            if status != 429 && !(500..=599).contains(&status) {
                return Err(format!("{part:?}: only 429 and 5xx can be injected"));
            }
            let percent: f64 = share
                .trim()
                .trim_end_matches('%')
                .parse()
                .map_err(|_| format!("{part:?}: {share:?} is not a percentage"))?;
            if !(0.0..=100.0).contains(&percent) {
                return Err(format!("{part:?}: the share must be 0–100%"));
            }
            faults.push(Fault {
                status,
                per_million: (percent * 10_000.0).round() as u32,
            });
        }
        if faults.iter().map(|f| u64::from(f.per_million)).sum::<u64>() > 1_000_000 {
            return Err("the shares add up to more than 100%".into());
        }
        Ok(Self { faults, seed })
    }
}

/// Draws the fault (if any) of each post.
#[derive(Debug)]
pub struct Injector {
    plan: FaultPlan,
    rng: Mutex<fastrand::Rng>,
}

impl Injector {
    /// An injector drawing from `plan`'s seed.
    pub fn new(plan: FaultPlan) -> Self {
        let rng = Mutex::new(fastrand::Rng::with_seed(plan.seed));
        Self { plan, rng }
    }

    /// The status this post is answered with instead of being delivered, if any.
    pub fn draw(&self) -> Option<u16> {
        if self.plan.faults.is_empty() {
            return None;
        }
        let x = self
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .u32(0..1_000_000);
        let mut edge = 0u32;
        self.plan.faults.iter().find_map(|f| {
            edge = edge.saturating_add(f.per_million);
            (x < edge).then_some(f.status)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_parse_and_bad_ones_are_refused() {
        let plan = FaultPlan::parse("429:5%, 500:2%", 7).unwrap();
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
        assert!(FaultPlan::parse("", 1).unwrap().faults.is_empty());
        for bad in ["404:5%", "429", "429:x", "500:120%", "429:60%,500:50%"] {
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
