//! The WebSocket API's route selection expression (`$request.body.<field>`): which route key
//! a client message selects. A leaf: the template check and the route table both use it.

use serde_json::Value;

/// A route selection expression API Gateway can evaluate: `$request.body.<path>` (or
/// `${request.body.<path>}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSelection {
    path: Vec<String>,
}

impl RouteSelection {
    /// Parses an expression; anything but a body path is unsupported locally.
    pub fn parse(expression: &str) -> Result<Self, String> {
        let e = expression.trim();
        let inner = e
            .strip_prefix("${")
            .and_then(|x| x.strip_suffix('}'))
            .map(|x| format!("${x}"))
            .unwrap_or_else(|| e.to_owned());
        match inner.strip_prefix("$request.body.") {
            Some(path) if !path.is_empty() && path.split('.').all(|p| !p.is_empty()) => Ok(Self {
                path: path.split('.').map(str::to_owned).collect(),
            }),
            _ => Err(format!(
                "route selection expression {expression:?} is not supported locally (only \
                 $request.body.<field>)"
            )),
        }
    }

    /// The route key a client message selects, if it is JSON with a string (or number) there.
    pub fn select(&self, body: &str) -> Option<String> {
        let v: Value = serde_json::from_str(body).ok()?;
        let found = self.path.iter().try_fold(&v, |v, k| v.get(k))?;
        match found {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_selection_reads_a_body_path() {
        let s = RouteSelection::parse("$request.body.action").unwrap();
        assert_eq!(s.select(r#"{"action":"send"}"#).as_deref(), Some("send"));
        assert_eq!(s.select(r#"{"type":"ping"}"#), None);
        assert_eq!(s.select("not json"), None);
        let nested = RouteSelection::parse("${request.body.meta.kind}").unwrap();
        assert_eq!(
            nested.select(r#"{"meta":{"kind":"x"}}"#).as_deref(),
            Some("x")
        );
        assert!(RouteSelection::parse("$request.header.x").is_err());
        assert!(RouteSelection::parse("$request.body.").is_err());
    }
}
