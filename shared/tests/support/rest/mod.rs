//! The REST test harness: requests built from the API Gateway HTTP API (payload 2.0) samples
//! in `events/` ([`Call`]), served through [`banter::http::serve`] by the function that owns
//! their route, and responses read back as JSON and checked ([`Resp`]); an in-memory
//! [`World`] whose data the `banter_testkit` fixtures seed.
//!
//! Use from a test crate with `mod support;` and `use support::rest::*;`. Each test crate
//! uses a part of what is re-exported here, hence the allowance.
#![allow(unused_imports)]

mod call;
mod resp;
mod sample_check;
mod samples;
mod serve;
mod world;

pub use banter_testkit::events::{event_by, seed_event, store_event};
pub use banter_testkit::queue::drain;
pub use banter_testkit::tokens::{forged_token_for, token_for, token_issued_at};
pub use banter_testkit::users::{seed_user, store_user, user_named};
pub use call::{Call, check_errors, check_fields, check_needs_token};
pub use resp::{Resp, check_error_envelope};
pub use sample_check::check_samples;
pub use samples::{load_sample, sample_for_route, sample_names};
pub use serve::{send, serve};
pub use world::{Actor, World, roomy_config};
