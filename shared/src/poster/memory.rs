//! In-memory poster.
