//! REST routes, one module per function. Each module lists the route keys it serves
//! (`ROUTES`, exactly as in `template.yaml`) and dispatches them in `route`.

pub mod auth;
pub mod comments;
pub mod conversations;
pub mod events;
pub mod health;
pub mod messages;
pub mod users;

/// Every module's routes with its function name, for the template and local-gateway checks.
pub fn all_routes() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        ("auth", auth::ROUTES),
        ("users", users::ROUTES),
        ("events", events::ROUTES),
        ("comments", comments::ROUTES),
        ("conversations", conversations::ROUTES),
        ("messages", messages::ROUTES),
        ("health", health::ROUTES),
    ]
}
