//! The sandbox's world: sellers, their chats, event feeds and files — WB's side of the truth.
//!
//! Everything here is plain data with methods; no HTTP and no clocks (callers pass `now_ms`),
//! so the rules are unit-tested directly. Per seller, event timestamps are strictly increasing,
//! which is what makes WB's cursor (`next` = the last event's `addTimestamp`) lossless.

use std::collections::HashMap;

use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::moderation::{self, FileKind, Rejection};
use crate::wire;

/// Who wrote a message, as WB's `sender`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    Client,
    Seller,
    Wb,
}

impl Sender {
    pub fn as_str(self) -> &'static str {
        match self {
            Sender::Client => "client",
            Sender::Seller => "seller",
            Sender::Wb => "wb",
        }
    }
}

/// Where a message was written, as WB's `source`.
pub mod source {
    pub const SELLER_PUBLIC_API: &str = "seller-public-api";
    pub const SELLER_PORTAL: &str = "seller-portal";
    pub const RUSITE: &str = "rusite";
    pub const ANDROID: &str = "android";
    pub const IOS: &str = "ios";
}

/// A file's moderation state on WB's side, which decides what a download answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moderation {
    Approved,
    /// Answers 202 this many more times, then the file is approved.
    Pending {
        polls_left: u32,
    },
    Blocked,
}

#[derive(Debug, Clone)]
pub struct Blob {
    pub name: String,
    pub kind: FileKind,
    pub bytes: Bytes,
    pub added_ms: i64,
    pub moderation: Moderation,
}

#[derive(Debug, Clone)]
pub struct ChatRec {
    pub chat_id: String,
    pub reply_sign: String,
    pub client_name: String,
    pub good_card: Option<wire::GoodCard>,
    /// Index of the chat's first event; a chat is visible only once it has one.
    pub first_event: Option<usize>,
    pub last_event: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct EventRec {
    pub event_id: String,
    pub chat: usize,
    pub is_new_chat: bool,
    pub sender: Sender,
    pub source: &'static str,
    pub text: String,
    pub ts: i64,
    pub attachments: Vec<String>,
}

/// A file to attach to a new message.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub name: String,
    pub bytes: Bytes,
    pub kind: FileKind,
    pub moderation: Moderation,
}

/// What a download request gets.
#[derive(Debug)]
pub enum DownloadOutcome {
    Ready(Blob),
    Pending { retry_seconds: u64 },
    Blocked,
    NotFound,
}

/// How long a client should wait before asking again for a file in moderation. WB says 30 s;
/// the sandbox keeps demos and tests snappy.
pub const PENDING_RETRY_SECONDS: u64 = 2;

#[derive(Debug)]
pub struct Seller {
    pub index: usize,
    pub token: String,
    pub chats: Vec<ChatRec>,
    chat_by_id: HashMap<String, usize>,
    chat_by_sign: HashMap<String, usize>,
    pub events: Vec<EventRec>,
    blobs: HashMap<String, Blob>,
    last_ts: i64,
    rng: ChaCha8Rng,
}

/// A UUID-shaped random id (8-4-4-4-12 hex) from a seeded generator, so seeded worlds repeat.
pub fn uuid_like(rng: &mut impl Rng) -> String {
    let a: u128 = rng.random();
    let h = format!("{a:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub fn rfc3339_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

impl Seller {
    pub fn new(index: usize, token: String, seed: u64) -> Self {
        Self {
            index,
            token,
            chats: Vec::new(),
            chat_by_id: HashMap::new(),
            chat_by_sign: HashMap::new(),
            events: Vec::new(),
            blobs: HashMap::new(),
            last_ts: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Creates a chat; it shows in `/chats` and `/events` once its first message exists.
    pub fn create_chat(&mut self, client_name: &str, good_card: Option<wire::GoodCard>) -> usize {
        let chat_id = format!("1:{}", uuid_like(&mut self.rng));
        let number: u32 = self.rng.random_range(10_000_000..99_999_999);
        let hex: String = (0..4)
            .map(|_| format!("{:032x}", self.rng.random::<u128>()))
            .collect();
        let reply_sign = format!("{chat_id}:{number}:{hex}");
        let idx = self.chats.len();
        self.chat_by_id.insert(chat_id.clone(), idx);
        self.chat_by_sign.insert(reply_sign.clone(), idx);
        self.chats.push(ChatRec {
            chat_id,
            reply_sign,
            client_name: client_name.to_owned(),
            good_card,
            first_event: None,
            last_event: None,
        });
        idx
    }

    pub fn chat_index(&self, chat_id: &str) -> Option<usize> {
        self.chat_by_id.get(chat_id).copied()
    }

    pub fn chat_by_reply_sign(&self, reply_sign: &str) -> Option<usize> {
        self.chat_by_sign.get(reply_sign).copied()
    }

    /// The timestamp a new event gets: `now`, but always after the previous event.
    fn next_ts(&mut self, now_ms: i64) -> i64 {
        let ts = now_ms.max(self.last_ts + 1);
        self.last_ts = ts;
        ts
    }

    /// Appends a message to a chat's feed and returns the event's index.
    pub fn append(
        &mut self,
        chat: usize,
        sender: Sender,
        source: &'static str,
        text: &str,
        files: Vec<NewFile>,
        now_ms: i64,
    ) -> usize {
        let ts = self.next_ts(now_ms);
        let mut attachments = Vec::with_capacity(files.len());
        for f in files {
            let id = uuid_like(&mut self.rng);
            self.blobs.insert(
                id.clone(),
                Blob {
                    name: f.name,
                    kind: f.kind,
                    bytes: f.bytes,
                    added_ms: ts,
                    moderation: f.moderation,
                },
            );
            attachments.push(id);
        }
        let idx = self.events.len();
        let is_new_chat = self.chats[chat].first_event.is_none();
        if is_new_chat {
            self.chats[chat].first_event = Some(idx);
        }
        self.chats[chat].last_event = Some(idx);
        let event_id = uuid_like(&mut self.rng);
        self.events.push(EventRec {
            event_id,
            chat,
            is_new_chat,
            sender,
            source,
            text: text.to_owned(),
            ts,
            attachments,
        });
        idx
    }

    /// WB's `POST /message`: moderation first, then the message joins the chat's feed.
    pub fn send(
        &mut self,
        reply_sign: &str,
        text: &str,
        files: &[(String, Bytes)],
        now_ms: i64,
    ) -> Result<usize, Rejection> {
        let chat = self
            .chat_by_reply_sign(reply_sign)
            .filter(|c| self.chats[*c].first_event.is_some())
            .ok_or_else(|| Rejection {
                detail: "invalid replySign: chat not found".into(),
            })?;
        if text.trim().is_empty() && files.is_empty() {
            return Err(Rejection {
                detail: "message is empty: send text or at least one file".into(),
            });
        }
        moderation::check_text(text)?;
        let kinds = moderation::check_files(files.iter().map(|(n, b)| (n.as_str(), &b[..])))?;
        let files = files
            .iter()
            .zip(kinds)
            .map(|((name, bytes), kind)| NewFile {
                name: name.clone(),
                bytes: bytes.clone(),
                kind,
                moderation: Moderation::Approved,
            })
            .collect();
        Ok(self.append(
            chat,
            Sender::Seller,
            source::SELLER_PUBLIC_API,
            text,
            files,
            now_ms,
        ))
    }

    /// The events after `next` (all without it), at most `page_size`.
    pub fn events_after(&self, next: Option<i64>, page_size: usize) -> &[EventRec] {
        let start = match next {
            Some(n) => self.events.partition_point(|e| e.ts <= n),
            None => 0,
        };
        let end = (start + page_size).min(self.events.len());
        &self.events[start..end]
    }

    /// WB's `GET /download/{id}`; a pending file counts down one poll per request.
    pub fn download(&mut self, id: &str) -> DownloadOutcome {
        let Some(blob) = self.blobs.get_mut(id) else {
            return DownloadOutcome::NotFound;
        };
        match blob.moderation {
            Moderation::Approved => DownloadOutcome::Ready(blob.clone()),
            Moderation::Blocked => DownloadOutcome::Blocked,
            Moderation::Pending { polls_left } => {
                blob.moderation = if polls_left <= 1 {
                    Moderation::Approved
                } else {
                    Moderation::Pending {
                        polls_left: polls_left - 1,
                    }
                };
                DownloadOutcome::Pending {
                    retry_seconds: PENDING_RETRY_SECONDS,
                }
            }
        }
    }

    pub fn blob(&self, id: &str) -> Option<&Blob> {
        self.blobs.get(id)
    }

    pub fn chat_wire(&self, chat: &ChatRec) -> wire::Chat {
        wire::Chat {
            chat_id: chat.chat_id.clone(),
            reply_sign: chat.reply_sign.clone(),
            client_name: chat.client_name.clone(),
            good_card: chat.good_card.clone(),
            last_message: chat.last_event.map(|i| wire::LastMessage {
                text: self.events[i].text.clone(),
                add_timestamp: self.events[i].ts,
            }),
        }
    }

    /// An event as WB sends it; `base_url` makes the attachments' `url`s absolute.
    pub fn event_wire(&self, e: &EventRec, base_url: &str) -> wire::Event {
        let chat = &self.chats[e.chat];
        let mut files = Vec::new();
        let mut images = Vec::new();
        for id in &e.attachments {
            let Some(blob) = self.blobs.get(id) else {
                continue;
            };
            let url = format!("{base_url}/api/v1/seller/download/{id}");
            let date = rfc3339_ms(blob.added_ms);
            if blob.kind.is_image() {
                images.push(wire::Image {
                    date,
                    download_id: id.clone(),
                    url,
                });
            } else {
                files.push(wire::File {
                    content_type: blob.kind.content_type().to_owned(),
                    date,
                    download_id: id.clone(),
                    name: blob.name.clone(),
                    url,
                    size: i64::try_from(blob.bytes.len()).unwrap_or(i64::MAX),
                });
            }
        }
        let good_card = if e.is_new_chat {
            chat.good_card.clone()
        } else {
            None
        };
        let attachments = (good_card.is_some() || !files.is_empty() || !images.is_empty())
            .then_some(wire::Attachments {
                good_card,
                files,
                images,
            });
        wire::Event {
            chat_id: chat.chat_id.clone(),
            event_id: e.event_id.clone(),
            event_type: "message",
            is_new_chat: e.is_new_chat,
            message: wire::EventMessage {
                text: e.text.clone(),
                attachments,
            },
            source: e.source,
            add_timestamp: e.ts,
            add_time: rfc3339_ms(e.ts),
            reply_sign: e.is_new_chat.then(|| chat.reply_sign.clone()),
            sender: e.sender.as_str(),
            client_name: chat.client_name.clone(),
        }
    }
}

/// All sellers of one sandbox, found by token.
#[derive(Debug, Default)]
pub struct World {
    pub sellers: Vec<Seller>,
    by_token: HashMap<String, usize>,
}

impl World {
    pub fn add_seller(&mut self, seller: Seller) {
        self.by_token
            .insert(seller.token.clone(), self.sellers.len());
        self.sellers.push(seller);
    }

    pub fn seller_index(&self, token: &str) -> Option<usize> {
        self.by_token.get(token).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seller() -> Seller {
        let mut s = Seller::new(0, "T".into(), 1);
        let c = s.create_chat("Анна", None);
        for i in 0..5 {
            s.append(
                c,
                Sender::Client,
                source::ANDROID,
                &format!("m{i}"),
                vec![],
                1000,
            );
        }
        s
    }

    #[test]
    fn timestamps_strictly_increase_even_with_a_stuck_clock() {
        let s = seller();
        let ts: Vec<i64> = s.events.iter().map(|e| e.ts).collect();
        assert_eq!(ts, vec![1000, 1001, 1002, 1003, 1004]);
        assert!(s.events[0].is_new_chat);
        assert!(!s.events[1].is_new_chat);
    }

    #[test]
    fn cursor_pages_are_lossless() {
        let s = seller();
        let mut next = None;
        let mut seen = Vec::new();
        loop {
            let page = s.events_after(next, 2);
            if page.is_empty() {
                break;
            }
            next = page.last().map(|e| e.ts);
            seen.extend(page.iter().map(|e| e.text.clone()));
        }
        assert_eq!(seen, vec!["m0", "m1", "m2", "m3", "m4"]);
    }

    #[test]
    fn send_needs_a_known_reply_sign_and_passes_moderation() {
        let mut s = seller();
        let sign = s.chats[0].reply_sign.clone();
        assert!(s.send("nope", "Здравствуйте", &[], 2000).is_err());
        assert!(s.send(&sign, "", &[], 2000).is_err());
        assert!(s.send(&sign, "пишите на a@b.ru", &[], 2000).is_err());
        let idx = s.send(&sign, "Здравствуйте!", &[], 2000).expect("accepted");
        assert_eq!(s.events[idx].sender, Sender::Seller);
        assert_eq!(s.events[idx].source, source::SELLER_PUBLIC_API);
        assert_eq!(s.events.len(), 6);
    }

    #[test]
    fn pending_download_turns_ready() {
        let mut s = seller();
        let pdf = Bytes::from_static(include_bytes!("../assets/buyer-receipt.pdf"));
        let idx = s.append(
            0,
            Sender::Client,
            source::IOS,
            "чек",
            vec![NewFile {
                name: "чек.pdf".into(),
                bytes: pdf,
                kind: FileKind::Pdf,
                moderation: Moderation::Pending { polls_left: 1 },
            }],
            3000,
        );
        let id = s.events[idx].attachments[0].clone();
        assert!(matches!(s.download(&id), DownloadOutcome::Pending { .. }));
        assert!(matches!(s.download(&id), DownloadOutcome::Ready(_)));
        assert!(matches!(s.download("x"), DownloadOutcome::NotFound));
    }

    #[test]
    fn chat_ids_and_signs_have_wb_shape() {
        let s = seller();
        let chat = &s.chats[0];
        assert!(chat.chat_id.starts_with("1:"));
        assert!(chat.reply_sign.starts_with(&format!("{}:", chat.chat_id)));
        assert!(chat.reply_sign.len() <= 255);
    }
}
