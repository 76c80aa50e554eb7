//! The sample files in the repository's `events/` directory.

use std::path::PathBuf;

use serde_json::Value;

/// The repository's `events/` directory.
fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("events")
}

/// The sample `events/<name>.json` (`name` with or without `.json`).
pub fn load_sample(name: &str) -> Value {
    let file = if name.ends_with(".json") {
        name.to_owned()
    } else {
        format!("{name}.json")
    };
    let path = events_dir().join(&file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"))
}

/// Every `events/<prefix>*.json` file name, sorted.
pub fn sample_names(prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(events_dir())
        .expect("events/ is readable")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix) && n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// The `events/http-*.json` sample whose `routeKey` is `route_key`.
pub fn sample_for_route(route_key: &str) -> Value {
    sample_names("http-")
        .into_iter()
        .map(|n| load_sample(&n))
        .find(|e| e["routeKey"] == route_key)
        .unwrap_or_else(|| panic!("no events/http-*.json sample for {route_key}"))
}
