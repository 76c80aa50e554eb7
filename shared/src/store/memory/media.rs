//! In-memory `MediaStore`: media items behind one lock, so that settling is as conditional as
//! the DynamoDB adapter's `PutItem … IF processing_status = pending`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use crate::ids::FileId;
use crate::model::{MediaItem, ProcessingStatus};
use crate::store::{MediaStore, StoreError, StoreResult};

/// In-memory `MediaStore`.
#[derive(Debug, Default)]
pub struct MemoryMediaStore {
    items: Mutex<HashMap<FileId, MediaItem>>,
}

impl MemoryMediaStore {
    fn lock(&self) -> MutexGuard<'_, HashMap<FileId, MediaItem>> {
        // Every change is one insert: a poisoned lock still holds whole items.
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl MediaStore for MemoryMediaStore {
    async fn create_media(&self, item: &MediaItem) -> StoreResult<()> {
        let mut items = self.lock();
        if items.contains_key(&item.file_id) {
            return Err(StoreError::Conflict("media_exists"));
        }
        items.insert(item.file_id, item.clone());
        Ok(())
    }

    async fn get_media(&self, id: FileId) -> StoreResult<Option<MediaItem>> {
        Ok(self.lock().get(&id).cloned())
    }

    async fn settle_media(&self, item: &MediaItem) -> StoreResult<()> {
        let mut items = self.lock();
        match items.get(&item.file_id) {
            None => Err(StoreError::NotFound),
            Some(stored) if stored.processing_status != ProcessingStatus::Pending => {
                Err(StoreError::Conflict("media_settled"))
            }
            Some(_) => {
                items.insert(item.file_id, item.clone());
                Ok(())
            }
        }
    }
}
