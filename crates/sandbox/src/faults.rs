//! Fault injection: what can go wrong on WB's side, on purpose.
//!
//! A [`FaultSpec`] is parsed from the CLI's `--faults` or `POST /_sandbox/faults`: a comma list
//! of `kind=probability` (a bare kind means always). It only decides *whether* a fault fires;
//! the HTTP layer (`routes`) decides what each fault does to a request.

use std::fmt;
use std::str::FromStr;

use rand::Rng;

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    /// Answer 500/502/503 without doing anything.
    ServerError,
    /// Answer 429 with WB's headers without doing anything.
    TooManyRequests,
    /// Do not answer for a long time, then 504; nothing done.
    Timeout,
    /// Carry the request out, then reset the connection without an answer.
    DropAfterCommit,
    /// Repeat events in `/events` pages.
    DuplicateEvents,
    /// `/chats` answers an empty list.
    EmptyChats,
}

impl FaultKind {
    pub const ALL: [FaultKind; 6] = [
        FaultKind::ServerError,
        FaultKind::TooManyRequests,
        FaultKind::Timeout,
        FaultKind::DropAfterCommit,
        FaultKind::DuplicateEvents,
        FaultKind::EmptyChats,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::ServerError => "5xx",
            FaultKind::TooManyRequests => "429",
            FaultKind::Timeout => "timeout",
            FaultKind::DropAfterCommit => "drop_after_commit",
            FaultKind::DuplicateEvents => "duplicate_events",
            FaultKind::EmptyChats => "empty_chats",
        }
    }
}

/// Why a fault spec was rejected; the message names the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultSpecError {
    #[error(
        "unknown fault kind {0:?}; known: 5xx, 429, timeout, drop_after_commit, duplicate_events, empty_chats"
    )]
    UnknownKind(String),
    #[error("fault {kind:?}: probability {value:?} is not a number between 0 and 1")]
    BadProbability { kind: String, value: String },
}

/// The set of active faults with their probabilities (0 < p ≤ 1).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSpec {
    probabilities: Vec<(FaultKind, f64)>,
}

impl FaultSpec {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn probability(&self, kind: FaultKind) -> f64 {
        self.probabilities
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0.0, |(_, p)| *p)
    }

    /// Rolls the dice for one fault kind.
    pub fn fires(&self, kind: FaultKind, rng: &mut impl Rng) -> bool {
        let p = self.probability(kind);
        p > 0.0 && (p >= 1.0 || rng.random_bool(p))
    }

    pub fn is_empty(&self) -> bool {
        self.probabilities.is_empty()
    }
}

impl FromStr for FaultSpec {
    type Err = FaultSpecError;

    fn from_str(s: &str) -> Result<Self, FaultSpecError> {
        let mut probabilities: Vec<(FaultKind, f64)> = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = match part.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (part, None),
            };
            let kind = FaultKind::ALL
                .into_iter()
                .find(|k| k.name().eq_ignore_ascii_case(name))
                .ok_or_else(|| FaultSpecError::UnknownKind(name.to_owned()))?;
            let p = match value {
                None => 1.0,
                Some(v) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|p| (0.0..=1.0).contains(p))
                    .ok_or_else(|| FaultSpecError::BadProbability {
                        kind: name.to_owned(),
                        value: v.to_owned(),
                    })?,
            };
            probabilities.retain(|(k, _)| *k != kind);
            if p > 0.0 {
                probabilities.push((kind, p));
            }
        }
        probabilities.sort_by_key(|(k, _)| *k);
        Ok(Self { probabilities })
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .probabilities
            .iter()
            .map(|(k, p)| format!("{}={}", k.name(), p))
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let spec: FaultSpec =
            "5xx=0.1,429=0.05,timeout=0.05,drop_after_commit=0.1,duplicate_events=0.2,empty_chats"
                .parse()
                .expect("valid spec");
        assert_eq!(spec.probability(FaultKind::ServerError), 0.1);
        assert_eq!(spec.probability(FaultKind::TooManyRequests), 0.05);
        assert_eq!(spec.probability(FaultKind::EmptyChats), 1.0);
        assert_eq!(
            spec.to_string(),
            "5xx=0.1,429=0.05,timeout=0.05,drop_after_commit=0.1,duplicate_events=0.2,empty_chats=1"
        );
    }

    #[test]
    fn empty_spec_means_no_faults() {
        let spec: FaultSpec = " ".parse().expect("valid");
        assert!(spec.is_empty());
        let zero: FaultSpec = "5xx=0".parse().expect("valid");
        assert!(zero.is_empty());
    }

    #[test]
    fn rejects_unknown_kinds_and_bad_numbers() {
        assert_eq!(
            "explode".parse::<FaultSpec>(),
            Err(FaultSpecError::UnknownKind("explode".into()))
        );
        assert!(matches!(
            "5xx=1.5".parse::<FaultSpec>(),
            Err(FaultSpecError::BadProbability { .. })
        ));
        assert!(matches!(
            "5xx=abc".parse::<FaultSpec>(),
            Err(FaultSpecError::BadProbability { .. })
        ));
    }

    #[test]
    fn certain_faults_always_fire_and_absent_never() {
        let spec: FaultSpec = "timeout".parse().expect("valid");
        let mut rng = rand::rng();
        assert!((0..100).all(|_| spec.fires(FaultKind::Timeout, &mut rng)));
        assert!((0..100).all(|_| !spec.fires(FaultKind::ServerError, &mut rng)));
    }
}
