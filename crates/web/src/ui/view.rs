//! What the templates show: the store's rows turned into ready-to-print Russian strings.
//! Templates escape everything they print; nothing here produces HTML.

use domain::triage::deadline::{Standing, standing};
use domain::{AccountState, AttachmentKind, OutboxState};
use store::{Account, Chat, Message, OutboxEntry};

use super::sender_view;

/// "5 мин", "2 ч 5 мин", "3 д" for a duration in ms.
pub fn age_label(ms: i64) -> String {
    let mins = ms.max(0) / 60_000;
    if mins < 1 {
        "только что".to_owned()
    } else if mins < 60 {
        format!("{mins} мин")
    } else if mins < 24 * 60 {
        let (h, m) = (mins / 60, mins % 60);
        if m == 0 {
            format!("{h} ч")
        } else {
            format!("{h} ч {m} мин")
        }
    } else {
        format!("{} д", mins / (24 * 60))
    }
}

/// Moscow time (UTC+3, no daylight saving since 2014): "14:30" on the same Moscow day as
/// `now`, else "30.11 14:30".
pub fn moscow_time(ms: i64, now: i64) -> String {
    let offset = time::UtcOffset::from_hms(3, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let at = |ms: i64| {
        time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
            .map(|t| t.to_offset(offset))
            .ok()
    };
    let (Some(t), Some(n)) = (at(ms), at(now)) else {
        return String::new();
    };
    if t.date() == n.date() {
        format!("{:02}:{:02}", t.hour(), t.minute())
    } else {
        format!(
            "{:02}.{:02} {:02}:{:02}",
            t.day(),
            u8::from(t.month()),
            t.hour(),
            t.minute()
        )
    }
}

/// A first-response time for people: "45 с", "12 мин", "1 ч 5 мин", "2 д 3 ч".
pub fn duration_label(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    let mins = secs / 60;
    if secs < 60 {
        format!("{secs} с")
    } else if mins < 60 {
        format!("{mins} мин")
    } else if mins < 24 * 60 {
        match (mins / 60, mins % 60) {
            (h, 0) => format!("{h} ч"),
            (h, m) => format!("{h} ч {m} мин"),
        }
    } else {
        match (mins / (24 * 60), mins % (24 * 60) / 60) {
            (d, 0) => format!("{d} д"),
            (d, h) => format!("{d} д {h} ч"),
        }
    }
}

/// `1990` → `1 990` (narrow no-break spaces between thousands).
fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// One chat in the inbox (also the header of the chat page).
#[derive(Debug)]
pub struct ChatRow {
    pub id: i64,
    pub href: String,
    pub client: String,
    pub account_name: String,
    pub show_account: bool,
    pub preview: String,
    pub unread: i64,
    /// How long the buyer's last message has been unanswered, when it is.
    pub waiting: Option<String>,
    /// `urgent | high | normal` (the CSS class) and its Russian label; whether an operator set it.
    pub priority: &'static str,
    pub priority_label: &'static str,
    pub overridden: bool,
    /// The automatic priority's label (shown when an operator overrode it).
    pub auto_priority_label: &'static str,
    /// `on_time | due_soon | breached | snoozed` or "" when nothing waits (the CSS class).
    pub standing: &'static str,
    /// "осталось 35 мин", "просрочен на 2 ч", "отложен до 14:30".
    pub due_label: Option<String>,
    /// The deadline in Moscow time, for the tooltip.
    pub due_at_label: Option<String>,
    /// "отзыв опубликуется через 2 д 14 ч", "отзыв: ждём ответа покупателя".
    pub review_label: Option<String>,
    /// What the chat is about ("доставка заказа") and how it sounds.
    pub intent_label: Option<&'static str>,
    pub tone_label: Option<&'static str>,
    /// Why: every rule that fired, in Russian.
    pub reasons: Vec<String>,
    /// Product and order: "арт. 123", "заказ …", "1 990 ₽", "размер M".
    pub product: Vec<String>,
    /// Unix ms of the last message (0 when none).
    pub last_at: i64,
    pub last_label: String,
    pub replyable: bool,
    /// Lower-case text the search box matches against while typing.
    pub search: String,
}

impl ChatRow {
    /// `lead`: the workspace's escalation lead (a chat is due soon within it).
    pub fn new(
        c: Chat,
        account_name: &str,
        show_account: bool,
        now: i64,
        lead: std::time::Duration,
    ) -> Self {
        let client = c
            .client_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "Покупатель".to_owned());
        let mut product = Vec::new();
        if let Some(g) = &c.good_card {
            if let Some(nm) = g.nm_id {
                product.push(format!("арт. {nm}"));
            }
            if let Some(rid) = g.rid.as_deref().filter(|r| !r.is_empty()) {
                product.push(format!("заказ {rid}"));
            }
            if let Some(price) = g.price {
                let cur = match g.price_currency.as_deref() {
                    None | Some("RUB") | Some("rub") => "₽".to_owned(),
                    Some(other) => other.to_owned(),
                };
                product.push(format!("{} {cur}", group_thousands(price)));
            }
            if let Some(size) = g.size.as_deref().filter(|s| !s.is_empty() && *s != "0") {
                product.push(format!("размер {size}"));
            }
        }
        // Waiting since the oldest buyer message no seller message has answered.
        let waiting_ms = c.awaiting_since_ms.map(|since| now - since);
        let last_at = c.last_message_at_ms.unwrap_or(0);
        let preview = c.last_message_text.clone().unwrap_or_default();
        let search =
            format!("{client} {account_name} {preview} {}", product.join(" ")).to_lowercase();
        let prio = c.effective_priority();
        let st = standing(c.due_at_ms, c.snoozed_until_ms, now, lead);
        let (standing_class, due_label) = match st {
            Standing::Answered => ("", None),
            Standing::OnTime { left_ms } => {
                ("on_time", Some(format!("осталось {}", age_label(left_ms))))
            }
            Standing::DueSoon { left_ms } => {
                ("due_soon", Some(format!("осталось {}", age_label(left_ms))))
            }
            Standing::Breached { over_ms } => (
                "breached",
                Some(format!("просрочен на {}", age_label(over_ms))),
            ),
            Standing::Snoozed { until_ms, .. } => (
                "snoozed",
                Some(format!("отложен до {}", moscow_time(until_ms, now))),
            ),
        };
        let review_label = c.review.map(|r| match r.closes_at_ms() {
            None => "отзыв: ждём ответа покупателя на шаблон WB".to_owned(),
            Some(closes) if closes > now => {
                format!("отзыв опубликуется через {}", age_label(closes - now))
            }
            Some(_) => "отзыв: 72 часа истекли".to_owned(),
        });
        let note = c.triage.as_ref();
        Self {
            id: c.id.get(),
            href: format!("/chats/{}", c.id),
            client,
            account_name: account_name.to_owned(),
            show_account,
            preview,
            unread: c.unread_count,
            waiting: waiting_ms.map(age_label),
            priority: prio.as_str(),
            priority_label: prio.label(),
            overridden: c.priority_override.is_some(),
            auto_priority_label: c.priority.label(),
            standing: standing_class,
            due_label,
            due_at_label: c.due_at_ms.map(|d| moscow_time(d, now)),
            review_label,
            intent_label: note.and_then(|n| n.intent).map(|i| i.label()),
            tone_label: note.and_then(|n| n.tone).map(|t| t.label()),
            reasons: note
                .map(|n| n.reasons.iter().map(|r| r.explanation.clone()).collect())
                .unwrap_or_default(),
            product,
            last_at,
            last_label: if last_at > 0 {
                age_label(now - last_at)
            } else {
                String::new()
            },
            replyable: c.reply_sign.is_some(),
            search,
        }
    }
}

/// A file of a message.
#[derive(Debug)]
pub struct AttachmentView {
    pub href: Option<String>,
    pub is_image: bool,
    pub name: String,
}

/// One entry of the conversation: a stored message, or a reply still in the outbox.
#[derive(Debug)]
pub struct FeedItem {
    /// `buyer | seller | wb` (the CSS class).
    pub class: &'static str,
    pub who: &'static str,
    pub text: String,
    pub at: i64,
    pub time_label: String,
    pub attachments: Vec<AttachmentView>,
    /// For an outbox entry: its id and state.
    pub outbox_id: Option<i64>,
    pub state: &'static str,
    pub state_label: &'static str,
    pub error: Option<String>,
    pub files: Vec<String>,
}

impl FeedItem {
    pub fn message(m: Message, now: i64) -> Self {
        let (class, who) = sender_view(m.sender);
        let attachments = m
            .attachments
            .into_iter()
            .map(|a| AttachmentView {
                href: a.id.map(|id| format!("/api/v1/attachments/{id}")),
                is_image: a.kind == AttachmentKind::Image,
                name: a.name.unwrap_or_else(|| match a.kind {
                    AttachmentKind::Image => "изображение".to_owned(),
                    AttachmentKind::File => "файл".to_owned(),
                }),
            })
            .collect();
        Self {
            class,
            who,
            text: m.text,
            at: m.add_timestamp_ms,
            time_label: age_label(now - m.add_timestamp_ms),
            attachments,
            outbox_id: None,
            state: "",
            state_label: "",
            error: None,
            files: Vec::new(),
        }
    }

    pub fn pending(e: OutboxEntry, now: i64) -> Self {
        let (state, state_label) = outbox_state_view(e.state);
        Self {
            class: "seller",
            who: "Вы",
            text: e.text,
            at: e.created_at_ms,
            time_label: age_label(now - e.created_at_ms),
            attachments: Vec::new(),
            outbox_id: Some(e.id.get()),
            state,
            state_label,
            error: e.error,
            files: e.file_names,
        }
    }

    pub fn is_failed(&self) -> bool {
        self.state == "failed"
    }
}

pub fn outbox_state_view(s: OutboxState) -> (&'static str, &'static str) {
    match s {
        OutboxState::Queued => ("queued", "в очереди"),
        OutboxState::Sending => ("sending", "отправляется"),
        OutboxState::Sent => ("sent", "отправлено"),
        OutboxState::Failed => ("failed", "не отправлено"),
        OutboxState::Unknown => ("unknown", "проверяем доставку"),
    }
}

/// One connected account on `/accounts`.
#[derive(Debug)]
pub struct AccountRow {
    pub id: i64,
    pub name: String,
    pub state: &'static str,
    pub state_label: &'static str,
    pub last_error: Option<String>,
    pub last_sync: String,
    pub last_sync_at: i64,
    pub api_base_url: Option<String>,
}

impl AccountRow {
    pub fn new(a: Account, now: i64) -> Self {
        let state_label = match a.state {
            AccountState::Active => "активен",
            AccountState::TokenInvalid => "токен недействителен",
            AccountState::RateLimited => "лимит запросов WB",
            AccountState::Error => "ошибка",
        };
        Self {
            id: a.id.get(),
            name: a.name,
            state: a.state.as_str(),
            state_label,
            last_error: a.last_error.filter(|e| !e.is_empty()),
            last_sync: a.last_sync_at_ms.map_or_else(
                || "ещё не было".to_owned(),
                |t| format!("{} назад", age_label(now - t)),
            ),
            last_sync_at: a.last_sync_at_ms.unwrap_or(0),
            api_base_url: a.api_base_url,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands() {
        assert_eq!(group_thousands(990), "990");
        assert_eq!(group_thousands(1990), "1\u{202f}990");
        assert_eq!(group_thousands(1_234_567), "1\u{202f}234\u{202f}567");
    }
}
