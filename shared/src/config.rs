//! Runtime configuration of the handlers: rate limits, moderators, sizes. Read from the
//! environment once per Lambda instance; every value has a safe default.

use std::collections::HashSet;

use chrono::Duration;

use crate::ids::UserId;

/// At most `limit` actions per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateRule {
    /// Actions allowed in one window.
    pub limit: u64,
    /// Window length.
    pub window: Duration,
}

impl RateRule {
    /// `limit` per `seconds`.
    pub const fn per(limit: u64, seconds: i64) -> Self {
        Self {
            limit,
            window: Duration::seconds(seconds),
        }
    }

    /// Parses `"10/10"` (10 per 10 seconds).
    pub fn parse(s: &str) -> Option<Self> {
        let (limit, secs) = s.trim().split_once('/')?;
        let limit: u64 = limit.trim().parse().ok()?;
        let secs: i64 = secs.trim().parse().ok()?;
        (limit > 0 && secs > 0).then(|| Self::per(limit, secs))
    }
}

/// Which actions are rate-limited, per user unless stated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKind {
    /// Comments (WebSocket and REST together).
    Comment,
    /// Chat messages.
    Message,
    /// Typing indicators.
    Typing,
    /// Presence updates and receipts.
    Presence,
    /// Likes of comments and reactions to messages: each toggle is a room-wide broadcast.
    Reaction,
    /// `subscribe` and `unsubscribe` frames, per user: each subscribe may read and post a
    /// catch-up.
    Subscribe,
    /// `ping` and frames that cannot be read, per connection: each is answered with a post.
    Control,
    /// Any REST request of a signed-in user.
    Rest,
    /// Auth routes, per client IP.
    AuthIp,
    /// Any other request without a valid token, per client IP.
    AnonymousIp,
    /// Failed sign-ins per account (its lowercase username), whatever the IP: past the
    /// limit the account's sign-ins wait for the window's end.
    LoginFailure,
    /// Failed sign-ins per account over a longer window: the backoff once short lockouts
    /// repeat.
    LoginFailureBackoff,
}

impl RateKind {
    /// Key prefix in the rate-limit store.
    pub fn key(self) -> &'static str {
        match self {
            Self::Comment => "comment",
            Self::Message => "message",
            Self::Typing => "typing",
            Self::Presence => "presence",
            Self::Reaction => "reaction",
            Self::Subscribe => "subscribe",
            Self::Control => "control",
            Self::Rest => "rest",
            Self::AuthIp => "auth-ip",
            Self::AnonymousIp => "anon-ip",
            Self::LoginFailure => "login-fail",
            Self::LoginFailureBackoff => "login-fail-long",
        }
    }
}

/// Handler configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Comments per user.
    pub comment_rate: RateRule,
    /// Messages per user.
    pub message_rate: RateRule,
    /// Typing indicators per user.
    pub typing_rate: RateRule,
    /// Presence updates and receipts per user.
    pub presence_rate: RateRule,
    /// Like and reaction toggles per user.
    pub reaction_rate: RateRule,
    /// `subscribe`/`unsubscribe` frames per user.
    pub subscribe_rate: RateRule,
    /// `ping` and unreadable frames per connection.
    pub control_rate: RateRule,
    /// REST requests per user.
    pub rest_rate: RateRule,
    /// Auth requests per IP.
    pub auth_ip_rate: RateRule,
    /// Other anonymous requests per IP.
    pub anonymous_ip_rate: RateRule,
    /// Failed sign-ins per account before it is locked until the window ends.
    pub login_failure_rate: RateRule,
    /// Failed sign-ins per account over the longer backoff window.
    pub login_failure_backoff_rate: RateRule,
    /// Users who moderate every event.
    pub moderators: HashSet<UserId>,
    /// Users who may do anything a moderator or event creator may.
    pub admins: HashSet<UserId>,
    /// Most items a catch-up (`subscribe` with `since`) sends before `has_more`.
    pub catch_up_limit: usize,
    /// How long a catch-up may spend posting before it stops with `has_more` (well inside the
    /// `$default` function's 10 s timeout).
    pub catch_up_budget: std::time::Duration,
    /// Most rooms one connection may be subscribed to.
    pub max_subscriptions: usize,
    /// Most open connections of one user.
    pub max_connections_per_user: usize,
    /// Most open anonymous (read-only) connections from one IP
    /// (`BANTER_MAX_ANONYMOUS_CONNECTIONS_PER_IP`, default 100: a venue's or a carrier's NAT
    /// puts many viewers behind one address).
    pub max_anonymous_connections_per_ip: usize,
    /// Secret that signs REST pagination cursors.
    pub cursor_secret: Vec<u8>,
    /// Origins allowed by CORS (`*` for any).
    pub cors_origins: Vec<String>,
}

/// The shortest cursor secret accepted: 32 bytes, HMAC-SHA256's block-size-independent
/// security level.
pub const MIN_CURSOR_SECRET_BYTES: usize = 32;

/// Settings that must stop a function from starting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `BANTER_CURSOR_SECRET` is set but too short to sign cursors safely.
    #[error(
        "BANTER_CURSOR_SECRET holds {bytes} bytes; it must hold at least 32 (unset, the \
         development default applies)"
    )]
    CursorSecretTooShort {
        /// Its length.
        bytes: usize,
    },
}

impl Default for Config {
    fn default() -> Self {
        Self {
            comment_rate: RateRule::per(10, 10),
            message_rate: RateRule::per(20, 10),
            typing_rate: RateRule::per(20, 10),
            presence_rate: RateRule::per(30, 10),
            reaction_rate: RateRule::per(10, 10),
            subscribe_rate: RateRule::per(60, 60),
            control_rate: RateRule::per(30, 60),
            rest_rate: RateRule::per(300, 60),
            auth_ip_rate: RateRule::per(30, 60),
            anonymous_ip_rate: RateRule::per(120, 60),
            login_failure_rate: RateRule::per(5, 15 * 60),
            login_failure_backoff_rate: RateRule::per(20, 24 * 60 * 60),
            moderators: HashSet::new(),
            admins: HashSet::new(),
            catch_up_limit: 200,
            catch_up_budget: std::time::Duration::from_secs(5),
            max_subscriptions: 50,
            max_connections_per_user: 10,
            max_anonymous_connections_per_ip: 100,
            cursor_secret: b"banter-development-cursor-secret!".to_vec(),
            cors_origins: vec!["*".into()],
        }
    }
}

impl Config {
    /// The rule for `kind`.
    pub fn rule(&self, kind: RateKind) -> RateRule {
        match kind {
            RateKind::Comment => self.comment_rate,
            RateKind::Message => self.message_rate,
            RateKind::Typing => self.typing_rate,
            RateKind::Presence => self.presence_rate,
            RateKind::Reaction => self.reaction_rate,
            RateKind::Subscribe => self.subscribe_rate,
            RateKind::Control => self.control_rate,
            RateKind::Rest => self.rest_rate,
            RateKind::AuthIp => self.auth_ip_rate,
            RateKind::AnonymousIp => self.anonymous_ip_rate,
            RateKind::LoginFailure => self.login_failure_rate,
            RateKind::LoginFailureBackoff => self.login_failure_backoff_rate,
        }
    }

    /// Reads `BANTER_*` variables over the defaults: `BANTER_COMMENT_RATE=10/10`,
    /// `BANTER_MESSAGE_RATE`, `BANTER_TYPING_RATE`, `BANTER_PRESENCE_RATE`, `BANTER_REACTION_RATE`,
    /// `BANTER_SUBSCRIBE_RATE`, `BANTER_CONTROL_RATE`, `BANTER_REST_RATE`,
    /// `BANTER_AUTH_IP_RATE`, `BANTER_ANONYMOUS_IP_RATE`, `BANTER_LOGIN_FAILURE_RATE=5/900`,
    /// `BANTER_LOGIN_FAILURE_BACKOFF_RATE=20/86400`, `BANTER_MODERATORS` and `BANTER_ADMINS` (comma-separated user
    /// ids), `BANTER_CATCH_UP_LIMIT`, `BANTER_CATCH_UP_BUDGET_MS`, `BANTER_MAX_SUBSCRIPTIONS`,
    /// `BANTER_MAX_CONNECTIONS_PER_USER`, `BANTER_CURSOR_SECRET`, `BANTER_CORS_ORIGINS`.
    ///
    /// Fails when `BANTER_CURSOR_SECRET` is set but shorter than [`MIN_CURSOR_SECRET_BYTES`]:
    /// a function must refuse to start rather than sign cursors with the public development
    /// default.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Like [`Config::from_env`] over any lookup (tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let rule = |name: &str, default: RateRule| {
            get(name)
                .and_then(|v| RateRule::parse(&v))
                .unwrap_or(default)
        };
        c.comment_rate = rule("BANTER_COMMENT_RATE", c.comment_rate);
        c.message_rate = rule("BANTER_MESSAGE_RATE", c.message_rate);
        c.typing_rate = rule("BANTER_TYPING_RATE", c.typing_rate);
        c.presence_rate = rule("BANTER_PRESENCE_RATE", c.presence_rate);
        c.reaction_rate = rule("BANTER_REACTION_RATE", c.reaction_rate);
        c.subscribe_rate = rule("BANTER_SUBSCRIBE_RATE", c.subscribe_rate);
        c.control_rate = rule("BANTER_CONTROL_RATE", c.control_rate);
        c.rest_rate = rule("BANTER_REST_RATE", c.rest_rate);
        c.auth_ip_rate = rule("BANTER_AUTH_IP_RATE", c.auth_ip_rate);
        c.anonymous_ip_rate = rule("BANTER_ANONYMOUS_IP_RATE", c.anonymous_ip_rate);
        c.login_failure_rate = rule("BANTER_LOGIN_FAILURE_RATE", c.login_failure_rate);
        c.login_failure_backoff_rate = rule(
            "BANTER_LOGIN_FAILURE_BACKOFF_RATE",
            c.login_failure_backoff_rate,
        );
        let ids = |name: &str| -> HashSet<UserId> {
            get(name)
                .unwrap_or_default()
                .split(',')
                .filter_map(|s| s.trim().parse().ok())
                .collect()
        };
        c.moderators = ids("BANTER_MODERATORS");
        c.admins = ids("BANTER_ADMINS");
        let number = |name: &str| get(name).and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(n) = number("BANTER_CATCH_UP_LIMIT") {
            c.catch_up_limit = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(ms) = number("BANTER_CATCH_UP_BUDGET_MS") {
            c.catch_up_budget = std::time::Duration::from_millis(ms);
        }
        if let Some(n) = number("BANTER_MAX_SUBSCRIPTIONS").filter(|n| *n > 0) {
            c.max_subscriptions = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = number("BANTER_MAX_CONNECTIONS_PER_USER").filter(|n| *n > 0) {
            c.max_connections_per_user = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = number("BANTER_MAX_ANONYMOUS_CONNECTIONS_PER_IP").filter(|n| *n > 0) {
            c.max_anonymous_connections_per_ip = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(s) = get("BANTER_CURSOR_SECRET").filter(|s| !s.is_empty()) {
            if s.len() < MIN_CURSOR_SECRET_BYTES {
                return Err(ConfigError::CursorSecretTooShort { bytes: s.len() });
            }
            c.cursor_secret = s.into_bytes();
        }
        if let Some(o) = get("BANTER_CORS_ORIGINS") {
            c.cors_origins = o
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse() {
        assert_eq!(RateRule::parse("10/10"), Some(RateRule::per(10, 10)));
        assert_eq!(RateRule::parse("0/10"), None);
        assert_eq!(RateRule::parse("x"), None);
    }

    #[test]
    fn lookup_overrides_defaults() {
        let m = UserId::new();
        let c = Config::from_lookup(|k| match k {
            "BANTER_COMMENT_RATE" => Some("3/5".into()),
            "BANTER_MODERATORS" => Some(format!("{m}, junk")),
            _ => None,
        })
        .expect("valid settings");
        assert_eq!(c.comment_rate, RateRule::per(3, 5));
        assert!(c.moderators.contains(&m));
        assert_eq!(c.message_rate, Config::default().message_rate);
    }

    #[test]
    fn a_short_cursor_secret_refuses_to_start() {
        let with = |secret: &'static str| {
            Config::from_lookup(move |k| (k == "BANTER_CURSOR_SECRET").then(|| secret.to_owned()))
        };
        assert_eq!(
            with("too-short").unwrap_err(),
            ConfigError::CursorSecretTooShort { bytes: 9 }
        );
        let long = "0123456789abcdef0123456789abcdef";
        assert_eq!(with(long).expect("32 bytes").cursor_secret, long.as_bytes());
        assert_eq!(
            with("").expect("blank is unset").cursor_secret,
            Config::default().cursor_secret
        );
    }
}
