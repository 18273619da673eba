//! Deadlines: when a chat must be answered, WB's 72-hour negative-review window, snoozing, and
//! when to escalate. Pure functions of times in Unix milliseconds; the caller supplies "now".
//!
//! * A chat waits from its oldest unanswered buyer message — or from WB's negative-review
//!   template until the seller writes — and its **deadline** is that moment plus the SLA of its
//!   priority ([`schedule`]). In a negative-review chat the deadline never falls after the
//!   review window closes.
//! * The **review window** ([`ReviewWindow`]) opens when the buyer first replies to WB's
//!   template and closes 72 hours later: then the review is published as it stands.
//! * **Snoozing** hides a waiting chat until a time: its place in the queue
//!   ([`Schedule::queue_at_ms`]) becomes the later of deadline and snooze, and escalation waits
//!   for the snooze to end. A new buyer message ends a snooze (the store does that).
//! * **Escalation** ([`escalation_plan`]) fires at most once per (chat, kind, key): a new
//!   negative-review chat, a deadline `lead` away, a deadline passed. The key is the review's
//!   opening time or the deadline, so a new deadline (a new question) escalates again.

use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Priority, Reason, Sla, normalize};

/// How long a buyer has, after first replying to WB's template, before a negative review is
/// published: 72 hours.
pub const REVIEW_WINDOW: Duration = Duration::from_secs(72 * 3600);

/// How long before a deadline escalation warns, by default: 15 minutes.
pub const DEFAULT_ESCALATION_LEAD: Duration = Duration::from_secs(15 * 60);

/// `Duration` → milliseconds, saturating.
pub fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A priority name that is not `urgent`, `high` or `normal`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown priority {0:?} (expected urgent, high or normal)")]
pub struct UnknownPriority(pub String);

impl FromStr for Priority {
    type Err = UnknownPriority;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "urgent" => Ok(Priority::Urgent),
            "high" => Ok(Priority::High),
            "normal" => Ok(Priority::Normal),
            other => Err(UnknownPriority(other.to_owned())),
        }
    }
}

impl Priority {
    /// The more urgent of two priorities.
    pub fn most_urgent(self, other: Priority) -> Priority {
        self.min(other)
    }

    /// The Russian label the operator sees.
    pub fn label(self) -> &'static str {
        match self {
            Priority::Urgent => "срочно",
            Priority::High => "высокий",
            Priority::Normal => "обычный",
        }
    }
}

/// Whether a platform (`sender: "wb"`) message is WB's template that opens a chat over a
/// negative review: it speaks of the buyer's review or rating. Other platform notices (order
/// status and the like) are not.
pub fn is_negative_review_template(text: &str) -> bool {
    let norm = normalize(text);
    norm.split(' ')
        .any(|w| w.starts_with("отзыв") || w.starts_with("оценк") || w.starts_with("оценил"))
}

/// The reason shown on a chat WB opened over a negative review.
pub fn negative_review_reason() -> Reason {
    Reason {
        rule: "priority_wb_negative_review",
        matched: "wb".to_owned(),
        explanation: "чат открыт WB по негативному отзыву → срочно; после первого ответа \
                      покупателя есть 72 часа, чтобы решить вопрос до публикации отзыва"
            .to_owned(),
    }
}

/// WB's negative-review window of one chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewWindow {
    /// When WB's template message arrived.
    pub opened_at_ms: i64,
    /// The buyer's first message after the template: the 72 hours start here.
    pub buyer_replied_at_ms: Option<i64>,
}

impl ReviewWindow {
    /// When the review gets published unless resolved: 72 h after the buyer's first reply;
    /// `None` while the buyer has not replied (the clock has not started).
    pub fn closes_at_ms(&self) -> Option<i64> {
        self.buyer_replied_at_ms
            .map(|at| at.saturating_add(ms(REVIEW_WINDOW)))
    }

    /// Whether the window is still worth acting on at `now`: it closes in the future, or the
    /// buyer has not replied yet and the template is less than 72 hours old.
    pub fn is_open(&self, now_ms: i64) -> bool {
        match self.closes_at_ms() {
            Some(closes) => now_ms < closes,
            None => now_ms < self.opened_at_ms.saturating_add(ms(REVIEW_WINDOW)),
        }
    }
}

/// What the schedule of a chat depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatTimes {
    /// Waiting for a seller reply since (see the module docs); `None` when nothing waits.
    pub awaiting_since_ms: Option<i64>,
    /// The priority in force: the operator's override, else the automatic one.
    pub priority: Priority,
    pub review: Option<ReviewWindow>,
    pub snoozed_until_ms: Option<i64>,
}

/// Where a chat stands in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Schedule {
    /// The answer is due by then; `None` when nothing waits.
    pub due_at_ms: Option<i64>,
    /// The queue's sort key: the deadline, or the end of a snooze when that is later; `None`
    /// when nothing waits (the chat leaves the queue).
    pub queue_at_ms: Option<i64>,
}

/// The deadline and queue position of a chat.
pub fn schedule(times: &ChatTimes, sla: &Sla) -> Schedule {
    let Some(since) = times.awaiting_since_ms else {
        return Schedule::default();
    };
    let mut due = since.saturating_add(ms(sla.for_priority(times.priority)));
    if let Some(closes) = times.review.and_then(|r| r.closes_at_ms()) {
        due = due.min(closes.max(since));
    }
    let queue = match times.snoozed_until_ms {
        Some(until) if until > due => until,
        _ => due,
    };
    Schedule {
        due_at_ms: Some(due),
        queue_at_ms: Some(queue),
    }
}

/// How a chat stands at a moment, for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Nothing waits for an answer.
    Answered,
    /// Snoozed until then (the deadline may pass meanwhile).
    Snoozed { until_ms: i64, due_at_ms: i64 },
    /// Due later than `lead` from now.
    OnTime { left_ms: i64 },
    /// Due within `lead`.
    DueSoon { left_ms: i64 },
    /// The deadline has passed.
    Breached { over_ms: i64 },
}

impl Standing {
    /// The stable string form used by the API.
    pub fn as_str(&self) -> &'static str {
        match self {
            Standing::Answered => "answered",
            Standing::Snoozed { .. } => "snoozed",
            Standing::OnTime { .. } => "on_time",
            Standing::DueSoon { .. } => "due_soon",
            Standing::Breached { .. } => "breached",
        }
    }
}

/// Where a chat with deadline `due` (and maybe a snooze) stands at `now`.
pub fn standing(
    due_at_ms: Option<i64>,
    snoozed_until_ms: Option<i64>,
    now_ms: i64,
    lead: Duration,
) -> Standing {
    let Some(due) = due_at_ms else {
        return Standing::Answered;
    };
    if let Some(until) = snoozed_until_ms.filter(|u| *u > now_ms) {
        return Standing::Snoozed {
            until_ms: until,
            due_at_ms: due,
        };
    }
    let left = due.saturating_sub(now_ms);
    if left <= 0 {
        Standing::Breached { over_ms: -left }
    } else if left <= ms(lead) {
        Standing::DueSoon { left_ms: left }
    } else {
        Standing::OnTime { left_ms: left }
    }
}

/// Why a chat is escalated. The string forms are stable (API, webhook `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationKind {
    /// WB opened a chat over a negative review.
    NegativeReview,
    /// The deadline is within the escalation lead.
    DueSoon,
    /// The deadline has passed without an answer.
    Breached,
}

impl EscalationKind {
    pub const ALL: &'static [EscalationKind] = &[
        EscalationKind::NegativeReview,
        EscalationKind::DueSoon,
        EscalationKind::Breached,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EscalationKind::NegativeReview => "negative_review",
            EscalationKind::DueSoon => "due_soon",
            EscalationKind::Breached => "breached",
        }
    }

    /// The Russian title of the notification.
    pub fn title(self) -> &'static str {
        match self {
            EscalationKind::NegativeReview => "Новый чат по негативному отзыву",
            EscalationKind::DueSoon => "Скоро истечёт срок ответа",
            EscalationKind::Breached => "Срок ответа истёк",
        }
    }
}

impl FromStr for EscalationKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EscalationKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown escalation kind {s:?}"))
    }
}

/// What a chat needs at `now`: escalations to fire, each with its key (the review's opening
/// time, or the deadline), and when to look again.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EscalationPlan {
    pub fire: Vec<(EscalationKind, i64)>,
    pub next_at_ms: Option<i64>,
}

/// Everything [`escalation_plan`] looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscalationInput {
    pub due_at_ms: Option<i64>,
    pub snoozed_until_ms: Option<i64>,
    pub review: Option<ReviewWindow>,
    pub now_ms: i64,
    pub lead: Duration,
}

/// Which escalations are due for a chat at `now`. Firing the same (kind, key) twice must be
/// a no-op for the caller (the store keeps them unique), so this may be asked repeatedly.
pub fn escalation_plan(input: &EscalationInput) -> EscalationPlan {
    let mut plan = EscalationPlan::default();
    if let Some(review) = input.review.filter(|r| r.is_open(input.now_ms)) {
        plan.fire
            .push((EscalationKind::NegativeReview, review.opened_at_ms));
    }
    let Some(due) = input.due_at_ms else {
        return plan;
    };
    if let Some(until) = input.snoozed_until_ms.filter(|u| *u > input.now_ms) {
        plan.next_at_ms = Some(until);
        return plan;
    }
    let warn_at = due.saturating_sub(ms(input.lead));
    if input.now_ms >= due {
        plan.fire.push((EscalationKind::Breached, due));
    } else if input.now_ms >= warn_at {
        plan.fire.push((EscalationKind::DueSoon, due));
        plan.next_at_ms = Some(due);
    } else {
        plan.next_at_ms = Some(warn_at);
    }
    plan
}

/// When the escalation scanner should first look at a chat with this schedule: when the
/// warning is due (not before a snooze ends), or at once for a new negative-review chat.
pub fn first_escalation_at(
    due_at_ms: Option<i64>,
    snoozed_until_ms: Option<i64>,
    lead: Duration,
    new_review_at_ms: Option<i64>,
) -> Option<i64> {
    let warn = due_at_ms.map(|due| {
        let at = due.saturating_sub(ms(lead));
        snoozed_until_ms.map_or(at, |u| at.max(u))
    });
    match (warn, new_review_at_ms) {
        (Some(w), Some(r)) => Some(w.min(r)),
        (w, r) => w.or(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    const M: i64 = 60_000;

    fn times(since: Option<i64>, priority: Priority) -> ChatTimes {
        ChatTimes {
            awaiting_since_ms: since,
            priority,
            review: None,
            snoozed_until_ms: None,
        }
    }

    #[test]
    fn deadline_is_wait_plus_sla_of_the_priority() {
        let sla = Sla::default();
        assert_eq!(
            schedule(&times(None, Priority::Urgent), &sla),
            Schedule::default()
        );
        for (p, hours) in [
            (Priority::Urgent, 1),
            (Priority::High, 4),
            (Priority::Normal, 24),
        ] {
            let s = schedule(&times(Some(1_000), p), &sla);
            assert_eq!(s.due_at_ms, Some(1_000 + hours * H), "{p:?}");
            assert_eq!(s.queue_at_ms, s.due_at_ms);
        }
        let custom = Sla {
            urgent: Duration::from_secs(600),
            ..Sla::default()
        };
        assert_eq!(
            schedule(&times(Some(0), Priority::Urgent), &custom).due_at_ms,
            Some(10 * M)
        );
    }

    #[test]
    fn review_window_starts_at_the_buyers_first_reply_and_caps_the_deadline() {
        let mut w = ReviewWindow {
            opened_at_ms: 0,
            buyer_replied_at_ms: None,
        };
        assert_eq!(w.closes_at_ms(), None);
        assert!(w.is_open(71 * H));
        assert!(!w.is_open(72 * H));
        w.buyer_replied_at_ms = Some(10 * H);
        assert_eq!(w.closes_at_ms(), Some(82 * H));
        assert!(w.is_open(81 * H));
        assert!(!w.is_open(82 * H));

        // A normal-priority SLA longer than the window left is cut to the window.
        let t = ChatTimes {
            awaiting_since_ms: Some(81 * H),
            priority: Priority::Normal,
            review: Some(w),
            snoozed_until_ms: None,
        };
        assert_eq!(schedule(&t, &Sla::default()).due_at_ms, Some(82 * H));
    }

    #[test]
    fn snooze_moves_the_queue_position_not_the_deadline() {
        let t = ChatTimes {
            snoozed_until_ms: Some(5 * H),
            ..times(Some(0), Priority::Urgent)
        };
        let s = schedule(&t, &Sla::default());
        assert_eq!(s.due_at_ms, Some(H));
        assert_eq!(s.queue_at_ms, Some(5 * H));
        // A snooze that ends before the deadline changes nothing.
        let t = ChatTimes {
            snoozed_until_ms: Some(H / 2),
            ..t
        };
        assert_eq!(schedule(&t, &Sla::default()).queue_at_ms, Some(H));
    }

    #[test]
    fn standing_counts_down_and_marks_breaches() {
        let lead = DEFAULT_ESCALATION_LEAD;
        assert_eq!(standing(None, None, 0, lead), Standing::Answered);
        assert_eq!(
            standing(Some(H), None, 0, lead),
            Standing::OnTime { left_ms: H }
        );
        assert_eq!(
            standing(Some(H), None, H - 15 * M, lead),
            Standing::DueSoon { left_ms: 15 * M }
        );
        assert_eq!(
            standing(Some(H), None, H, lead),
            Standing::Breached { over_ms: 0 }
        );
        assert_eq!(
            standing(Some(H), Some(2 * H), H + M, lead),
            Standing::Snoozed {
                until_ms: 2 * H,
                due_at_ms: H
            }
        );
        assert_eq!(
            standing(Some(H), Some(2 * H), 2 * H, lead),
            Standing::Breached { over_ms: H }
        );
    }

    #[test]
    fn escalation_warns_then_breaches_once_each() {
        let lead = DEFAULT_ESCALATION_LEAD;
        let at = |now| {
            escalation_plan(&EscalationInput {
                due_at_ms: Some(H),
                snoozed_until_ms: None,
                review: None,
                now_ms: now,
                lead,
            })
        };
        assert_eq!(
            at(0),
            EscalationPlan {
                fire: vec![],
                next_at_ms: Some(H - 15 * M)
            }
        );
        assert_eq!(
            at(H - 10 * M),
            EscalationPlan {
                fire: vec![(EscalationKind::DueSoon, H)],
                next_at_ms: Some(H)
            }
        );
        assert_eq!(
            at(H + 1),
            EscalationPlan {
                fire: vec![(EscalationKind::Breached, H)],
                next_at_ms: None
            }
        );
    }

    #[test]
    fn escalation_waits_for_a_snooze_and_announces_open_reviews() {
        let review = ReviewWindow {
            opened_at_ms: 0,
            buyer_replied_at_ms: Some(M),
        };
        let plan = escalation_plan(&EscalationInput {
            due_at_ms: Some(H),
            snoozed_until_ms: Some(3 * H),
            review: Some(review),
            now_ms: 2 * H,
            lead: DEFAULT_ESCALATION_LEAD,
        });
        assert_eq!(plan.fire, vec![(EscalationKind::NegativeReview, 0)]);
        assert_eq!(plan.next_at_ms, Some(3 * H));
        // A window long closed is not news.
        let plan = escalation_plan(&EscalationInput {
            due_at_ms: None,
            snoozed_until_ms: None,
            review: Some(review),
            now_ms: 100 * H,
            lead: DEFAULT_ESCALATION_LEAD,
        });
        assert_eq!(plan, EscalationPlan::default());
    }

    #[test]
    fn first_look_is_the_warning_or_a_new_review() {
        let lead = DEFAULT_ESCALATION_LEAD;
        assert_eq!(first_escalation_at(None, None, lead, None), None);
        assert_eq!(
            first_escalation_at(Some(H), None, lead, None),
            Some(H - 15 * M)
        );
        assert_eq!(
            first_escalation_at(Some(H), Some(2 * H), lead, None),
            Some(2 * H)
        );
        assert_eq!(first_escalation_at(Some(H), None, lead, Some(5)), Some(5));
        assert_eq!(first_escalation_at(None, None, lead, Some(5)), Some(5));
    }

    #[test]
    fn review_template_is_told_from_other_platform_notices() {
        assert!(is_negative_review_template(
            "Покупатель оставил отзыв с оценкой 2 из 5 на товар 123: «Шов разошёлся». \
             Отзыв будет опубликован через 72 часа."
        ));
        assert!(is_negative_review_template(
            "Здравствуйте! Мы видим, что вы оставили низкую оценку товару."
        ));
        assert!(!is_negative_review_template(
            "Заказ доставлен в пункт выдачи"
        ));
        assert_eq!("high".parse::<Priority>(), Ok(Priority::High));
        assert!("HIGH".parse::<Priority>().is_err());
        assert_eq!(Priority::Normal.most_urgent(Priority::High), Priority::High);
    }
}
