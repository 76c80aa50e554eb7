//! `MediaStore` over DynamoDB (table `messages`; layout in `docs/data-model.md`): one item
//! `MEDIA#<file_id>` / `MEDIA` per upload, holding the `MediaItem`. Every access is by key.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::item::{Item, key, s, to_item};
use super::ops::{get_entity, put_new, sdk_error};
use crate::ids::FileId;
use crate::model::MediaItem;
use crate::store::{MediaStore, StoreError, StoreResult};

/// `MediaStore` over the `messages` table.
#[derive(Clone)]
pub struct DynamoMediaStore {
    client: Client,
    table: String,
}

impl DynamoMediaStore {
    /// The store over `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }
}

/// The partition key of file `id`'s item: the media function's role may write only keys
/// with this prefix (`dynamodb:LeadingKeys`).
pub fn media_pk(id: FileId) -> String {
    format!("MEDIA#{id}")
}

fn media_key(id: FileId) -> Item {
    key(media_pk(id), "MEDIA")
}

fn media_item(item: &MediaItem) -> StoreResult<Item> {
    to_item(
        item,
        &[("pk", media_pk(item.file_id)), ("sk", "MEDIA".to_owned())],
    )
}

#[async_trait]
impl MediaStore for DynamoMediaStore {
    async fn create_media(&self, item: &MediaItem) -> StoreResult<()> {
        put_new(&self.client, &self.table, media_item(item)?, "media_exists").await
    }

    async fn get_media(&self, id: FileId) -> StoreResult<Option<MediaItem>> {
        get_entity(&self.client, &self.table, media_key(id)).await
    }

    async fn settle_media(&self, item: &MediaItem) -> StoreResult<()> {
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(media_item(item)?))
            .condition_expression("processing_status = :pending")
            .expression_attribute_values(":pending", s("pending"))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                // Either no item (the condition reads a missing attribute) or a settled one.
                match self.get_media(item.file_id).await? {
                    None => Err(StoreError::NotFound),
                    Some(_) => Err(StoreError::Conflict("media_settled")),
                }
            }
            Err(e) => Err(sdk_error(e, "settle_media")),
        }
    }
}
