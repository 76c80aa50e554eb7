//! Reading a deployed function's environment: a variable counts as set only when it holds
//! more than blanks, and a missing required one is an error that names it and says what it
//! must hold (the message a failed cold start logs).

/// A required environment variable is not set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} is not set: it must hold {what}")]
pub struct MissingVar {
    /// The variable.
    pub name: &'static str,
    /// What it must hold.
    pub what: &'static str,
}

/// The process environment, as a lookup for the functions below.
pub fn process(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The value of `name` if it is set and not blank.
pub fn optional(lookup: impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).filter(|v| !v.trim().is_empty())
}

/// The value of `name`, or [`MissingVar`] when it is unset or blank.
pub fn required(
    lookup: impl Fn(&str) -> Option<String>,
    name: &'static str,
    what: &'static str,
) -> Result<String, MissingVar> {
    optional(lookup, name).ok_or(MissingVar { name, what })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_values_count_as_unset() {
        let lookup = |name: &str| match name {
            "SET" => Some("x".to_owned()),
            "BLANK" => Some("  ".to_owned()),
            _ => None,
        };
        assert_eq!(optional(lookup, "SET").as_deref(), Some("x"));
        assert_eq!(optional(lookup, "BLANK"), None);
        let err = required(lookup, "BLANK", "a value").unwrap_err();
        assert_eq!(err.to_string(), "BLANK is not set: it must hold a value");
    }
}
