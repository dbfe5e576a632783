//! The chain of calls between one caller and the side that answers it: a hub's pings to the
//! portal, a runner's lease calls to its hub. Each call says which answer the caller holds
//! (the nonce of its latest receipt or lease); the answering side remembers the answer the
//! caller has confirmed holding and the one given since. Two copies of one identity (a
//! cloned VM, a state directory restored on a second machine) cannot both follow the chain:
//! the one that falls behind presents an answer that is neither, and is refused.
//!
//! One honest fork is tolerated: a caller killed after the answer was committed but before
//! it kept the answer presents the confirmed one again ([`Link::Retry`]).

use serde::{Deserialize, Serialize};

use crate::receipt::Nonce;

/// What the answering side remembers of one caller's chain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    /// The answer the caller has shown it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed: Option<Nonce>,
    /// The answer given since, not shown back yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Nonce>,
}

/// How a call relates to the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// The caller holds the latest answer (or the chain starts here).
    Next,
    /// The caller holds the answer before the latest: the latest was lost on its way (a
    /// crash between the answer's commit and its keeping). A new answer replaces it.
    Retry,
    /// The caller holds an answer the chain has moved past: another copy of it follows the
    /// chain. Refused.
    Forked,
}

impl Chain {
    /// How a call that holds `holds` relates to the chain.
    pub fn judge(&self, holds: Option<Nonce>) -> Link {
        match (self.confirmed, self.pending, holds) {
            // Nothing answered yet (or the record predates chains): any call starts it.
            (None, None, _) => Link::Next,
            (_, Some(pending), Some(held)) if held == pending => Link::Next,
            (Some(confirmed), Some(_), Some(held)) if held == confirmed => Link::Retry,
            (Some(confirmed), None, Some(held)) if held == confirmed => Link::Next,
            // The first answer was lost before the caller kept it: it asks again holding none.
            (None, Some(_), None) => Link::Retry,
            _ => Link::Forked,
        }
    }

    /// The chain after answering a call judged `link` with the answer `answered`.
    pub fn advanced(self, link: Link, answered: Nonce) -> Chain {
        match link {
            Link::Next => {
                Chain { confirmed: self.pending.or(self.confirmed), pending: Some(answered) }
            }
            Link::Retry => Chain { confirmed: self.confirmed, pending: Some(answered) },
            Link::Forked => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(byte: u8) -> Nonce {
        Nonce::from_bytes([byte; 16])
    }

    /// Answers a call holding `holds` with nonce `answer`, returning the link.
    fn call(chain: &mut Chain, holds: Option<Nonce>, answer: u8) -> Link {
        let link = chain.judge(holds);
        *chain = chain.advanced(link, n(answer));
        link
    }

    #[test]
    fn one_caller_follows_the_chain() {
        let mut chain = Chain::default();
        assert_eq!(call(&mut chain, None, 1), Link::Next);
        assert_eq!(call(&mut chain, Some(n(1)), 2), Link::Next);
        assert_eq!(call(&mut chain, Some(n(2)), 3), Link::Next);
        assert_eq!(chain, Chain { confirmed: Some(n(2)), pending: Some(n(3)) });
    }

    #[test]
    fn a_lost_answer_is_given_again_once() {
        let mut chain = Chain::default();
        call(&mut chain, None, 1);
        call(&mut chain, Some(n(1)), 2);
        // Answer 2 was lost: the caller still holds 1.
        assert_eq!(call(&mut chain, Some(n(1)), 3), Link::Retry);
        assert_eq!(call(&mut chain, Some(n(3)), 4), Link::Next);
        // The very first answer lost: the caller asks again holding nothing.
        let mut fresh = Chain::default();
        call(&mut fresh, None, 1);
        assert_eq!(call(&mut fresh, None, 2), Link::Retry);
        assert_eq!(call(&mut fresh, Some(n(2)), 3), Link::Next);
    }

    #[test]
    fn two_copies_cannot_both_follow_the_chain() {
        let mut chain = Chain::default();
        call(&mut chain, None, 1);
        // Both copies hold answer 1. The first moves on...
        assert_eq!(call(&mut chain, Some(n(1)), 2), Link::Next);
        assert_eq!(call(&mut chain, Some(n(2)), 3), Link::Next);
        // ...and the copy still holding 1 is behind.
        assert_eq!(call(&mut chain, Some(n(1)), 9), Link::Forked);
        // Alternating copies: one of them is refused at its next call.
        let mut chain = Chain::default();
        call(&mut chain, None, 1);
        assert_eq!(call(&mut chain, Some(n(1)), 2), Link::Next); // copy A holds 2
        assert_eq!(call(&mut chain, Some(n(1)), 3), Link::Retry); // copy B, looks like a crash
        assert_eq!(call(&mut chain, Some(n(2)), 4), Link::Forked); // copy A is refused
        assert_eq!(call(&mut chain, Some(n(3)), 5), Link::Next); // copy B goes on
        // A refused copy stays refused: it holds no answer of the chain.
        assert_eq!(call(&mut chain, Some(n(9)), 6), Link::Forked);
    }
}
