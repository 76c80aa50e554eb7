//! The media function's work on one uploaded object: find its media item, read the object
//! (never more than one byte past the kind's limit), check it ([`super::inspect`]), store an
//! image's thumbnail, move the file to `files/` and settle the item `ready` — or delete the
//! object and settle it `rejected`. Runs once per object-created event; a redelivered event finds the item
//! settled and changes nothing.

use std::sync::Arc;

use crate::ids::ObjectKey;
use crate::model::media::{file_key, file_of_upload, thumbnail_key};
use crate::model::{MediaItem, ProcessingStatus};
use crate::objects::{ObjectError, ObjectStore};
use crate::store::{MediaStore, StoreError};
use crate::time::now;

use super::inspect::{Rejection, inspect};

/// What processing one object came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The item is `ready`.
    Ready(MediaItem),
    /// The item is `rejected` and the object deleted.
    Rejected(MediaItem),
    /// Nothing to do: not an upload key, no such item or object, or settled already.
    Skipped(&'static str),
}

/// Why processing failed (and the event should be retried).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    /// The media table.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bucket.
    #[error(transparent)]
    Objects(#[from] ObjectError),
}

/// What the media function works with: the media items and the bucket.
#[derive(Clone)]
pub struct MediaProcessor {
    /// Media items.
    pub media: Arc<dyn MediaStore>,
    /// The bucket.
    pub objects: Arc<dyn ObjectStore>,
}

impl MediaProcessor {
    /// Checks and settles the upload at `key` (see the [module documentation](self)).
    pub async fn process(&self, key: &str) -> Result<Outcome, ProcessError> {
        let Some(file_id) = file_of_upload(key) else {
            return Ok(Outcome::Skipped("not an upload key"));
        };
        let Ok(object_key) = key.parse::<ObjectKey>() else {
            return Ok(Outcome::Skipped("not an upload key"));
        };
        let Some(item) = self.media.get_media(file_id).await? else {
            // Only a declared upload has a policy to write with: an object without an item
            // is not Banter's to keep.
            self.objects.delete(&object_key).await?;
            tracing::warn!(key, "object without a media item deleted");
            return Ok(Outcome::Skipped("no media item"));
        };
        if item.processing_status != ProcessingStatus::Pending {
            return Ok(Outcome::Skipped("settled already"));
        }
        let max = item.kind.max_bytes();
        let Some(fetched) = self.objects.get(&object_key, max + 1).await? else {
            return Ok(Outcome::Skipped("no object"));
        };
        let checked = inspect(item.kind, &item.file_type, &fetched.body, fetched.size);
        let t = now();
        let (settled, outcome): (MediaItem, fn(MediaItem) -> Outcome) = match checked {
            Ok(found) => {
                // The checked bytes are the whole file (within the limit): moved to `files/`,
                // out of reach of the upload prefix's lifecycle rule and of re-uploads.
                self.objects
                    .put(&file_key(file_id), fetched.body, &found.file_type)
                    .await?;
                self.objects.delete(&object_key).await?;
                let has_thumbnail = match found.thumbnail {
                    Some(png) => {
                        self.objects
                            .put(&thumbnail_key(file_id), png, "image/png")
                            .await?;
                        true
                    }
                    None => false,
                };
                (
                    MediaItem {
                        processing_status: ProcessingStatus::Ready,
                        file_type: found.file_type,
                        file_size: fetched.size,
                        dimensions: found.dimensions,
                        has_thumbnail,
                        updated_at: t,
                        ..item
                    },
                    Outcome::Ready,
                )
            }
            Err(rejection) => {
                self.objects.delete(&object_key).await?;
                (
                    rejected(item, &rejection, fetched.size, t),
                    Outcome::Rejected,
                )
            }
        };
        match self.media.settle_media(&settled).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Ok(Outcome::Skipped("settled already")),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(
            file_id = %file_id,
            status = ?settled.processing_status,
            file_size = settled.file_size,
            file_type = %settled.file_type,
            reason = settled.rejection_reason.as_deref(),
            "upload processed"
        );
        Ok(outcome(settled))
    }
}

fn rejected(item: MediaItem, why: &Rejection, size: u64, t: crate::time::Timestamp) -> MediaItem {
    MediaItem {
        processing_status: ProcessingStatus::Rejected,
        file_size: size,
        rejection_reason: Some(why.to_string()),
        updated_at: t,
        ..item
    }
}
