//! REST routes, one module per function. Each module lists the route keys it serves
//! (`ROUTES`, exactly as in `template.yaml`) and dispatches them in `route`.

pub mod auth;
pub mod comments;
pub mod conversations;
pub mod events;
pub mod health;
pub mod messages;
pub mod users;

/// Every REST function's name with its routes (from [`crate::functions::RestFunction`]), for
/// the template and local-gateway checks.
pub fn all_routes() -> Vec<(&'static str, &'static [&'static str])> {
    crate::functions::RestFunction::ALL
        .iter()
        .map(|f| (f.name(), f.routes()))
        .collect()
}
