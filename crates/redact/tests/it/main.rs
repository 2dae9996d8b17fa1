//! Behaviour of the scrubber as a user of the crate sees it.

mod properties;
mod semantics;
mod support;
