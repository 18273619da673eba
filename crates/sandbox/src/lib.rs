//! A faithful emulator of WB's buyer-chat API, for the demo, the tests and the benchmarks.
//!
//! It owns WB's side of the world: sellers (one per token) with their chats, a strictly ordered
//! event feed per seller, files under moderation, WB's rate limit and error bodies, moderation
//! of sent messages, simulated buyers, fault injection, and control routes (`/_sandbox/…`) that
//! tests use to act as buyers and read the ground truth. It must not depend on the `wb` client
//! crate or share its wire types: the two are kept honest by contract tests against WB's own
//! generated SDK. See `docs/sandbox.md` for the routes and the differences from the seed.
//!
//! # Layout
//! * [`model`] — sellers, chats, events, files: plain data and rules, no HTTP.
//! * [`seed`] — deterministic seeded data and Russian buyer texts.
//! * [`moderation`] — what WB rejects on send.
//! * [`faults`] — the fault spec.
//! * [`routes`] — the axum router: WB's routes, control routes, the gate (auth, rate limit,
//!   faults, stats).
//! * [`server`] — the accept loop that can reset a connection on purpose.
//! * [`traffic`] — the buyer simulator.

pub mod faults;
pub mod model;
pub mod moderation;
pub mod routes;
pub mod seed;
pub mod server;
pub mod traffic;
pub mod wire;

mod state;

pub use faults::{FaultKind, FaultSpec, FaultSpecError};
pub use server::{Running, serve, start};
pub use state::{RateLimit, Sandbox, SandboxConfig, SellerSummary};
