//! Chat vocabulary shared by the sync engine, the store and the UI: who wrote a message, the
//! product card a chat is about, what kind of file a buyer sent, and an account's health.
//!
//! These are our types, not WB's wire format: the `wb` crate maps its JSON into them. Every
//! enum has a stable lower-case string form (`as_str`/`FromStr`), which is what the store
//! writes and the app's API shows.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An enum's string form was not one of its known values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
}

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal { $($(#[$vdoc:meta])* $variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable string form (also the serde form).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $s),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, UnknownVariant> {
                match s {
                    $($s => Ok($name::$variant),)+
                    other => Err(UnknownVariant { kind: $kind, value: other.to_owned() }),
                }
            }
        }
    };
}

string_enum!(
    /// Who wrote a message.
    Sender, "sender" {
        /// The buyer.
        Client = "client",
        /// The seller (through the portal, this app, or any other API client).
        Seller = "seller",
        /// Wildberries itself, e.g. the template that opens a negative-review chat.
        Wb = "wb",
    }
);

impl Sender {
    /// A message from the platform rather than from a person in the conversation.
    pub fn is_platform(self) -> bool {
        self == Sender::Wb
    }
}

string_enum!(
    /// Where a reply stands in the outbox: `queued → sending → sent | failed | unknown`.
    OutboxState, "outbox state" {
        /// Stored, waiting for its turn (and the rate budget).
        Queued = "queued",
        /// The request is (or may be) on its way; a crash here makes it `unknown`.
        Sending = "sending",
        /// WB has it: it answered 200, or its echo event was found.
        Sent = "sent",
        /// WB refused it for good (moderation, validation, token); the reason is kept.
        Failed = "failed",
        /// The request left but no answer came (timeout, reset, crash): resolved by the echo
        /// event, or re-sent once WB provably does not have it.
        Unknown = "unknown",
    }
);

impl OutboxState {
    /// No further transitions.
    pub fn is_final(self) -> bool {
        matches!(self, OutboxState::Sent | OutboxState::Failed)
    }
}

string_enum!(
    /// What kind of file a message carries.
    AttachmentKind, "attachment kind" {
        Image = "image",
        File = "file",
    }
);

string_enum!(
    /// Which marketplace a connected account belongs to.
    Marketplace, "marketplace" {
        Wildberries = "wildberries",
    }
);

string_enum!(
    /// The health of a connected marketplace account, as operators see it.
    AccountState, "account state" {
        /// Polled normally.
        Active = "active",
        /// WB answered 401/403: polling stops until an operator replaces the token.
        TokenInvalid = "token_invalid",
        /// WB answered 429: polling resumes after the advised pause.
        RateLimited = "rate_limited",
        /// Something else failed (network, 5xx); polling backs off and retries.
        Error = "error",
    }
);

impl AccountState {
    /// Whether the sync engine should keep polling an account in this state.
    pub fn is_pollable(self) -> bool {
        self != AccountState::TokenInvalid
    }
}

/// The product (and order) a chat is about: WB's `goodCard`. Every field is optional because
/// WB does not promise any of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoodCard {
    /// WB article (`nmID`).
    pub nm_id: Option<i64>,
    /// Order id (`rid`), the same as `srid` in WB's order and return reports.
    pub rid: Option<String>,
    /// Price in whole currency units, as WB sends it.
    pub price: Option<i64>,
    /// ISO currency code, e.g. `RUB`.
    pub price_currency: Option<String>,
    /// WB size label.
    pub size: Option<String>,
}

impl GoodCard {
    /// True when the card carries no information at all.
    pub fn is_empty(&self) -> bool {
        self.nm_id.is_none()
            && self.rid.is_none()
            && self.price.is_none()
            && self.price_currency.is_none()
            && self.size.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_forms_round_trip() {
        for s in Sender::ALL {
            assert_eq!(s.as_str().parse::<Sender>(), Ok(*s));
        }
        for s in AccountState::ALL {
            assert_eq!(s.as_str().parse::<AccountState>(), Ok(*s));
        }
        for m in Marketplace::ALL {
            assert_eq!(m.as_str().parse::<Marketplace>(), Ok(*m));
        }
        for k in AttachmentKind::ALL {
            assert_eq!(k.as_str().parse::<AttachmentKind>(), Ok(*k));
        }
        assert_eq!(
            "buyer".parse::<Sender>(),
            Err(UnknownVariant {
                kind: "sender",
                value: "buyer".into()
            })
        );
        assert_eq!(
            serde_json::to_string(&AccountState::TokenInvalid).ok(),
            Some("\"token_invalid\"".to_owned())
        );
    }

    #[test]
    fn platform_and_pollable() {
        assert!(Sender::Wb.is_platform());
        assert!(!Sender::Client.is_platform());
        assert!(AccountState::RateLimited.is_pollable());
        assert!(!AccountState::TokenInvalid.is_pollable());
        assert!(GoodCard::default().is_empty());
    }
}
