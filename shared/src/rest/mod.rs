//! REST routes, one module per function. Each module lists the route keys it serves
//! (`ROUTES`, exactly as in `template.yaml`) and dispatches them in `route`.

pub mod auth;
pub mod comments;
pub mod conversations;
pub mod events;
pub mod health;
pub mod messages;
pub mod patch;
pub mod uploads;
pub mod users;
