//! Reading a JSON object field by field, so that each bad field is reported by its name and
//! no error message ever quotes a submitted value (bodies carry passwords and tokens, and
//! refusals are logged). Used for REST bodies and WebSocket payloads alike.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::validate::FieldError;

/// A JSON object whose fields are read one by one. Unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fields {
    map: Map<String, Value>,
    prefix: String,
}

impl Fields {
    /// The object `value`, naming fields `<prefix><name>` in errors (`payload.` for
    /// WebSocket payloads, empty for REST bodies). A non-object is an error on `what`.
    pub fn new(value: Value, prefix: &str, what: &str) -> Result<Self, FieldError> {
        match value {
            Value::Object(map) => Ok(Self {
                map,
                prefix: prefix.to_owned(),
            }),
            _ => Err(FieldError::new(what, "must be a JSON object")),
        }
    }

    /// Field `name`, which must be present and not null.
    pub fn required<T: DeserializeOwned>(&self, name: &str) -> Result<T, FieldError> {
        self.optional(name)?
            .ok_or_else(|| FieldError::new(self.name(name), "is required"))
    }

    /// Field `name`, if present and not null.
    pub fn optional<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, FieldError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => T::deserialize(v)
                .map(Some)
                .map_err(|e| FieldError::new(self.name(name), describe(&e))),
        }
    }

    /// Whether field `name` is present (even as null).
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// The names of the fields present.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    fn name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

/// A serde error as a message that never quotes the value: "expected a string" rather than
/// "invalid type: integer `5`, expected a string"; messages of our own parsers (ids, enums)
/// are kept as they are, without their position suffix.
fn describe(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let msg = match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg.as_str(),
    };
    if msg.starts_with("invalid type") || msg.starts_with("invalid value") {
        if let Some(i) = msg.find(", expected ") {
            return format!("must be {}", &msg[i + ", expected ".len()..]);
        }
    }
    if msg.starts_with("unknown variant")
        && let Some(i) = msg.find(", expected ")
    {
        return format!("must be {}", &msg[i + ", expected ".len()..]);
    }
    msg.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_fields_and_names_the_bad_ones() {
        let f = Fields::new(json!({"a": "x", "n": null, "b": 5}), "payload.", "payload").unwrap();
        assert_eq!(f.required::<String>("a").unwrap(), "x");
        assert_eq!(f.optional::<String>("n").unwrap(), None);
        assert_eq!(f.required::<String>("n").unwrap_err().field, "payload.n");
        let e = f.required::<String>("b").unwrap_err();
        assert_eq!(e.field, "payload.b");
        assert_eq!(e.message, "must be a string");
        assert!(Fields::new(json!([1]), "", "body").is_err());
    }

    #[test]
    fn never_quotes_the_value() {
        let f = Fields::new(
            json!({"password": 123456789, "kind": "secret-word"}),
            "",
            "body",
        )
        .unwrap();
        let e = f.required::<String>("password").unwrap_err();
        assert!(!e.message.contains("123456789"), "{}", e.message);
        #[derive(serde::Deserialize, Debug)]
        #[serde(rename_all = "snake_case")]
        enum Kind {
            A,
        }
        let e = f.required::<Kind>("kind").unwrap_err();
        assert!(!e.message.contains("secret-word"), "{}", e.message);
        let e = f.required::<crate::ids::UserId>("kind").unwrap_err();
        assert!(e.message.contains("not a UUID"), "{}", e.message);
    }
}
