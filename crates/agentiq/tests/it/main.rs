//! End-to-end tests of the `agentiq` binary: real processes, a real sandbox on loopback,
//! SIGKILL at random moments, and the store compared with the sandbox's ground truth.

mod crash;
mod files;
mod outbox;
mod support;
