//! Media files: what a user uploads to attach to messages. An upload is declared first (its
//! kind, name, type and size), which records a `pending` media item and signs a POST of
//! exactly that file to the bucket; the media function then checks the bytes that arrived
//! and settles the item `ready` (moving the file from `uploads/` to `files/`) or `rejected`
//! (deleting it). Only the uploader's `ready` files can be attached. What stays under
//! `uploads/` was never checked: the bucket's lifecycle deletes it after a day.

use serde::{Deserialize, Serialize};

use crate::ids::{FileId, ObjectKey, UserId};
use crate::time::Timestamp;

/// What kind of file an upload is: the `message_type` it may be attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A picture: decoded, measured and thumbnailed.
    Image,
    /// Any other allowed document.
    File,
}

/// Content types an image upload may declare (each one the `infer` crate recognizes from
/// its first bytes, and the `image` crate can decode).
pub const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

/// Content types a file upload may declare: documents, archives and plain text (checked as
/// UTF-8), never executables or HTML, which a browser might run.
pub const FILE_TYPES: &[&str] = &["application/pdf", "application/zip", "text/plain"];

/// Largest image upload: 10 MiB.
pub const MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;

/// Largest file upload: 20 MiB (the media function holds a file in memory to check it).
pub const MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;

/// Longest file name kept, in characters.
pub const MAX_FILE_NAME_CHARS: usize = 255;

impl MediaKind {
    /// The content types this kind may declare.
    pub fn allowed_types(self) -> &'static [&'static str] {
        match self {
            Self::Image => IMAGE_TYPES,
            Self::File => FILE_TYPES,
        }
    }

    /// The largest upload of this kind, in bytes.
    pub fn max_bytes(self) -> u64 {
        match self {
            Self::Image => MAX_IMAGE_BYTES,
            Self::File => MAX_FILE_BYTES,
        }
    }
}

/// Where a media item is in its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessingStatus {
    /// Declared; the upload has not been checked (or has not arrived).
    Pending,
    /// Checked: its bytes are of its declared type and within the limit.
    Ready,
    /// Refused: its bytes are not its declared type, or too large; the object is deleted.
    Rejected,
}

/// An image's size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dimensions {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// A media item: one upload and what its checks found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaItem {
    /// Its id (`file_id`).
    pub file_id: FileId,
    /// Who uploaded it: the only user who may attach it.
    pub owner_id: UserId,
    /// Image or file.
    pub kind: MediaKind,
    /// The name the uploader gave.
    pub file_name: String,
    /// The content type: as declared while pending, as checked once ready.
    pub file_type: String,
    /// The size: as declared while pending, the real size once checked.
    pub file_size: u64,
    /// Where its checks are.
    pub processing_status: ProcessingStatus,
    /// An image's size, once checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<Dimensions>,
    /// Whether a thumbnail was stored (images).
    #[serde(default)]
    pub has_thumbnail: bool,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection_reason: Option<String>,
    /// When it was declared.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// The prefix of uploaded objects: the only keys a presigned POST may write, the prefix the
/// bucket's lifecycle rule sweeps and the media function's trigger.
pub const UPLOAD_PREFIX: &str = "uploads/";

/// The prefix of checked files: written by the media function only (it moves an accepted
/// upload here), read through presigned GETs.
pub const FILE_PREFIX: &str = "files/";

/// The prefix of thumbnails: written by the media function only.
pub const THUMBNAIL_PREFIX: &str = "thumbnails/";

/// The key of file `id`'s upload.
pub fn upload_key(id: FileId) -> ObjectKey {
    ObjectKey::from_uuid_path(UPLOAD_PREFIX, id, "")
}

/// The key of file `id` once checked.
pub fn file_key(id: FileId) -> ObjectKey {
    ObjectKey::from_uuid_path(FILE_PREFIX, id, "")
}

/// The key of file `id`'s thumbnail (PNG).
pub fn thumbnail_key(id: FileId) -> ObjectKey {
    ObjectKey::from_uuid_path(THUMBNAIL_PREFIX, id, ".png")
}

/// The file an upload key names, if it is one (`uploads/<file_id>`).
pub fn file_of_upload(key: &str) -> Option<FileId> {
    key.strip_prefix(UPLOAD_PREFIX)?.parse().ok()
}

impl MediaItem {
    /// The key of its checked file.
    pub fn file_key(&self) -> ObjectKey {
        file_key(self.file_id)
    }

    /// The key of its thumbnail, if it has one.
    pub fn thumbnail_key(&self) -> Option<ObjectKey> {
        self.has_thumbnail.then(|| thumbnail_key(self.file_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_keys_name_their_file_and_nothing_else() {
        let id = FileId::new();
        assert_eq!(upload_key(id).as_str(), format!("uploads/{id}"));
        assert_eq!(file_of_upload(upload_key(id).as_str()), Some(id));
        assert_eq!(thumbnail_key(id).as_str(), format!("thumbnails/{id}.png"));
        assert_eq!(file_key(id).as_str(), format!("files/{id}"));
        for other in [
            format!("thumbnails/{id}.png"),
            format!("uploads/{id}/x"),
            "uploads/".into(),
            "uploads/not-a-uuid".into(),
        ] {
            assert_eq!(file_of_upload(&other), None, "{other}");
        }
    }
}
