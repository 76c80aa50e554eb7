//! In-memory store adapters.
