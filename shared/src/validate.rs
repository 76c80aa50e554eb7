//! Input validation with field-level details, shared by every entry point.

use serde::{Deserialize, Serialize};

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field's name as the client sent it (dotted for nested fields).
    pub field: String,
    /// What is wrong with it, for a human.
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

impl FieldError {
    /// A field error for `field` with `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every field that failed validation in one input.
#[derive(Debug, Clone, PartialEq, Eq, Default, thiserror::Error)]
#[error("invalid input: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an error for `field`.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Records the error of a check, if it failed, and returns its value otherwise.
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    /// `Ok(())` when nothing failed, otherwise these errors.
    pub fn finish(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// The recorded errors.
    pub fn fields(&self) -> &[FieldError] {
        &self.0
    }
}

impl From<FieldError> for ValidationErrors {
    fn from(e: FieldError) -> Self {
        Self(vec![e])
    }
}

/// Unicode's `Default_Ignorable_Code_Point` ranges (DerivedCoreProperties.txt, Unicode 16):
/// characters that render as nothing (zero-width spaces and joiners, the BOM, variation
/// selectors, fillers, tags). Text made only of these and white space looks empty.
const DEFAULT_IGNORABLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF0}', '\u{FFF8}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0000}', '\u{E0FFF}'),
];

/// Whether `c` renders as nothing: white space or a default-ignorable code point.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || DEFAULT_IGNORABLE
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// The explicit bidirectional embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069): they reorder what follows them, so a name or comment could show other text
/// than it holds ("Trojan Source"). Right-to-left text needs none of them.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Trims `value` and checks that it holds `min..=max` characters (Unicode scalar values),
/// that it is not only invisible characters (zero-width spaces and the like count as empty),
/// and that it holds no control or bidirectional control characters.
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<String, FieldError> {
    if value.chars().count() > max {
        // The limit counts what was sent (as the API documents it), white space included.
        return Err(too_long(field, max));
    }
    let trimmed = value.trim();
    let n = if trimmed.chars().all(is_invisible) {
        0
    } else {
        trimmed.chars().count()
    };
    if n < min {
        return Err(FieldError::new(
            field,
            if min == 1 {
                "must not be empty".to_owned()
            } else {
                format!("must be at least {min} characters")
            },
        ));
    }
    if n > max {
        return Err(too_long(field, max));
    }
    // Around visible text, the white space trimmed away may not hold controls either
    // (U+000B, U+000C, U+0085): the documented pattern allows them only in a blank value.
    if !trimmed.is_empty()
        && value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    if trimmed.chars().any(is_bidi_control) {
        return Err(FieldError::new(
            field,
            "must not contain bidirectional control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

fn too_long(field: &str, max: usize) -> FieldError {
    FieldError::new(field, format!("must be at most {max} characters"))
}

/// Like [`text`] for an optional field: `None` and blank strings become `None` (a blank one
/// longer than `max` is still refused).
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    if value.is_some_and(|v| v.chars().count() > max) {
        return Err(too_long(field, max));
    }
    match value {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => text(field, v, 1, max).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_trims_and_counts_characters_not_bytes() {
        assert_eq!(text("c", "  hi\n", 1, 5).unwrap(), "hi");
        // The maximum counts what was sent, white space included.
        assert!(text("c", "  hi  ", 1, 5).is_err());
        assert!(optional_text("c", Some("      "), 5).is_err());
        assert_eq!(optional_text("c", Some("     "), 5).unwrap(), None);
        assert!(text("c", "héllo", 1, 5).is_ok());
        assert_eq!(
            text("c", "   ", 1, 5).unwrap_err().message,
            "must not be empty"
        );
        assert_eq!(text("c", "abcdef", 1, 5).unwrap_err().field, "c");
        assert!(text("c", "a\u{0007}b", 1, 5).is_err());
    }

    #[test]
    fn invisible_only_text_is_empty() {
        for blank in [
            "\u{200b}\u{200b}\u{200b}",
            "\u{feff}",
            "\u{2060} \u{200c}",
            "\u{3164}",
            "\u{e0041}",
        ] {
            let e = text("content", blank, 1, 10).expect_err(blank);
            assert_eq!(e.message, "must not be empty", "{blank:?}");
        }
        // Invisible characters beside visible ones stay (emoji sequences need them).
        assert_eq!(
            text("content", "👍\u{fe0f}", 1, 10).as_deref(),
            Ok("👍\u{fe0f}")
        );
        assert_eq!(
            text("content", "👩\u{200d}💻", 1, 10).as_deref(),
            Ok("👩\u{200d}💻")
        );
    }

    #[test]
    fn controls_in_trimmed_white_space_are_refused_but_blank_values_stay_blank() {
        for value in ["\u{b}*", "*\u{c}", "\u{85} hi", "hi\r\n"] {
            let e = text("status_message", value, 0, 140).expect_err(value);
            assert_eq!(
                e.message, "must not contain control characters",
                "{value:?}"
            );
        }
        assert_eq!(
            text("status_message", " \u{b}\t ", 0, 140).as_deref(),
            Ok("")
        );
        assert_eq!(text("content", "\thi\n", 1, 140).as_deref(), Ok("hi"));
        assert!(optional_text("status_message", Some("\u{c} *"), 140).is_err());
        assert_eq!(
            optional_text("status_message", Some("\u{c} "), 140),
            Ok(None)
        );
    }

    #[test]
    fn bidirectional_controls_are_refused() {
        for c in [
            '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}',
        ] {
            let value = format!("pay {c}gnp.exe");
            let e = text("content", &value, 1, 100).expect_err(&value);
            assert_eq!(
                e.message,
                "must not contain bidirectional control characters"
            );
        }
        // Right-to-left text itself is fine.
        assert!(text("content", "שלום עולם", 1, 100).is_ok());
    }

    #[test]
    fn errors_collect_per_field() {
        let mut errs = ValidationErrors::new();
        assert_eq!(errs.check(text("a", "x", 1, 3)), Some("x".to_owned()));
        assert_eq!(errs.check(text("b", "", 1, 3)), None);
        errs.add("c", "bad");
        let err = errs.finish().unwrap_err();
        assert_eq!(err.fields().len(), 2);
        assert_eq!(err.fields()[0].field, "b");
        assert!(err.to_string().contains("c: bad"));
    }
}
