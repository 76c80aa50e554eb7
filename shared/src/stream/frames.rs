//! Cutting rendered items into frames.

use crate::poster::METERING_UNIT_BYTES;
use crate::protocol::{ServerMessage, ServerPayload, StreamBatch, StreamItem};
use crate::room::{Position, Room};

/// How a room's changes are framed live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FrameMode {
    /// `stream_batch` frames, each carrying every change since the subscriber's previous
    /// frame, cut only at the 32 KB metering unit (the default).
    #[default]
    Batched,
    /// One frame per change, as before streams (kept to measure against).
    PerEntry,
}

/// Room for the batch envelope (type, ids, timestamps, room, positions) within a unit.
const ENVELOPE_BYTES: usize = 512;

/// `stream_batch` frames covering `(after, last]` of `room`, each within one 32 KB unit,
/// items in position order. Frames are cut between positions, never inside one, so each
/// frame's range `(after, last_position]` is complete: a client that holds `after` holds
/// `last_position` once the frame is applied. Positions with no item (a pending comment)
/// are covered all the same. With no items at all, one empty frame still moves the range.
pub fn batches(
    room: Room,
    after: Position,
    last: Position,
    items: Vec<StreamItem>,
) -> Vec<ServerMessage> {
    let budget = METERING_UNIT_BYTES - ENVELOPE_BYTES;
    let mut frames = Vec::new();
    let mut current: Vec<StreamItem> = Vec::new();
    let mut bytes = 0usize;
    let mut from = after;
    let mut i = 0;
    while i < items.len() {
        // The items of one position go together.
        let position = items[i].position;
        let mut j = i;
        let mut group_bytes = 0;
        while j < items.len() && items[j].position == position {
            group_bytes += serde_json::to_vec(&items[j]).map_or(0, |v| v.len()) + 1;
            j += 1;
        }
        if !current.is_empty() && bytes + group_bytes > budget {
            let upto = current.last().map_or(from, |it| it.position);
            frames.push(batch(room, from, upto, std::mem::take(&mut current)));
            from = upto;
            bytes = 0;
        }
        current.extend(items[i..j].iter().cloned());
        bytes += group_bytes;
        i = j;
    }
    frames.push(batch(room, from, last.max(from), current));
    frames
}

fn batch(room: Room, after: Position, last: Position, items: Vec<StreamItem>) -> ServerMessage {
    ServerMessage::new(ServerPayload::StreamBatch(StreamBatch {
        room,
        after,
        last_position: last,
        entries: items,
    }))
}

/// The frames of the one-frame-per-change delivery: each item as its own frame.
pub fn legacy_frames(items: Vec<StreamItem>) -> Vec<ServerMessage> {
    items
        .into_iter()
        .map(|it| ServerMessage::new(it.payload))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ConversationId, UserId};
    use crate::protocol::broadcast;

    fn typing_item(p: u64) -> StreamItem {
        StreamItem {
            position: Position(p),
            payload: broadcast::typing(ConversationId::new(), UserId::new(), true).payload,
        }
    }

    #[test]
    fn frames_fit_one_unit_and_cover_the_range_without_gaps() {
        let room = Room::Conversation(ConversationId::new());
        let items: Vec<StreamItem> = (11..=1000).map(typing_item).collect();
        let frames = batches(room, Position(10), Position(1002), items);
        assert!(frames.len() > 1, "a thousand items need several units");
        let mut expect_after = Position(10);
        let mut seen = 0;
        for f in &frames {
            let text = f.to_json();
            assert!(text.len() <= METERING_UNIT_BYTES, "{} bytes", text.len());
            let ServerPayload::StreamBatch(b) = &f.payload else {
                panic!("not a batch");
            };
            assert_eq!(b.after, expect_after, "ranges chain");
            assert!(
                b.entries
                    .iter()
                    .all(|e| e.position > b.after && e.position <= b.last_position)
            );
            seen += b.entries.len();
            expect_after = b.last_position;
        }
        assert_eq!(seen, 990);
        assert_eq!(
            expect_after,
            Position(1002),
            "the last frame reaches the end"
        );
    }

    #[test]
    fn items_of_one_position_stay_in_one_frame_and_an_empty_range_is_one_frame() {
        let room = Room::Conversation(ConversationId::new());
        let mut items = Vec::new();
        for p in 1..=600 {
            items.push(typing_item(p));
            items.push(typing_item(p));
        }
        for f in batches(room, Position(0), Position(600), items) {
            let ServerPayload::StreamBatch(b) = &f.payload else {
                panic!("not a batch");
            };
            let last = b.entries.last().map(|e| e.position);
            assert_eq!(
                b.entries
                    .iter()
                    .filter(|e| Some(e.position) == last)
                    .count(),
                2
            );
        }
        let empty = batches(room, Position(4), Position(6), Vec::new());
        assert_eq!(empty.len(), 1);
    }
}
