//! The device a session was signed in on: what a client tells at sign-in (`device_id`,
//! `device_type`, `platform`), recorded on the session so that the user can tell their
//! sessions apart and later features can reach a device (push notifications).

use serde::{Deserialize, Serialize};

use crate::ids::DeviceId;
use crate::validate::{FieldError, ValidationErrors, optional_text};

/// Most characters of `platform`.
pub const MAX_PLATFORM_CHARS: usize = 64;

/// Most characters of `device_id` as sent (white space around it included).
const MAX_DEVICE_ID_CHARS: usize = 128;

/// A device id as sent: trimmed, then a [`DeviceId`].
fn parse_device_id(raw: &str) -> Result<DeviceId, FieldError> {
    let bad = |reason: &str| {
        FieldError::new(
            "device_id",
            format!(
                "{reason}: at most {MAX_DEVICE_ID_CHARS} of letters, digits, '-', '_', '.' and ':'"
            ),
        )
    };
    if raw.chars().count() > MAX_DEVICE_ID_CHARS {
        return Err(bad("too long"));
    }
    raw.trim()
        .parse()
        .map_err(|e: crate::ids::IdError| bad(e.reason))
}

/// What kind of device a session runs on. A closed set, so that a push service can be
/// chosen from it; the finer detail goes in the free-text `platform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceType {
    /// An iPhone or iPad app.
    Ios,
    /// An Android app.
    Android,
    /// A phone or tablet app that does not say which system it runs on.
    Mobile,
    /// A web browser.
    Web,
    /// A desktop app.
    Desktop,
}

impl DeviceType {
    /// Every kind, as clients spell them.
    pub const ALL: [&'static str; 5] = ["ios", "android", "mobile", "web", "desktop"];

    /// The kind spelled exactly `raw`, or a field error naming the accepted values.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        match raw {
            "ios" => Ok(Self::Ios),
            "android" => Ok(Self::Android),
            "mobile" => Ok(Self::Mobile),
            "web" => Ok(Self::Web),
            "desktop" => Ok(Self::Desktop),
            _ => Err(FieldError::new(
                "device_type",
                format!("must be one of {}", Self::ALL.join(", ")),
            )),
        }
    }
}

/// The device fields of a session; each is optional (older clients send none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// The client's id for the device.
    #[serde(default)]
    pub device_id: Option<DeviceId>,
    /// What kind of device it is.
    #[serde(default)]
    pub device_type: Option<DeviceType>,
    /// Free text about the platform ("ios 17.4", "Firefox 126"), at most
    /// [`MAX_PLATFORM_CHARS`] characters.
    #[serde(default)]
    pub platform: Option<String>,
}

impl Device {
    /// Validates the raw fields as sent, reporting each bad one in `errs`; what fails is
    /// left out of the result. A blank `device_id` or `platform`, or an empty
    /// `device_type`, counts as absent.
    pub fn validate(
        device_id: Option<&str>,
        device_type: Option<&str>,
        platform: Option<&str>,
        errs: &mut ValidationErrors,
    ) -> Self {
        let device_id = device_id
            .filter(|s| s.chars().count() > MAX_DEVICE_ID_CHARS || !s.trim().is_empty())
            .and_then(|s| errs.check(parse_device_id(s)));
        let device_type = device_type
            .filter(|s| !s.is_empty())
            .and_then(|s| errs.check(DeviceType::parse(s)));
        let platform = errs
            .check(optional_text("platform", platform, MAX_PLATFORM_CHARS))
            .flatten();
        Self {
            device_id,
            device_type,
            platform,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_fields_are_kept() {
        let mut errs = ValidationErrors::new();
        let d = Device::validate(Some("dev-1"), Some("ios"), Some(" iOS 17.4 "), &mut errs);
        assert!(errs.fields().is_empty());
        assert_eq!(d.device_id.unwrap().as_str(), "dev-1");
        assert_eq!(d.device_type, Some(DeviceType::Ios));
        assert_eq!(d.platform.as_deref(), Some("iOS 17.4"));
        let none = Device::validate(None, Some(""), None, &mut errs);
        assert_eq!(none, Device::default());
    }

    #[test]
    fn bad_fields_are_each_reported() {
        let mut errs = ValidationErrors::new();
        let long = "x".repeat(MAX_PLATFORM_CHARS + 1);
        Device::validate(Some("a b"), Some("phone"), Some(&long), &mut errs);
        let fields: Vec<_> = errs.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["device_id", "device_type", "platform"]);
    }
}
