//! A user's sessions as they see them (`GET /v1/auth/sessions`): which devices are signed
//! in, so one can be signed out. Never a token or a token id.

use serde::Serialize;

use crate::ids::{DeviceId, FamilyId};
use crate::model::DeviceType;
use crate::store::RefreshFamily;
use crate::time::Timestamp;

/// One session (a sign-in and the refresh tokens rotated from it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionView {
    /// The session's id (what `DELETE /v1/auth/sessions/{session_id}` takes).
    pub session_id: FamilyId,
    /// The client's id for the device, if it sent one.
    pub device_id: Option<DeviceId>,
    /// The kind of device, if the client said.
    pub device_type: Option<DeviceType>,
    /// Free text about the platform, if the client sent it.
    pub platform: Option<String>,
    /// When the user signed in.
    pub created_at: Timestamp,
    /// When the session last got tokens: the sign-in or its latest refresh.
    pub last_refreshed_at: Timestamp,
    /// When the session ends unless revoked first (refreshing does not extend it).
    pub expires_at: Timestamp,
    /// Whether this is the session of the token that asked.
    pub current: bool,
}

impl SessionView {
    /// The view of `family`, `current` when it is `caller`'s.
    pub fn of(family: &RefreshFamily, caller: FamilyId) -> Self {
        Self {
            session_id: family.family_id,
            device_id: family.device.device_id.clone(),
            device_type: family.device.device_type,
            platform: family.device.platform.clone(),
            created_at: family.created_at,
            last_refreshed_at: family.issued_at,
            expires_at: family.expires_at,
            current: family.family_id == caller,
        }
    }
}

/// The body of `GET /v1/auth/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionList {
    /// The live sessions, most recent sign-in first.
    pub sessions: Vec<SessionView>,
}
