//! The answer to a request that no declared route matches, which the HTTP API sends to its
//! `$default` route: a path that some route declares answers 405 with `Allow` (the methods
//! routed there), any other path 404, both in the REST error envelope, so clients see one
//! error shape and learn which methods exist instead of a bare "Not Found".

use crate::error::AppError;

/// The HTTP API's catch-all route key.
pub const ROUTE_KEY: &str = "$default";

/// The error for `method` on the raw (percent-encoded) `path`, given every declared route key
/// (`GET /v1/users/{user_id}`, …): 405 with the methods of the routes whose path matches,
/// else 404.
pub fn answer(method: &str, path: &str, routes: &[&'static str]) -> AppError {
    let mut allow: Vec<&'static str> = routes
        .iter()
        .filter_map(|key| key.split_once(' '))
        .filter(|(_, pattern)| matches(pattern, path))
        .map(|(m, _)| m)
        .collect();
    allow.sort_unstable();
    allow.dedup();
    if allow.is_empty() {
        AppError::not_found("route")
    } else {
        AppError::method_not_allowed(method, allow)
    }
}

/// Whether `path` matches the route path `pattern`, as API Gateway matches it: each
/// `{param}` is one non-empty segment, every other segment is literal.
fn matches(pattern: &str, path: &str) -> bool {
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') => {
                if g.is_empty() {
                    return false;
                }
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &[&str] = &[
        "GET /v1/users/me",
        "PATCH /v1/users/me",
        "GET /v1/users/{user_id}",
    ];

    #[test]
    fn parameters_match_one_non_empty_segment() {
        assert!(matches("/v1/users/{user_id}", "/v1/users/abc"));
        assert!(!matches("/v1/users/{user_id}", "/v1/users/"));
        assert!(!matches("/v1/users/{user_id}", "/v1/users/a/b"));
        assert!(!matches("/v1/users/me", "/v1/users/me/"));
    }

    #[test]
    fn allow_lists_every_method_routed_at_the_path() {
        let e = answer("DELETE", "/v1/users/me", ROUTES);
        assert_eq!(e.code.http_status(), 405);
        assert_eq!(e.allow, ["GET", "PATCH"]);
        assert_eq!(answer("PUT", "/v1/users/x", ROUTES).allow, ["GET"]);
        let e = answer("GET", "/v2", ROUTES);
        assert_eq!(e.code.http_status(), 404);
        assert!(e.allow.is_empty());
    }
}
