//! In-memory `RateLimitStore`.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Duration};

use crate::store::{RateLimitStore, StoreError, StoreResult, WindowCount};
use crate::time::Timestamp;

/// In-memory `RateLimitStore`: fixed windows, old windows dropped as time passes.
#[derive(Default)]
pub struct MemoryRateLimitStore {
    windows: Mutex<HashMap<(String, i64), (u64, i64)>>,
    /// When each key's next turn opens.
    turns: Mutex<HashMap<String, Timestamp>>,
}

/// The start and end (epoch seconds) of the `window` that holds `now`.
pub fn window_bounds(window: Duration, now: Timestamp) -> StoreResult<(i64, i64)> {
    let len = window.num_seconds();
    if len <= 0 {
        return Err(StoreError::Backend(
            "rate-limit window must be at least 1 s".into(),
        ));
    }
    let start = now.timestamp().div_euclid(len) * len;
    Ok((start, start + len))
}

#[async_trait]
impl RateLimitStore for MemoryRateLimitStore {
    async fn hit(&self, key: &str, window: Duration, now: Timestamp) -> StoreResult<WindowCount> {
        let (start, end) = window_bounds(window, now)?;
        let mut g = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if g.len() > 4096 {
            let t = now.timestamp();
            g.retain(|_, (_, e)| *e > t);
        }
        let entry = g.entry((key.to_owned(), start)).or_insert((0, end));
        entry.0 += 1;
        Ok(WindowCount {
            count: entry.0,
            resets_at: DateTime::from_timestamp(end, 0).unwrap_or(now),
        })
    }

    async fn peek(&self, key: &str, window: Duration, now: Timestamp) -> StoreResult<WindowCount> {
        let (start, end) = window_bounds(window, now)?;
        let g = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let count = g.get(&(key.to_owned(), start)).map_or(0, |(c, _)| *c);
        Ok(WindowCount {
            count,
            resets_at: DateTime::from_timestamp(end, 0).unwrap_or(now),
        })
    }

    async fn take_turn(
        &self,
        key: &str,
        gap: Duration,
        now: Timestamp,
    ) -> StoreResult<Option<Timestamp>> {
        let mut g = self.turns.lock().unwrap_or_else(|e| e.into_inner());
        if g.len() > 4096 {
            g.retain(|_, next| *next > now);
        }
        match g.get(key) {
            Some(next) if *next > now => Ok(Some(*next)),
            _ => {
                g.insert(key.to_owned(), now + gap);
                Ok(None)
            }
        }
    }
}
