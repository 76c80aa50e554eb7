//! Room streams on the wire: what clients are told of each [`StreamEntry`](crate::model::StreamEntry), and the
//! `stream_batch` frames that carry them, cut at the 32 KB metering unit.
//!
//! One function renders entries for both catch-up and live delivery, so a client hears
//! the same of a change whichever way it arrives.

mod frames;
mod render;

pub use frames::{FrameMode, batches, legacy_frames};
pub use render::render;
