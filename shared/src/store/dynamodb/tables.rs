//! The DynamoDB tables Banter uses, defined once: tests create tables from these definitions
//! and a test checks `template.yaml` declares exactly the same keys, indexes and TTL.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use crate::store::{StoreError, StoreResult};

/// Name of the numeric TTL attribute (epoch seconds) on tables with expiring rows.
pub const TTL_ATTRIBUTE: &str = "ttl_epoch";

/// One table's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDef {
    /// Short name, also the suffix of the deployed table name (`banter-dev-comments`).
    pub name: &'static str,
    /// The table's logical resource id in `template.yaml`.
    pub logical_id: &'static str,
    /// Environment variable that holds the deployed table name.
    pub env_var: &'static str,
    /// Global secondary indexes, by name (`gsi1` has keys `gsi1pk`/`gsi1sk`).
    pub gsis: &'static [&'static str],
    /// Whether TTL is enabled on [`TTL_ATTRIBUTE`].
    pub ttl: bool,
}

/// Users, username and email claims, search entries, refresh-token families (sessions).
pub const USERS: TableDef = TableDef {
    name: "users",
    logical_id: "UsersTable",
    env_var: "USERS_TABLE",
    gsis: &["gsi1"],
    ttl: true,
};
/// Live events.
pub const EVENTS: TableDef = TableDef {
    name: "events",
    logical_id: "EventsTable",
    env_var: "EVENTS_TABLE",
    gsis: &["gsi1"],
    ttl: false,
};
/// Comments, their pointers, likes and idempotency claims.
pub const COMMENTS: TableDef = TableDef {
    name: "comments",
    logical_id: "CommentsTable",
    env_var: "COMMENTS_TABLE",
    gsis: &["gsi1", "gsi2"],
    ttl: true,
};
/// Conversations, participants and direct-pair claims.
pub const CONVERSATIONS: TableDef = TableDef {
    name: "conversations",
    logical_id: "ConversationsTable",
    env_var: "CONVERSATIONS_TABLE",
    gsis: &["gsi1"],
    ttl: false,
};
/// Messages, their pointers and idempotency claims.
pub const MESSAGES: TableDef = TableDef {
    name: "messages",
    logical_id: "MessagesTable",
    env_var: "MESSAGES_TABLE",
    gsis: &[],
    ttl: true,
};
/// Connections and subscriptions.
pub const CONNECTIONS: TableDef = TableDef {
    name: "connections",
    logical_id: "ConnectionsTable",
    env_var: "CONNECTIONS_TABLE",
    gsis: &["gsi1"],
    ttl: true,
};
/// Rate-limit window counters.
pub const RATE_LIMITS: TableDef = TableDef {
    name: "rate_limits",
    logical_id: "RateLimitsTable",
    env_var: "RATE_LIMITS_TABLE",
    gsis: &[],
    ttl: true,
};

/// Every table.
pub const ALL: [TableDef; 7] = [
    USERS,
    EVENTS,
    COMMENTS,
    CONVERSATIONS,
    MESSAGES,
    CONNECTIONS,
    RATE_LIMITS,
];

/// The deployed name of each table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    /// `users` table.
    pub users: String,
    /// `events` table.
    pub events: String,
    /// `comments` table.
    pub comments: String,
    /// `conversations` table.
    pub conversations: String,
    /// `messages` table.
    pub messages: String,
    /// `connections` table.
    pub connections: String,
    /// `rate_limits` table.
    pub rate_limits: String,
}

impl TableNames {
    /// Names `<prefix>-<name>` (tests give every run its own prefix).
    pub fn with_prefix(prefix: &str) -> Self {
        Self::named(|d| format!("{prefix}-{}", d.name))
    }

    /// Names from each table's environment variable (`USERS_TABLE`, …), falling back to
    /// `<BANTER_TABLE_PREFIX or "banter">-<name>`.
    pub fn from_env() -> Self {
        let prefix = std::env::var("BANTER_TABLE_PREFIX").unwrap_or_else(|_| "banter".into());
        Self::named(|d| std::env::var(d.env_var).unwrap_or_else(|_| format!("{prefix}-{}", d.name)))
    }

    /// Each table named by `n`.
    fn named(n: impl Fn(TableDef) -> String) -> Self {
        Self {
            users: n(USERS),
            events: n(EVENTS),
            comments: n(COMMENTS),
            conversations: n(CONVERSATIONS),
            messages: n(MESSAGES),
            connections: n(CONNECTIONS),
            rate_limits: n(RATE_LIMITS),
        }
    }

    /// The name of the table `def` describes.
    pub fn of(&self, def: TableDef) -> &str {
        match def.name {
            "users" => &self.users,
            "events" => &self.events,
            "comments" => &self.comments,
            "conversations" => &self.conversations,
            "messages" => &self.messages,
            "connections" => &self.connections,
            _ => &self.rate_limits,
        }
    }
}

fn key(name: &str, kind: KeyType) -> StoreResult<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|e| StoreError::Backend(e.to_string()))
}

fn string_attr(name: &str) -> StoreResult<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| StoreError::Backend(e.to_string()))
}

/// Creates the table `def` as `name` (on demand, with its GSIs and TTL), for tests and for the
/// local stack's DynamoDB mode. Deployed stacks get their tables from `template.yaml`.
pub async fn create_table(client: &Client, def: TableDef, name: &str) -> StoreResult<()> {
    let be = |e: String| StoreError::Backend(e);
    let mut req = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .attribute_definitions(string_attr("pk")?)
        .attribute_definitions(string_attr("sk")?);
    for gsi in def.gsis {
        let (pk, sk) = (format!("{gsi}pk"), format!("{gsi}sk"));
        req = req
            .attribute_definitions(string_attr(&pk)?)
            .attribute_definitions(string_attr(&sk)?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(*gsi)
                    .key_schema(key(&pk, KeyType::Hash)?)
                    .key_schema(key(&sk, KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(|e| be(e.to_string()))?,
            );
    }
    req.send().await.map_err(|e| {
        be(format!(
            "create table {name}: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(e)
        ))
    })?;
    if def.ttl {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(TTL_ATTRIBUTE)
                    .build()
                    .map_err(|e| be(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| {
                be(format!(
                    "ttl {name}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                ))
            })?;
    }
    Ok(())
}

/// Creates every table under `names`.
pub async fn create_all(client: &Client, names: &TableNames) -> StoreResult<()> {
    for def in ALL {
        create_table(client, def, names.of(def)).await?;
    }
    Ok(())
}
