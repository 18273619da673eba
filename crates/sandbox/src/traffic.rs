//! The buyer simulator: buyers who write new chats and follow-ups at a steady rate.

use std::time::Duration;

use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio_util::sync::CancellationToken;

use crate::model::{Moderation, Sender};
use crate::seed;
use crate::state::{Sandbox, lock, now_ms};

/// Writes about `traffic_per_min` buyer messages a minute across all sellers until `stop`.
pub async fn run(sandbox: Sandbox, stop: CancellationToken) {
    let per_min = sandbox.config().traffic_per_min;
    if per_min <= 0.0 {
        return;
    }
    let period = Duration::from_secs_f64(60.0 / per_min);
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rng = StdRng::seed_from_u64(sandbox.config().seed ^ 0x7aff1c);
    loop {
        tokio::select! {
            _ = ticker.tick() => step(&sandbox, &mut rng),
            () = stop.cancelled() => return,
        }
    }
}

/// Review texts of buyers who rated under 4 stars.
const LOW_REVIEWS: &[&str] = &[
    "Маломерит на два размера, ткань тонкая",
    "Пришло с пятном, продавец не отвечает",
    "Через неделю сломалась молния",
    "Цвет совсем не как на фото",
];

/// One simulated buyer message: a new chat one time in five (one new chat in ten of those is
/// WB's negative-review chat: its template first, the buyer's own words come as follow-ups),
/// otherwise a follow-up.
pub fn step(sandbox: &Sandbox, rng: &mut StdRng) {
    let mut world = lock(&sandbox.inner.world);
    if world.sellers.is_empty() {
        return;
    }
    let n = world.sellers.len();
    let seller = &mut world.sellers[rng.random_range(0..n)];
    let started: Vec<usize> = (0..seller.chats.len())
        .filter(|i| seller.chats[*i].first_event.is_some())
        .collect();
    let photo = rng
        .random_bool(0.1)
        .then(|| seed::photo(Moderation::Approved));
    let now = now_ms();
    if started.is_empty() || rng.random_bool(0.2) {
        let name = seed::client_name(rng);
        let card = seed::good_card(rng);
        let nm_id = card.nm_id;
        let chat = seller.create_chat(name, Some(card));
        if rng.random_bool(0.1) {
            let rating = rng.random_range(1..=3);
            let review = LOW_REVIEWS[rng.random_range(0..LOW_REVIEWS.len())];
            let text = seed::negative_review_template(rating, nm_id, review);
            seller.append(
                chat,
                Sender::Wb,
                crate::model::source::RUSITE,
                &text,
                Vec::new(),
                now,
            );
            return;
        }
        let text = seed::first_message(rng);
        let src = seed::buyer_source(rng);
        seller.append(
            chat,
            Sender::Client,
            src,
            text,
            photo.into_iter().collect(),
            now,
        );
    } else {
        let chat = started[rng.random_range(0..started.len())];
        let text = seed::follow_up(rng);
        let src = seed::buyer_source(rng);
        seller.append(
            chat,
            Sender::Client,
            src,
            text,
            photo.into_iter().collect(),
            now,
        );
    }
}
