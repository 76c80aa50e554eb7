//! DynamoDB's size of an item, as capacity units are charged for it, from the item in the
//! JSON wire format (`{"name": {"S": "…"}, …}`): the UTF-8 length of every attribute name
//! plus the size of its value (strings: UTF-8 bytes; numbers: about one byte per two
//! significant digits plus one; binary: raw bytes; booleans and nulls: one byte; lists and
//! maps: three bytes plus their elements, each one byte more).

use serde_json::{Map, Value};

/// Size in bytes of an item (a map of attribute name → attribute value).
pub fn item_size(item: &Map<String, Value>) -> u64 {
    item.iter()
        .map(|(name, value)| len(name) + value_size(value))
        .sum()
}

/// Size in bytes of the item `v`, or 0 when it is not an item (not a JSON object).
pub fn item_size_of(v: &Value) -> u64 {
    v.as_object().map_or(0, item_size)
}

fn len(s: &str) -> u64 {
    u64::try_from(s.len()).unwrap_or(u64::MAX)
}

/// Size of one attribute value (`{"S": "…"}`, `{"N": "…"}`, `{"M": {…}}`, …).
fn value_size(v: &Value) -> u64 {
    let Some((kind, inner)) = v.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match (kind.as_str(), inner) {
        ("S", Value::String(s)) => len(s),
        ("N", Value::String(n)) => number_size(n),
        ("B", Value::String(b)) => base64_bytes(b),
        ("BOOL" | "NULL", _) => 1,
        ("SS", Value::Array(a)) => a.iter().filter_map(Value::as_str).map(len).sum(),
        ("NS", Value::Array(a)) => a.iter().filter_map(Value::as_str).map(number_size).sum(),
        ("BS", Value::Array(a)) => a.iter().filter_map(Value::as_str).map(base64_bytes).sum(),
        ("L", Value::Array(a)) => 3 + a.iter().map(|e| 1 + value_size(e)).sum::<u64>(),
        ("M", Value::Object(m)) => {
            3 + m
                .iter()
                .map(|(k, e)| 1 + len(k) + value_size(e))
                .sum::<u64>()
        }
        _ => 0,
    }
}

/// A number's size: its significant digits (leading and trailing zeros dropped), two per
/// byte, plus one byte.
fn number_size(n: &str) -> u64 {
    let digits: String = n
        .chars()
        .take_while(|c| *c != 'e' && *c != 'E')
        .filter(char::is_ascii_digit)
        .collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0');
    len(significant).div_ceil(2) + 1
}

/// Decoded length of base64 text.
fn base64_bytes(b: &str) -> u64 {
    let padding = len(b) - len(b.trim_end_matches('='));
    (len(b) / 4 * 3).saturating_sub(padding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_follow_dynamodb_rules() {
        let item = json!({
            "pk": {"S": "CONN#abc"},          // 2 + 8
            "n": {"N": "12300"},              // 1 + (3 digits → 2) + 1
            "ok": {"BOOL": true},             // 2 + 1
            "m": {"M": {"a": {"S": "xy"}}},   // 1 + 3 + (1 + 1 + 2)
            "l": {"L": [{"N": "7"}, {"NULL": true}]}, // 1 + 3 + (1 + 2) + (1 + 1)
            "b": {"B": "AAEC"}                // 1 + 3
        });
        assert_eq!(item_size_of(&item), 10 + 4 + 3 + 8 + 9 + 4);
        assert_eq!(item_size_of(&json!("not an item")), 0);
        assert_eq!(number_size("0.000123"), 3);
        assert_eq!(number_size("-1e10"), 2);
    }
}
