//! Overlays: speculative layers over a heap. An overlay holds copies of the objects it wrote
//! and computes, on its own, exactly the caches whose reads reach them; everything else is
//! read from the base, with no copy. Base writes are pushed into every open overlay.
//!
//! - `state`: what an overlay holds, and its dependency graph;
//! - `open`: opening and closing overlays;
//! - `read`: reads in an overlay ([`Layer`]), and computations in it;
//! - `write`: writes in an overlay ([`LayerMut`]): the copy, the overlay's barrier;
//! - `transaction`: operations over several objects in an overlay ([`LayerTransaction`]);
//! - `push`: what base operations owe their overlays;
//! - `create`: objects made in an overlay, hidden from the base until a commit;
//! - `remove`: objects removed in an overlay;
//! - `commit`: an overlay's writes made the base's, as one operation.

pub(crate) mod commit;
pub(crate) mod create;
pub(crate) mod open;
pub(crate) mod push;
pub(crate) mod read;
pub(crate) mod remove;
pub(crate) mod state;
pub(crate) mod transaction;
pub(crate) mod write;

pub use crate::key::Overlay;
pub use read::Layer;
pub use transaction::LayerTransaction;
pub use write::LayerMut;
