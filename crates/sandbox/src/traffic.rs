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

/// One simulated buyer message: a new chat one time in five, otherwise a follow-up.
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
        let chat = seller.create_chat(name, Some(card));
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
