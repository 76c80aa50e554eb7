//! `SessionStore` over DynamoDB (table `users`; layout in `docs/data-model.md`).
//!
//! A refresh family is one item `FAMILY#<family_id>` / `FAMILY` with `user_id`, `current_jti`,
//! `previous_jti` (after a rotation), `issued_at`, `access_jti`, `revoked`, `expires_at`,
//! `created_at`, the device fields (`device_id`, `device_type`, `platform`) and the TTL
//! attribute `ttl_epoch` (from `expires_at`). While it is not revoked it is also in `gsi1`
//! under `SESSIONS#<user_id>` / `<created_at>#<family_id>`, which lists a user's sessions;
//! revoking removes those keys, so the index holds live sessions only (and expired ones
//! until TTL deletes them, which reads skip).

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::item::{Item, av, from_item, is_expired, key, n, s, to_item, with_ttl};
use super::ops::{Gsi, GsiPartition, get_entity, gsi_page, put_new, sdk_error};
use crate::ids::{DeviceId, FamilyId, TokenId, UserId};
use crate::model::{Device, DeviceType};
use chrono::Duration;

use crate::store::{
    MAX_LISTED_FAMILIES, NextTokens, RefreshFamily, Rotation, SessionStore, StoreError, StoreResult,
};
use crate::time::{Timestamp, sort_key};

/// `SessionStore` over the `users` table.
#[derive(Clone)]
pub struct DynamoSessionStore {
    client: Client,
    table: String,
}

impl DynamoSessionStore {
    /// The store over `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }
}

/// The stored attributes of a family.
#[derive(Serialize, Deserialize)]
struct FamilyRow {
    family_id: FamilyId,
    user_id: UserId,
    current_jti: TokenId,
    revoked: bool,
    expires_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous_jti: Option<TokenId>,
    // Absent on families stored before the grace window existed: they are never replayed
    // (no `previous_jti`), so any value does.
    #[serde(default)]
    issued_at: Option<Timestamp>,
    #[serde(default)]
    access_jti: Option<TokenId>,
    // Absent on families stored before sessions were listed (they are not in the index).
    #[serde(default)]
    created_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_id: Option<DeviceId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_type: Option<DeviceType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    platform: Option<String>,
}

impl From<FamilyRow> for RefreshFamily {
    fn from(r: FamilyRow) -> Self {
        let issued_at = r.issued_at.unwrap_or(chrono::DateTime::UNIX_EPOCH);
        Self {
            family_id: r.family_id,
            user_id: r.user_id,
            current_jti: r.current_jti,
            revoked: r.revoked,
            expires_at: r.expires_at,
            previous_jti: r.previous_jti,
            issued_at,
            access_jti: r.access_jti.unwrap_or_default(),
            created_at: r.created_at.unwrap_or(issued_at),
            device: Device {
                device_id: r.device_id,
                device_type: r.device_type,
                platform: r.platform,
            },
        }
    }
}

/// The `gsi1` partition of a user's sessions.
fn sessions_pk(user: UserId) -> String {
    format!("SESSIONS#{user}")
}

fn family_pk(id: FamilyId) -> String {
    format!("FAMILY#{id}")
}

fn family_key(id: FamilyId) -> Item {
    key(family_pk(id), "FAMILY")
}

/// Attempts at a rotation whose condition failed while the re-read family looks current
/// (it changed between the two calls).
const ROTATE_ATTEMPTS: usize = 3;

impl DynamoSessionStore {
    async fn read(&self, id: FamilyId) -> StoreResult<Option<RefreshFamily>> {
        let row: Option<FamilyRow> = get_entity(&self.client, &self.table, family_key(id)).await?;
        Ok(row.map(Into::into))
    }
}

#[async_trait]
impl SessionStore for DynamoSessionStore {
    /// `Conflict("exists")` when a family with that id is stored already.
    async fn create_family(&self, family: &RefreshFamily) -> StoreResult<()> {
        let row = FamilyRow {
            family_id: family.family_id,
            user_id: family.user_id,
            current_jti: family.current_jti,
            revoked: family.revoked,
            expires_at: family.expires_at,
            previous_jti: family.previous_jti,
            issued_at: Some(family.issued_at),
            access_jti: Some(family.access_jti),
            created_at: Some(family.created_at),
            device_id: family.device.device_id.clone(),
            device_type: family.device.device_type,
            platform: family.device.platform.clone(),
        };
        let mut keys = vec![
            ("pk", family_pk(family.family_id)),
            ("sk", "FAMILY".to_owned()),
        ];
        if !family.revoked {
            keys.push(("gsi1pk", sessions_pk(family.user_id)));
            keys.push((
                "gsi1sk",
                format!("{}#{}", sort_key(family.created_at), family.family_id),
            ));
        }
        let item = with_ttl(to_item(&row, &keys)?, family.expires_at);
        put_new(&self.client, &self.table, item, "exists").await
    }

    /// One conditional update (`current_jti = :presented AND revoked = :false AND
    /// ttl_epoch > :now`) that also records the replaced token, the new access token id and
    /// the time; when its condition fails, a consistent read tells why: the replaced token
    /// within `grace` is a replay, any other older token revokes the family.
    async fn rotate(
        &self,
        family: FamilyId,
        presented: TokenId,
        next: NextTokens,
        now: Timestamp,
        grace: Duration,
    ) -> StoreResult<Rotation> {
        for _ in 0..ROTATE_ATTEMPTS {
            let rotated = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(family_key(family)))
                .update_expression(
                    "SET current_jti = :new, previous_jti = :presented, \
                     access_jti = :access, issued_at = :issued",
                )
                .condition_expression(
                    "current_jti = :presented AND revoked = :false AND ttl_epoch > :now",
                )
                .expression_attribute_values(":new", s(next.jti.to_string()))
                .expression_attribute_values(":access", s(next.access_jti.to_string()))
                .expression_attribute_values(":issued", av(&now)?)
                .expression_attribute_values(":presented", s(presented.to_string()))
                .expression_attribute_values(":false", AttributeValue::Bool(false))
                .expression_attribute_values(":now", n(now.timestamp()))
                .send()
                .await;
            match rotated {
                Ok(_) => return Ok(Rotation::Rotated),
                Err(e) => match sdk_error(e, "rotate") {
                    StoreError::Conflict(_) => {}
                    other => return Err(other),
                },
            }
            let Some(stored) = self.read(family).await? else {
                return Ok(Rotation::Unknown);
            };
            if stored.revoked || stored.expires_at.timestamp() <= now.timestamp() {
                return Ok(Rotation::Revoked);
            }
            if stored.current_jti != presented {
                if stored.previous_jti == Some(presented) && now < stored.issued_at + grace {
                    return Ok(Rotation::Replayed {
                        jti: stored.current_jti,
                        access_jti: stored.access_jti,
                        issued_at: stored.issued_at,
                    });
                }
                self.revoke(family).await?;
                return Ok(Rotation::Reused);
            }
            // The family changed between the update and the read: try again.
        }
        Err(StoreError::Conflict("rotate"))
    }

    /// Also takes the family out of the user's session index (`REMOVE gsi1pk, gsi1sk`).
    async fn revoke(&self, family: FamilyId) -> StoreResult<()> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(family_key(family)))
            .update_expression("SET revoked = :true REMOVE gsi1pk, gsi1sk")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) => match sdk_error(e, "revoke") {
                // No such family: nothing to revoke.
                StoreError::Conflict(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn get_family(&self, family: FamilyId) -> StoreResult<Option<RefreshFamily>> {
        self.read(family).await
    }

    /// One `Query` of `gsi1` (`SESSIONS#<user_id>`, oldest first), skipping rows past their
    /// TTL and any revoked one the (eventually consistent) index still shows.
    async fn list_user_families(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<Vec<RefreshFamily>> {
        let pk = sessions_pk(user);
        let partition = GsiPartition {
            gsi: Gsi::Gsi1,
            pk: &pk,
            forward: true,
        };
        let page = gsi_page(
            &self.client,
            &self.table,
            partition,
            MAX_LISTED_FAMILIES,
            None,
            "list sessions",
            |item| {
                if is_expired(&item, now) {
                    return Ok(None);
                }
                let family: RefreshFamily = from_item::<FamilyRow>(item)?.into();
                Ok((!family.revoked && family.expires_at > now).then_some(family))
            },
        )
        .await?;
        Ok(page.items)
    }
}
