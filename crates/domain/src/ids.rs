//! Identifier newtypes.
//!
//! WB's ids are opaque strings (`"1:4019cd7d-…"`); we only check what every valid one shares:
//! non-empty, bounded length, no whitespace or control characters. Anything stricter would
//! break the day WB changes a format (it did for `replySign` in 2026). `AccountId` is ours: a
//! positive integer key.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// Why a string was not accepted as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} is empty")]
    Empty { kind: &'static str },
    #[error("{kind} is longer than {max} bytes")]
    TooLong { kind: &'static str, max: usize },
    #[error("{kind} contains whitespace or a control character")]
    BadCharacter { kind: &'static str },
    #[error("{kind} is not a positive integer")]
    NotPositiveInteger { kind: &'static str },
}

fn check(kind: &'static str, max: usize, s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if s.len() > max {
        return Err(IdError::TooLong { kind, max });
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(IdError::BadCharacter { kind });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parses an identifier received from outside.
            pub fn parse(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                check($kind, $max, &s)?;
                Ok(Self(s))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// A WB chat id, e.g. `1:4019cd7d-cca8-4e90-8b11-f78afbea42e3`.
    ChatId, "chat id", 256
);
string_id!(
    /// The signature WB requires to send into a chat (`chatID:number:hex`). Never constructed
    /// by us: always taken from `/chats` or from the chat's `isNewChat` event. WB limits it to
    /// 255 characters.
    ReplySign, "reply sign", 255
);
string_id!(
    /// A WB event id; messages are unique per (account, event id).
    EventId, "event id", 256
);
string_id!(
    /// The id of a buyer's file or image, for `GET /api/v1/seller/download/{id}`.
    DownloadId, "download id", 512
);

/// Our own key of a connected marketplace account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(i64);

impl AccountId {
    pub fn new(id: i64) -> Result<Self, IdError> {
        if id > 0 {
            Ok(Self(id))
        } else {
            Err(IdError::NotPositiveInteger { kind: "account id" })
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for AccountId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let n: i64 = s
            .parse()
            .map_err(|_| IdError::NotPositiveInteger { kind: "account id" })?;
        Self::new(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_wb_shaped_ids() {
        for ok in [
            "1:4019cd7d-cca8-4e90-8b11-f78afbea42e3",
            "5c8d3b0e-1",
            "x",
            "Ёлка",
        ] {
            assert_eq!(ChatId::parse(ok).map(|c| c.to_string()), Ok(ok.to_string()));
        }
        let sign = format!("1:4019cd7d-cca8:54828159:{}", "ab".repeat(64));
        assert!(ReplySign::parse(sign).is_ok());
    }

    #[test]
    fn rejects_bad_ids_with_a_reason() {
        assert_eq!(ChatId::parse(""), Err(IdError::Empty { kind: "chat id" }));
        assert_eq!(
            EventId::parse("a b"),
            Err(IdError::BadCharacter { kind: "event id" })
        );
        assert_eq!(
            ChatId::parse("a\u{0}"),
            Err(IdError::BadCharacter { kind: "chat id" })
        );
        assert_eq!(
            ReplySign::parse("x".repeat(256)),
            Err(IdError::TooLong {
                kind: "reply sign",
                max: 255
            })
        );
        assert!(AccountId::new(0).is_err());
        assert!("-3".parse::<AccountId>().is_err());
        assert!("abc".parse::<AccountId>().is_err());
        assert_eq!("42".parse::<AccountId>().map(AccountId::get), Ok(42));
    }

    #[test]
    fn serde_is_transparent_and_validating() {
        let id: ChatId = serde_json::from_str("\"1:abc\"").expect("valid id");
        assert_eq!(serde_json::to_string(&id).expect("serializes"), "\"1:abc\"");
        assert!(serde_json::from_str::<ChatId>("\"\"").is_err());
        assert!(serde_json::from_str::<ChatId>("12").is_err());
    }
}
