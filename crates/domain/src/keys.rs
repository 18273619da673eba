//! Our own integer keys: workspaces, users, chats and messages as stored locally.
//!
//! They sit beside [`crate::AccountId`] and follow the same rule: a positive integer, checked once
//! at the edge. A `ChatRowId` is our key of a chat (what the app's API puts in
//! `/api/v1/chats/{id}`); WB's own chat id is [`crate::ChatId`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use crate::IdError;

macro_rules! int_key {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// Accepts a positive integer.
            pub fn new(id: i64) -> Result<Self, IdError> {
                if id > 0 {
                    Ok(Self(id))
                } else {
                    Err(IdError::NotPositiveInteger { kind: $kind })
                }
            }

            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                let n: i64 = s
                    .parse()
                    .map_err(|_| IdError::NotPositiveInteger { kind: $kind })?;
                Self::new(n)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let n = i64::deserialize(d)?;
                Self::new(n).map_err(serde::de::Error::custom)
            }
        }
    };
}

int_key!(
    /// A tenant: a seller or a support team; every stored row belongs to exactly one.
    WorkspaceId, "workspace id"
);
int_key!(
    /// An operator who logs in to the web UI.
    UserId, "user id"
);
int_key!(
    /// Our key of a stored chat (not WB's [`crate::ChatId`]).
    ChatRowId, "chat row id"
);
int_key!(
    /// Our key of a stored message (not WB's [`crate::EventId`]).
    MessageRowId, "message row id"
);
int_key!(
    /// Our key of a stored attachment (what `/api/v1/attachments/{id}` takes).
    AttachmentRowId, "attachment row id"
);
int_key!(
    /// A reply waiting in, or delivered through, the outbox.
    OutboxId, "outbox id"
);
int_key!(
    /// An escalation shown to the workspace's operators (at most one per chat, kind and key).
    NotificationId, "notification id"
);
int_key!(
    /// One outgoing webhook delivery (of one notification), retried until delivered.
    WebhookDeliveryId, "webhook delivery id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_positive() {
        assert_eq!(WorkspaceId::new(3).map(WorkspaceId::get), Ok(3));
        assert_eq!(
            ChatRowId::new(0),
            Err(IdError::NotPositiveInteger {
                kind: "chat row id"
            })
        );
        assert!("-1".parse::<UserId>().is_err());
        assert_eq!("17".parse::<MessageRowId>().map(MessageRowId::get), Ok(17));
        assert!(serde_json::from_str::<ChatRowId>("0").is_err());
        assert_eq!(
            serde_json::from_str::<ChatRowId>("5").ok(),
            ChatRowId::new(5).ok()
        );
    }
}
