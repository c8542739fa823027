//! The camera frames behind a decision. A camera uploads the frame of a
//! read to the evidence store under its own prefix,
//! `frames/{lot}/{device}/…`, and names it on the read (`frame`); the
//! read keeps the key, and each session lists the frames of its passages
//! (the first read of each that names one, and its first sure read: both
//! kept however long the car waits), at most [`FRAMES_PER_SESSION`]. Staff see a
//! session, its review item and its dispute through the operator API
//! with a short-lived link to each frame ([`FrameLink`]), never the
//! store's own address.
//!
//! - **Keys parse at the edge.** A key is `frames/` and path segments of
//!   ASCII letters, digits, `-`, `_` and `.` (no empty, `.` or `..`
//!   segment), at most [`KEY_MAX`] bytes; a device names only keys under
//!   its own lot's and its own name's prefix ([`FrameKey::of_device`]),
//!   which is also all its upload credentials allow.
//! - **Kept as long as the plate.** The frames show the plate: the
//!   store's objects expire with the plate data's retention, and a stay
//!   whose plate is forgotten forgets its frames.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, LotId};

/// The longest key accepted, in bytes.
pub const KEY_MAX: usize = 256;

/// The most frames a session lists.
pub const FRAMES_PER_SESSION: usize = 4;

/// How long a link to a frame works.
pub const LINK_SECONDS: u64 = 300;

/// Why a frame key is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameKeyError {
    #[error("must start with frames/")]
    Prefix,
    #[error("must be under frames/{lot}/{device}/ of the device that read it")]
    NotTheDevices { lot: String, device: String },
    #[error("is longer than {KEY_MAX} bytes")]
    TooLong,
    #[error("has an empty, `.` or `..` segment")]
    BadSegment,
    #[error("holds a character other than ASCII letters, digits, `-_./` at byte {position}")]
    BadCharacter { position: usize },
}

/// An evidence frame's object key.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FrameKey(String);

impl FrameKey {
    /// Parses a key of the evidence store.
    ///
    /// # Errors
    ///
    /// [`FrameKeyError`] naming what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, FrameKeyError> {
        if text.len() > KEY_MAX {
            return Err(FrameKeyError::TooLong);
        }
        if let Some(position) = text
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || b"-_./".contains(&b)))
        {
            return Err(FrameKeyError::BadCharacter {
                position: position + 1,
            });
        }
        let Some(rest) = text.strip_prefix("frames/") else {
            return Err(FrameKeyError::Prefix);
        };
        if rest
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(FrameKeyError::BadSegment);
        }
        Ok(FrameKey(text.to_owned()))
    }

    /// Parses a key a device names on its read: under its own prefix.
    ///
    /// # Errors
    ///
    /// [`FrameKeyError`], [`FrameKeyError::NotTheDevices`] for a key
    /// outside `frames/{lot}/{device}/`.
    pub fn of_device(text: &str, lot: &LotId, device: &DeviceId) -> Result<Self, FrameKeyError> {
        let key = FrameKey::parse(text)?;
        let prefix = format!("frames/{lot}/{device}/");
        if !key.0.starts_with(&prefix) || key.0.len() == prefix.len() {
            return Err(FrameKeyError::NotTheDevices {
                lot: lot.to_string(),
                device: device.to_string(),
            });
        }
        Ok(key)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FrameKey {
    type Error = FrameKeyError;
    fn try_from(text: String) -> Result<Self, FrameKeyError> {
        FrameKey::parse(&text)
    }
}

impl From<FrameKey> for String {
    fn from(k: FrameKey) -> String {
        k.0
    }
}

impl fmt::Debug for FrameKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The camera names the file, and may name it by what it read:
        // only the lot's and device's part is shown.
        let shown: Vec<&str> = self.0.splitn(4, '/').take(3).collect();
        write!(f, "FrameKey({}/…)", shown.join("/"))
    }
}

impl fmt::Display for FrameKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A link to a frame that works until `expires_at`.
#[derive(Clone, PartialEq, Eq)]
pub struct FrameLink {
    pub key: FrameKey,
    pub url: String,
    pub expires_at: Timestamp,
}

impl fmt::Debug for FrameLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The link is a credential while it works.
        f.debug_struct("FrameLink")
            .field("key", &self.key)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_at_the_edge_and_name_what_is_wrong() {
        let lot = LotId::parse("lot-1").expect("id");
        let cam = DeviceId::parse("cam-1").expect("id");
        assert!(FrameKey::of_device("frames/lot-1/cam-1/2026/e-1.jpg", &lot, &cam).is_ok());
        for (text, wrong) in [
            (
                "frames/lot-1/cam-2/e-1.jpg",
                "must be under frames/lot-1/cam-1/",
            ),
            (
                "frames/lot-2/cam-1/e-1.jpg",
                "must be under frames/lot-1/cam-1/",
            ),
            ("frames/lot-1/cam-1/", "empty"),
            ("frames/lot-1/cam-1/../cam-2/e.jpg", "`..`"),
            ("other/lot-1/cam-1/e.jpg", "must start with frames/"),
            ("frames/lot-1/cam-1/e 1.jpg", "at byte 21"),
            ("frames/lot-1/cam-1/e?x=1", "at byte 21"),
        ] {
            let e = FrameKey::of_device(text, &lot, &cam).expect_err(text);
            assert!(e.to_string().contains(wrong), "{text}: {e}");
        }
        let key = FrameKey::parse("frames/lot-1/cam-1/ABC123.jpg").expect("a key");
        assert_eq!(format!("{key:?}"), "FrameKey(frames/lot-1/cam-1/…)");
        let long = format!("frames/lot-1/cam-1/{}", "a".repeat(KEY_MAX));
        assert_eq!(FrameKey::parse(&long), Err(FrameKeyError::TooLong));
    }
}
