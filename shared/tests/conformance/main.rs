//! The conformance suite: one set of tests, generic over the store ports, run against the
//! in-memory adapters (`…::memory::…`) and the DynamoDB adapters over a real moto server
//! (`…::dynamodb::…`). Each case file lists its tests with `conformance_tests!`.

#[path = "../support/mod.rs"]
mod support;

use banter::store::Stores;
use banter::store::dynamodb::tables::{TableNames, create_all};

/// Fresh in-memory stores.
pub async fn memory_stores() -> Stores {
    banter::store::memory::stores()
}

/// Fresh DynamoDB stores over moto, on tables no other test uses.
pub async fn dynamodb_stores() -> Stores {
    let sdk = support::moto_settings().load().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let names = TableNames::with_prefix(&support::unique_prefix("conf"));
    create_all(&client, &names)
        .await
        .expect("create tables on moto");
    banter::store::dynamodb::stores(client, names)
}

/// Expands each listed `async fn name(stores: Stores)` of the calling module into one test per
/// adapter: `memory::name` and `dynamodb::name`.
#[macro_export]
macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::memory_stores().await).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::dynamodb_stores().await).await
                }
            )*
        }
    };
}

mod comments;
mod connections;
mod conversations;
mod events;
mod likes;
mod messages;
mod rate_limits;
mod sessions;
mod users;
