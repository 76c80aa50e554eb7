//! Media items: created once, read by id, settled once from `pending`.

use banter::ids::{FileId, UserId};
use banter::model::{Dimensions, MediaItem, MediaKind, ProcessingStatus};
use banter::store::{StoreError, Stores};
use banter::time::now;

crate::conformance_tests!(
    media_items_are_created_once_and_read_by_id,
    media_items_settle_once_from_pending,
);

fn pending() -> MediaItem {
    let t = now();
    MediaItem {
        file_id: FileId::new(),
        owner_id: UserId::new(),
        kind: MediaKind::Image,
        file_name: "photo één.png".into(),
        file_type: "image/png".into(),
        file_size: 1234,
        processing_status: ProcessingStatus::Pending,
        dimensions: None,
        has_thumbnail: false,
        rejection_reason: None,
        created_at: t,
        updated_at: t,
    }
}

async fn media_items_are_created_once_and_read_by_id(stores: Stores) {
    let item = pending();
    stores.media.create_media(&item).await.unwrap();
    assert_eq!(
        stores.media.get_media(item.file_id).await.unwrap(),
        Some(item.clone())
    );
    assert_eq!(
        stores.media.create_media(&item).await,
        Err(StoreError::Conflict("media_exists"))
    );
    assert_eq!(stores.media.get_media(FileId::new()).await.unwrap(), None);
}

async fn media_items_settle_once_from_pending(stores: Stores) {
    let item = pending();
    stores.media.create_media(&item).await.unwrap();
    let ready = MediaItem {
        processing_status: ProcessingStatus::Ready,
        dimensions: Some(Dimensions {
            width: 640,
            height: 480,
        }),
        has_thumbnail: true,
        file_size: 1200,
        ..item.clone()
    };
    stores.media.settle_media(&ready).await.unwrap();
    assert_eq!(
        stores.media.get_media(item.file_id).await.unwrap(),
        Some(ready.clone())
    );
    // A redelivered event cannot settle it again, nor reject what is ready.
    let rejected = MediaItem {
        processing_status: ProcessingStatus::Rejected,
        rejection_reason: Some("late".into()),
        ..item.clone()
    };
    assert_eq!(
        stores.media.settle_media(&rejected).await,
        Err(StoreError::Conflict("media_settled"))
    );
    assert_eq!(
        stores.media.get_media(item.file_id).await.unwrap(),
        Some(ready)
    );
    assert_eq!(
        stores.media.settle_media(&pending()).await,
        Err(StoreError::NotFound)
    );
}
