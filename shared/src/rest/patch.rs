//! Fields of `PATCH` bodies, where an absent field (leave it) and `null` (clear it) differ:
//! for `#[serde(default, deserialize_with = "…")]`.

use serde::{Deserialize, Deserializer};

/// A field that may be absent (`None`, via `default`) but never `null`.
pub fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// Tells a present `null` (`Some(None)`) from an absent field (`None`, via `default`).
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// [`nullable`] for a whole number (`5.0` counts as `5`).
pub fn nullable_integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    crate::integer::optional(d).map(Some)
}

/// A whole number (`5.0` counts as `5`), never `null`, when present.
pub fn present_integer<'de, D: Deserializer<'de>, T: TryFrom<i128>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    crate::integer::exact(d).map(Some)
}
