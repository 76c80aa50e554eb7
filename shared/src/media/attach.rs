//! Files on messages: which uploads a message may carry ([`resolve`]) and the links of a
//! message's view ([`sign_links`]), signed each time a message is shown.

use crate::error::AppError;
use crate::ids::{FileId, ObjectKey, UserId};
use crate::model::media::{file_key, thumbnail_key};
use crate::model::{MAX_ATTACHMENTS, MediaAttachment, MessageType, ProcessingStatus};
use crate::objects::ObjectStore;
use crate::store::MediaStore;
use crate::views::MessageView;

use super::{LINK_TTL, MAX_URL_BYTES};

/// A file named in a sent message's `media_attachments`: its `file_id` only (what the media
/// function found is taken from the media item, never from the client).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentRef {
    /// The upload.
    pub file_id: FileId,
}

impl AttachmentRef {
    /// The ids of `refs` (none when absent).
    pub fn ids(refs: Option<Vec<AttachmentRef>>) -> Vec<FileId> {
        refs.unwrap_or_default()
            .into_iter()
            .map(|a| a.file_id)
            .collect()
    }
}

/// The field the errors name.
const FIELD: &str = "media_attachments";

/// The files a message of `message_type` from `user` carries, in the order named: a text
/// message names none; an image or file message 1..=[`MAX_ATTACHMENTS`] distinct uploads of
/// its kind, each uploaded by `user` and `ready`. The shape (how many, which message type) is
/// a 400 naming the field; a file that is not the sender's (or does not exist) a 404, as for
/// any id the caller may not see; one of the other kind, rejected or still being checked a 409
/// (the file's state conflicts with the message; a pending one may be sent once ready).
pub async fn resolve(
    media: &dyn MediaStore,
    user: UserId,
    message_type: MessageType,
    file_ids: &[FileId],
) -> Result<Vec<MediaAttachment>, AppError> {
    let Some(kind) = message_type.media_kind() else {
        if file_ids.is_empty() {
            return Ok(Vec::new());
        }
        return Err(AppError::field(
            FIELD,
            "only image and file messages carry files",
        ));
    };
    if file_ids.is_empty() || file_ids.len() > MAX_ATTACHMENTS {
        return Err(AppError::field(
            FIELD,
            format!("must name 1 to {MAX_ATTACHMENTS} files"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if !file_ids.iter().all(|id| seen.insert(*id)) {
        return Err(AppError::field(FIELD, "names a file twice"));
    }
    let items =
        futures::future::try_join_all(file_ids.iter().map(|id| media.get_media(*id))).await?;
    let mut out = Vec::with_capacity(items.len());
    for (id, item) in file_ids.iter().zip(items) {
        // Someone else's file is answered as one that does not exist.
        let Some(item) = item.filter(|i| i.owner_id == user) else {
            return Err(AppError::not_found(&format!("file {id}")));
        };
        if item.kind != kind {
            return Err(AppError::conflict(format!(
                "file {id} is not of this message's type"
            )));
        }
        match item.processing_status {
            ProcessingStatus::Ready => out.push(MediaAttachment::from(&item)),
            ProcessingStatus::Pending => {
                return Err(AppError::conflict(format!(
                    "file {id} has not been checked yet; send the message once it is ready"
                )));
            }
            ProcessingStatus::Rejected => {
                return Err(AppError::conflict(format!("file {id} was rejected")));
            }
        }
    }
    Ok(out)
}

/// A presigned download of `key`, if it could be signed and is short enough for a frame.
async fn link(objects: &dyn ObjectStore, key: &ObjectKey) -> Option<String> {
    match objects.presign_get(key, LINK_TTL).await {
        Ok(url) if url.len() <= MAX_URL_BYTES => Some(url),
        Ok(url) => {
            tracing::error!(key = %key, bytes = url.len(), "presigned URL too long for a frame; left out");
            None
        }
        Err(e) => {
            tracing::error!(key = %key, error = %e, "could not sign a download link");
            None
        }
    }
}

/// Signs the `file_url` (and an image's `thumbnail_url`) of every file of `view`.
pub async fn sign_links(objects: &dyn ObjectStore, view: &mut MessageView) {
    for a in &mut view.media_attachments {
        a.file_url = link(objects, &file_key(a.file_id)).await;
        a.thumbnail_url = if a.has_thumbnail {
            link(objects, &thumbnail_key(a.file_id)).await
        } else {
            None
        };
    }
}
