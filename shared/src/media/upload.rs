//! Declaring an upload: the kind, name, declared content type and size are checked against
//! the kind's allow-list and limit, a `pending` media item owned by the uploader is recorded,
//! and a presigned POST of exactly that file (its key, `Content-Type` and size range bound
//! by the signed policy) is returned for the client to send the bytes straight to the bucket.

use serde::Serialize;

use super::UPLOAD_TTL;
use crate::app::App;
use crate::config::RateKind;
use crate::error::AppError;
use crate::ids::{FileId, UserId};
use crate::model::media::{MAX_FILE_NAME_CHARS, upload_key};
use crate::model::{MediaItem, MediaKind, ProcessingStatus};
use crate::objects::{PresignedPost, UploadPolicy};
use crate::time::{Timestamp, now};
use crate::validate::text;

/// What a client declares about a file it is about to upload.
#[derive(Debug, Clone)]
pub struct UploadInput {
    /// Image or file.
    pub kind: MediaKind,
    /// Its name.
    pub file_name: String,
    /// Its declared content type.
    pub content_type: String,
    /// Its declared size, in bytes.
    pub file_size: u64,
}

/// The answer to a declared upload: the media item and the form that uploads its bytes.
#[derive(Debug, Clone, Serialize)]
pub struct UploadTicket {
    /// The file's id, to name in a message once it is `ready`.
    pub file_id: FileId,
    /// `pending` until the media function has checked the upload.
    pub processing_status: ProcessingStatus,
    /// The form to POST the file with (`multipart/form-data`, the file last, as `file`).
    pub upload: PresignedPost,
    /// Until when the form may be posted.
    pub expires_at: Timestamp,
    /// The largest size the form accepts.
    pub max_bytes: u64,
}

/// A file name: 1..=255 characters, no control characters or path separators (it is shown
/// to other users, never used as a key).
fn file_name(raw: &str) -> Result<String, AppError> {
    let name = text("file_name", raw, 1, MAX_FILE_NAME_CHARS)?;
    if name
        .chars()
        .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        return Err(AppError::field(
            "file_name",
            "must not contain control characters or path separators",
        ));
    }
    Ok(name)
}

/// The declared content type, if the kind allows it: exactly as listed (lowercase, no
/// parameters), since the signed policy and S3 compare it byte for byte.
fn content_type(kind: MediaKind, raw: &str) -> Result<String, AppError> {
    kind.allowed_types()
        .iter()
        .find(|t| **t == raw)
        .map(|t| (*t).to_owned())
        .ok_or_else(|| {
            AppError::field(
                "content_type",
                format!("must be one of {}", kind.allowed_types().join(", ")),
            )
        })
}

/// The declared size, if within 1..=the kind's limit.
fn file_size(kind: MediaKind, size: u64) -> Result<u64, AppError> {
    if size == 0 {
        return Err(AppError::field("file_size", "must be at least 1 byte"));
    }
    if size > kind.max_bytes() {
        return Err(AppError::field(
            "file_size",
            format!("must be at most {} bytes", kind.max_bytes()),
        ));
    }
    Ok(size)
}

/// Checks the declaration, records the pending item and signs its upload form.
pub async fn request_upload(
    app: &App,
    user: UserId,
    input: UploadInput,
) -> Result<UploadTicket, AppError> {
    let name = file_name(&input.file_name)?;
    let content_type = content_type(input.kind, &input.content_type)?;
    let size = file_size(input.kind, input.file_size)?;
    app.rate_limit(RateKind::Message, &user.to_string()).await?;
    let t = now();
    let item = MediaItem {
        file_id: FileId::new(),
        owner_id: user,
        kind: input.kind,
        file_name: name,
        file_type: content_type.clone(),
        file_size: size,
        processing_status: ProcessingStatus::Pending,
        dimensions: None,
        has_thumbnail: false,
        rejection_reason: None,
        created_at: t,
        updated_at: t,
    };
    app.stores.media.create_media(&item).await?;
    let expires_at = t + chrono::Duration::from_std(UPLOAD_TTL).map_err(AppError::internal)?;
    // The policy allows the declared type and the kind's limit: the media function checks
    // the bytes against both, whatever a client manages to send.
    let upload = app
        .objects
        .presign_post(&UploadPolicy {
            key: upload_key(item.file_id),
            content_type,
            max_bytes: input.kind.max_bytes(),
            expires_at,
        })
        .await
        .map_err(AppError::internal)?;
    tracing::info!(file_id = %item.file_id, user_id = %user, kind = ?item.kind, declared_size = size, "upload declared");
    Ok(UploadTicket {
        file_id: item.file_id,
        processing_status: item.processing_status,
        upload,
        expires_at,
        max_bytes: input.kind.max_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_are_checked_against_the_kind() {
        assert_eq!(
            content_type(MediaKind::Image, "image/png").unwrap(),
            "image/png"
        );
        assert!(content_type(MediaKind::Image, "Image/PNG").is_err());
        for bad in [
            "image/svg+xml",
            "text/html",
            "application/pdf",
            "image/png; x=1",
            "",
        ] {
            assert!(content_type(MediaKind::Image, bad).is_err(), "{bad}");
        }
        assert_eq!(
            content_type(MediaKind::File, "application/pdf").unwrap(),
            "application/pdf"
        );
        assert!(content_type(MediaKind::File, "application/x-msdownload").is_err());
        assert!(file_size(MediaKind::Image, 0).is_err());
        assert!(file_size(MediaKind::Image, crate::model::media::MAX_IMAGE_BYTES + 1).is_err());
        assert!(file_size(MediaKind::File, crate::model::media::MAX_FILE_BYTES).is_ok());
        for bad in ["", "a/b.png", "a\\b.png", "x\u{7}.png", &"n".repeat(256)] {
            assert!(file_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(file_name(" photo.png ").unwrap(), "photo.png");
    }
}
