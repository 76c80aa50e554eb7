//! Email addresses as sign-in names: one address belongs to at most one account, whatever
//! its letter case. The address is stored as the user typed it; uniqueness and sign-in use
//! the folded form.

/// The case-folded form of an email address that its claim and sign-in lookups use.
/// Addresses that differ only in case are the same address here (most mail providers agree).
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_and_surrounding_space() {
        assert_eq!(normalize_email(" Ada@Example.COM "), "ada@example.com");
        assert_eq!(normalize_email("ÉVA@example.com"), "éva@example.com");
    }
}
