//! Reading what a connection was sent as a client does: a `stream_batch` frame is the changes
//! it carries, each as `{"type", "payload", "position"}`; any other frame is itself.

use serde_json::Value;

/// `frames` with every `stream_batch` opened into its entries, in order.
pub fn flatten(frames: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for f in frames {
        if f["type"] == "stream_batch" {
            if let Some(entries) = f["payload"]["entries"].as_array() {
                out.extend(entries.iter().cloned());
            }
        } else {
            out.push(f.clone());
        }
    }
    out
}

/// The `type` of each frame, `stream_batch` frames opened.
pub fn kinds(frames: &[Value]) -> Vec<String> {
    flatten(frames)
        .iter()
        .map(|f| f["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}
