//! The benchmarks' error type: a leaf every module returns, so none of them depends on the
//! binary's root for it.

/// What went wrong, for the exit message.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
