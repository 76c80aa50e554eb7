//! Tuning of the fan-out: defaults, environment variables and validation.

use std::time::Duration;

use crate::model::BUCKETS;

/// Tuning of [`Fanout`](super::Fanout). [`Default`] gives the production values; each can be
/// overridden from the environment ([`FanoutConfig::from_env`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanoutConfig {
    /// Most `PostToConnection` requests in flight at once, over every record of an invocation
    /// (`BANTER_FANOUT_CONCURRENCY`, default 64).
    pub concurrency: usize,
    /// Most SQS records of one batch processed at once (`BANTER_FANOUT_RECORD_CONCURRENCY`,
    /// default 10). Their posts still share the one `concurrency` bound.
    pub record_concurrency: usize,
    /// A whole-room job whose room has more subscribers than this is split into shard jobs
    /// instead of being delivered inline (`BANTER_FANOUT_SHARD_THRESHOLD`, default 1,000).
    pub shard_threshold: usize,
    /// Subscribers each shard job should cover (`BANTER_FANOUT_SHARD_TARGET`, default 1,000).
    pub shard_target: usize,
    /// A *shard* job whose range holds more subscribers than this splits itself again (the
    /// room grew after the split, or the estimate was off); at least `shard_target`
    /// (`BANTER_FANOUT_RESHARD_THRESHOLD`, default 4 × 1,000).
    pub reshard_threshold: usize,
    /// Most shard jobs one split enqueues, `2..=4096` (`BANTER_FANOUT_MAX_SHARDS`, default
    /// 1,024): caps the Lambda concurrency one broadcast can claim.
    pub max_shards: u16,
    /// Subscriptions asked for per `Query` page (`BANTER_FANOUT_PAGE_SIZE`, default 500).
    pub page_size: usize,
    /// Most attempts per connection for throttled and transient failures, the first
    /// included (`BANTER_FANOUT_MAX_ATTEMPTS`, default 8).
    pub max_attempts: u32,
    /// Backoff cap before the first retry; doubles per retry, full jitter
    /// (`BANTER_FANOUT_BASE_BACKOFF_MS`, default 25 ms).
    pub base_backoff: Duration,
    /// Largest backoff cap (`BANTER_FANOUT_MAX_BACKOFF_MS`, default 2 s).
    pub max_backoff: Duration,
    /// Time kept free before the Lambda deadline: no post starts after
    /// `deadline - deadline_margin` and posts still in flight then are abandoned, so the
    /// handler always returns its batch response in time (`BANTER_FANOUT_DEADLINE_MARGIN_MS`,
    /// default 1 s).
    pub deadline_margin: Duration,
    /// `PostToConnection` calls per second one room's live delivery may use
    /// (`BANTER_FANOUT_POST_BUDGET`, default 2,000). A pass to `n` subscribers is followed by
    /// the next no sooner than `n / budget` later: a hot room's ticks widen with its audience
    /// instead of the account's 10,000/s being exceeded; a small room is delivered at once.
    pub post_budget: u32,
    /// Live delivery frames: `batched` (`stream_batch`, the default) or `per_entry` (one frame
    /// per change, as before streams; for measurements) (`BANTER_FANOUT_FRAMES`).
    pub frames: crate::stream::FrameMode,
}

impl Default for FanoutConfig {
    fn default() -> Self {
        Self {
            concurrency: 64,
            record_concurrency: 10,
            shard_threshold: 1_000,
            shard_target: 1_000,
            reshard_threshold: 4_000,
            max_shards: 1_024,
            page_size: 500,
            max_attempts: 8,
            base_backoff: Duration::from_millis(25),
            max_backoff: Duration::from_secs(2),
            post_budget: 2_000,
            frames: crate::stream::FrameMode::Batched,
            deadline_margin: Duration::from_secs(1),
        }
    }
}

/// A fan-out setting that is malformed or out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fan-out setting {name}={value:?}: {reason}")]
pub struct FanoutConfigError {
    /// The setting (environment variable name, or field name when built in code).
    pub name: &'static str,
    /// The rejected value.
    pub value: String,
    /// What a valid value looks like.
    pub reason: &'static str,
}

fn invalid(name: &'static str, value: impl ToString, reason: &'static str) -> FanoutConfigError {
    FanoutConfigError {
        name,
        value: value.to_string(),
        reason,
    }
}

fn parse<T: std::str::FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, FanoutConfigError> {
    match lookup(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|_| invalid(name, raw, "not a non-negative integer")),
    }
}

fn parse_ms(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: Duration,
) -> Result<Duration, FanoutConfigError> {
    let default_ms = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
    parse(lookup, name, default_ms).map(Duration::from_millis)
}

impl FanoutConfig {
    /// The defaults, overridden by every `BANTER_FANOUT_*` variable that is set (see each
    /// field). A variable that is set but malformed or out of range is an error, never
    /// silently the default.
    pub fn from_env() -> Result<Self, FanoutConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`FanoutConfig::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, FanoutConfigError> {
        let d = Self::default();
        let config = Self {
            concurrency: parse(&lookup, "BANTER_FANOUT_CONCURRENCY", d.concurrency)?,
            record_concurrency: parse(
                &lookup,
                "BANTER_FANOUT_RECORD_CONCURRENCY",
                d.record_concurrency,
            )?,
            shard_threshold: parse(&lookup, "BANTER_FANOUT_SHARD_THRESHOLD", d.shard_threshold)?,
            shard_target: parse(&lookup, "BANTER_FANOUT_SHARD_TARGET", d.shard_target)?,
            reshard_threshold: parse(
                &lookup,
                "BANTER_FANOUT_RESHARD_THRESHOLD",
                d.reshard_threshold,
            )?,
            max_shards: parse(&lookup, "BANTER_FANOUT_MAX_SHARDS", d.max_shards)?,
            page_size: parse(&lookup, "BANTER_FANOUT_PAGE_SIZE", d.page_size)?,
            max_attempts: parse(&lookup, "BANTER_FANOUT_MAX_ATTEMPTS", d.max_attempts)?,
            base_backoff: parse_ms(&lookup, "BANTER_FANOUT_BASE_BACKOFF_MS", d.base_backoff)?,
            max_backoff: parse_ms(&lookup, "BANTER_FANOUT_MAX_BACKOFF_MS", d.max_backoff)?,
            deadline_margin: parse_ms(
                &lookup,
                "BANTER_FANOUT_DEADLINE_MARGIN_MS",
                d.deadline_margin,
            )?,
            post_budget: parse(&lookup, "BANTER_FANOUT_POST_BUDGET", d.post_budget)?,
            frames: match lookup("BANTER_FANOUT_FRAMES").as_deref().map(str::trim) {
                None | Some("batched") => crate::stream::FrameMode::Batched,
                Some("per_entry") => crate::stream::FrameMode::PerEntry,
                Some(other) => {
                    return Err(invalid(
                        "BANTER_FANOUT_FRAMES",
                        other,
                        "must be batched or per_entry",
                    ));
                }
            },
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks the ranges: every count at least 1, `reshard_threshold >= shard_target`,
    /// `2 <= max_shards <= 4096`, `base_backoff <= max_backoff`.
    pub fn validate(&self) -> Result<(), FanoutConfigError> {
        let at_least_one = [
            ("concurrency", self.concurrency),
            ("record_concurrency", self.record_concurrency),
            ("shard_threshold", self.shard_threshold),
            ("shard_target", self.shard_target),
            ("reshard_threshold", self.reshard_threshold),
            ("page_size", self.page_size),
        ];
        for (name, value) in at_least_one {
            if value == 0 {
                return Err(invalid(name, value, "must be at least 1"));
            }
        }
        if self.post_budget == 0 {
            return Err(invalid("post_budget", 0, "must be at least 1"));
        }
        if self.max_attempts == 0 {
            return Err(invalid("max_attempts", 0, "must be at least 1"));
        }
        if self.reshard_threshold < self.shard_target {
            return Err(invalid(
                "reshard_threshold",
                self.reshard_threshold,
                "must be at least shard_target",
            ));
        }
        if !(2..=BUCKETS).contains(&self.max_shards) {
            return Err(invalid("max_shards", self.max_shards, "must be 2..=4096"));
        }
        if self.base_backoff > self.max_backoff {
            return Err(invalid(
                "base_backoff",
                format!("{:?}", self.base_backoff),
                "must not exceed max_backoff",
            ));
        }
        Ok(())
    }
}
