//! What `standard` moderation holds for a moderator: comments with an event's blocked words,
//! and comments with links.
//!
//! Words match whole and ignore case and accents: both the list and the comment are folded
//! (Unicode NFKD, combining marks dropped, lowercased) and cut into words at every character
//! that is not a letter or a digit; an entry of several words matches those words in a row.
//! `Ｓｃａｍ`, `SCAM` and `scäm` all match `scam`; `scampi` does not.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::validate::FieldError;

/// The most entries an event's `blocked_words` may hold.
pub const MAX_BLOCKED_WORDS: usize = 200;

/// The most characters one entry may hold.
pub const MAX_BLOCKED_WORD_CHARS: usize = 64;

/// The words of `text`, folded.
fn words(text: &str) -> Vec<String> {
    let folded: String = text
        .nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect();
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Checks an event's `blocked_words` (field `field`): at most [`MAX_BLOCKED_WORDS`] entries of
/// at most [`MAX_BLOCKED_WORD_CHARS`] characters each. Returns them trimmed, without entries
/// that hold no letter or digit (they could match nothing) and without entries that fold to
/// the same words as an earlier one.
pub fn validate_blocked_words(field: &str, raw: &[String]) -> Result<Vec<String>, FieldError> {
    if raw.len() > MAX_BLOCKED_WORDS {
        return Err(FieldError::new(
            field,
            format!("must hold at most {MAX_BLOCKED_WORDS} entries"),
        ));
    }
    let mut seen: Vec<Vec<String>> = Vec::new();
    let mut out = Vec::new();
    for (i, entry) in raw.iter().enumerate() {
        if entry.chars().count() > MAX_BLOCKED_WORD_CHARS {
            return Err(FieldError::new(
                format!("{field}[{i}]"),
                format!("must be at most {MAX_BLOCKED_WORD_CHARS} characters"),
            ));
        }
        let w = words(entry);
        if !w.is_empty() && !seen.contains(&w) {
            seen.push(w);
            out.push(entry.trim().to_owned());
        }
    }
    Ok(out)
}

/// The first of `blocked` that `text` holds as whole words, if any.
pub fn blocked_word<'a>(blocked: &'a [String], text: &str) -> Option<&'a str> {
    if blocked.is_empty() {
        return None;
    }
    let text = words(text);
    blocked.iter().map(String::as_str).find(|entry| {
        let entry = words(entry);
        !entry.is_empty() && text.windows(entry.len()).any(|w| w == entry.as_slice())
    })
}

/// Whether `text` holds a link (a URL, `www.…`, or a bare domain such as `example.com`) or
/// an e-mail address.
pub fn has_link(text: &str) -> bool {
    let mut finder = linkify::LinkFinder::new();
    finder.url_must_have_scheme(false);
    finder.links(text).next().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn whole_words_match_whatever_their_case_and_accents() {
        let blocked = list(&["scam", "free money"]);
        for text in [
            "a SCAM!",
            "Scäm",
            "ｓｃａｍ here",
            "get FREE   money now",
            "(scam)",
        ] {
            assert!(blocked_word(&blocked, text).is_some(), "{text}");
        }
        for text in ["scampi", "free for money", "money free", "sc am", ""] {
            assert_eq!(blocked_word(&blocked, text), None, "{text}");
        }
        assert_eq!(blocked_word(&list(&["Café"]), "what a CAFE"), Some("Café"));
    }

    #[test]
    fn lists_are_bounded_and_trimmed() {
        let ok = validate_blocked_words(
            "w",
            &list(&[" scam ", "SCAM", "", "!!!", "scäm", "free money"]),
        )
        .expect("valid");
        assert_eq!(ok, ["scam", "free money"]);
        assert!(validate_blocked_words("w", &vec!["x".to_owned(); MAX_BLOCKED_WORDS + 1]).is_err());
        let long = "a".repeat(MAX_BLOCKED_WORD_CHARS + 1);
        let e = validate_blocked_words("w", &[long]).unwrap_err();
        assert_eq!(e.field, "w[0]");
    }

    #[test]
    fn links_are_found_with_or_without_a_scheme() {
        for text in [
            "see https://example.com/x",
            "www.example.org",
            "go to example.com now",
            "mail me: a@example.com",
        ] {
            assert!(has_link(text), "{text}");
        }
        for text in ["what a goal", "3.5 goals", "end. Start"] {
            assert!(!has_link(text), "{text}");
        }
    }
}
