//! WB's events and chats, as the `wb` crate decodes them, turned into what the store keeps.
//!
//! Pure functions. An event without a chat id, an event id or a timestamp cannot be stored
//! (it could never be deduplicated or ordered): it is skipped and counted, never guessed.

use domain::{GoodCard, Sender};
use store::{ChatSnapshot, NewAttachment, NewMessage};

/// Converts one page of events; returns the storable messages and how many were skipped.
pub fn messages(events: &[wb::Event]) -> (Vec<NewMessage>, usize) {
    let mut out = Vec::with_capacity(events.len());
    let mut skipped = 0;
    for e in events {
        match message(e) {
            Some(m) => out.push(m),
            None => skipped += 1,
        }
    }
    (out, skipped)
}

fn sender(s: Option<&wb::Sender>) -> Sender {
    match s {
        Some(wb::Sender::Seller) => Sender::Seller,
        Some(wb::Sender::Wb) => Sender::Wb,
        // An unknown sender is shown as the buyer's: missing a buyer message is the worse error.
        _ => Sender::Client,
    }
}

pub fn good_card(g: &wb::GoodCard) -> GoodCard {
    GoodCard {
        nm_id: g.nm_id,
        rid: g.rid.clone(),
        price: g.price,
        price_currency: g.price_currency.clone(),
        size: g.size.clone(),
    }
}

pub fn message(e: &wb::Event) -> Option<NewMessage> {
    let chat_id = e.chat_id.clone()?;
    let event_id = e.event_id.clone()?;
    let add_timestamp_ms = e.add_timestamp?;
    let message = e.message.as_ref();
    let attachments = message.and_then(|m| m.attachments.as_ref());
    let mut files: Vec<NewAttachment> = Vec::new();
    if let Some(a) = attachments {
        for img in &a.images {
            files.push(NewAttachment {
                id: None,
                kind: domain::AttachmentKind::Image,
                download_id: img.download_id.clone(),
                name: None,
                content_type: None,
                size: None,
                url: img.url.clone(),
            });
        }
        for f in &a.files {
            files.push(NewAttachment {
                id: None,
                kind: domain::AttachmentKind::File,
                download_id: f.download_id.clone(),
                name: f.name.clone(),
                content_type: f.content_type.clone(),
                size: f.size.and_then(|s| i64::try_from(s).ok()),
                url: f.url.clone(),
            });
        }
    }
    Some(NewMessage {
        chat_id,
        event_id,
        sender: sender(e.sender.as_ref()),
        source: e
            .source
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        text: message.and_then(|m| m.text.clone()).unwrap_or_default(),
        add_timestamp_ms,
        is_new_chat: e.is_new_chat.unwrap_or(false),
        reply_sign: e.reply_sign.clone(),
        client_name: e.client_name.clone(),
        good_card: attachments
            .and_then(|a| a.good_card.as_ref())
            .map(good_card),
        attachments: files,
    })
}

/// `/chats` entries that can enrich local chats (those with a chat id).
pub fn chat_snapshots(chats: &[wb::Chat]) -> Vec<ChatSnapshot> {
    chats
        .iter()
        .filter_map(|c| {
            Some(ChatSnapshot {
                chat_id: c.chat_id.clone()?,
                reply_sign: c.reply_sign.clone(),
                client_name: c.client_name.clone(),
                good_card: c.good_card.as_ref().map(good_card),
                last_message: c
                    .last_message
                    .as_ref()
                    .and_then(|m| Some((m.text.clone().unwrap_or_default(), m.add_timestamp?))),
            })
        })
        .collect()
}
