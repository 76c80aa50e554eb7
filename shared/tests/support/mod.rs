//! Helpers shared by the integration tests of the core library: the moto server's settings,
//! and the REST harness ([`rest`]).
#![allow(dead_code)]

pub mod rest;

use banter::aws::AwsSettings;

/// The moto server the test command started. Tests that need it fail loudly without it:
/// they never pass by skipping.
pub fn moto_endpoint() -> String {
    std::env::var("BANTER_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "BANTER_TEST_AWS_ENDPOINT is not set: these tests need the moto server that \
             `scripts/test` starts. Run the tests with scripts/test."
        )
    })
}

/// SDK settings pointing at the test's moto server.
pub fn moto_settings() -> AwsSettings {
    AwsSettings::local(moto_endpoint())
}

/// Fresh DynamoDB stores over the test's moto server, on tables named with a prefix no other
/// test uses (`tag` names the test in it).
pub async fn moto_stores(tag: &str) -> banter::store::Stores {
    moto_tables(tag).await.0
}

/// [`moto_stores`], with the client and table names (for a test that writes items the way no
/// adapter call would: a writer that crashed midway).
pub async fn moto_tables(
    tag: &str,
) -> (
    banter::store::Stores,
    aws_sdk_dynamodb::Client,
    banter::store::dynamodb::tables::TableNames,
) {
    let sdk = moto_settings().load().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let names = banter::store::dynamodb::tables::TableNames::with_prefix(&unique_prefix(tag));
    banter::store::dynamodb::tables::create_all(&client, &names)
        .await
        .expect("create tables on moto");
    let stores = banter::store::dynamodb::stores(client.clone(), names.clone());
    (stores, client, names)
}

/// A name prefix no other test uses (moto's state is shared by every client).
pub fn unique_prefix(tag: &str) -> String {
    format!("t{}-{tag}", uuid::Uuid::now_v7().simple())
}
