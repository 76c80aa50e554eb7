//! The stores of the gateway: in memory, or DynamoDB tables (created when asked).

use aws_config::SdkConfig;
use banter::store::Stores;
use banter::store::dynamodb::tables::{self, TableNames};

use crate::config::Storage;
use crate::start_error::{StartError, setup};

/// The stores `storage` asks for; DynamoDB needs `sdk`.
pub(crate) async fn build_stores(
    storage: &Storage,
    sdk: Option<&SdkConfig>,
) -> Result<Stores, StartError> {
    match storage {
        Storage::Memory => Ok(banter::store::memory::stores()),
        Storage::DynamoDb {
            table_prefix,
            create_tables,
        } => {
            let sdk = sdk.ok_or_else(|| StartError::Setup("no AWS configuration".into()))?;
            let client = aws_sdk_dynamodb::Client::new(sdk);
            let names = TableNames::with_prefix(table_prefix);
            if *create_tables {
                ensure_tables(&client, &names).await?;
            }
            Ok(banter::store::dynamodb::stores(client, names))
        }
    }
}

/// Creates every table of `names` that does not exist yet.
async fn ensure_tables(
    client: &aws_sdk_dynamodb::Client,
    names: &TableNames,
) -> Result<(), StartError> {
    for def in tables::ALL {
        let name = names.of(def);
        match client.describe_table().table_name(name).send().await {
            Ok(_) => continue,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                tables::create_table(client, def, name)
                    .await
                    .map_err(|e| setup("creating tables")(e.to_string()))?;
                tracing::info!(table = name, "table created");
            }
            Err(e) => {
                return Err(setup("describing tables")(
                    aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string(),
                ));
            }
        }
    }
    Ok(())
}
