//! Overlays: speculative layers over a heap. An overlay holds copies of the objects it wrote
//! and computes, on its own, exactly the caches whose reads reach them; everything else is
//! read from the base, with no copy. Base writes are pushed into every open overlay.
//!
//! - `state`: what an overlay holds, and its dependency graph;
//! - `read`: reads in an overlay ([`Layer`]), and computations in it;
//! - `write`: writes in an overlay ([`LayerMut`]): the copy, the overlay's barrier;
//! - `push`: what base operations owe their overlays.

use crate::decl::field::FieldMask;
use crate::error::Error;
use crate::heap::parts::Core;
use crate::key::{CellId, ObjectKey, OverlayKey};

use slotmap::{Key, SlotMap};
use std::fmt;
use std::sync::atomic::Ordering;

pub(crate) mod push;
pub(crate) mod read;
pub(crate) mod state;
pub(crate) mod write;

pub use read::Layer;
pub use write::LayerMut;

use state::OverlayState;

/// An open overlay of a heap (see [`Heap::overlay`](crate::Heap::overlay)): a handle, like
/// an object's, checked against its heap and against being closed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Overlay {
    pub(crate) key: OverlayKey,
    pub(crate) heap: u64,
}

impl fmt::Debug for Overlay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Overlay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.key.data().as_ffi();
        write!(
            f,
            "overlay#{}v{}@heap{}",
            n & 0xffff_ffff,
            n >> 32,
            self.heap
        )
    }
}

/// What a base operation did that an overlay may have read.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Event {
    /// Fields of an object were written (all of them for a removal); the overlays' bits
    /// the object carried.
    Fields(ObjectKey, FieldMask, u64),
    /// A cell was invalidated; the overlays' bits its object carried.
    Cell(CellId, u64),
}

/// The open overlays of a heap, and what the running base operation owes them.
#[derive(Default)]
pub(crate) struct Overlays {
    pub(crate) open: SlotMap<OverlayKey, OverlayState>,
    /// The bit numbers in use (see [`OverlayState::bit`]).
    used: u64,
    /// How many open overlays share the last bit.
    shared: usize,
    /// What the running operation did to objects some overlay holds or read.
    pub(crate) events: Vec<Event>,
}

impl Overlays {
    #[inline(always)]
    pub(crate) fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// The overlays whose bit is in `bits`.
    pub(crate) fn with_bits(&self, bits: u64) -> impl Iterator<Item = &OverlayState> {
        self.open.values().filter(move |o| o.bit & bits != 0)
    }
}

impl Core {
    /// [`Heap::overlay`](crate::Heap::overlay).
    pub(crate) fn open_overlay(&mut self) -> Overlay {
        let overlays = &mut self.overlays;
        let free = !overlays.used & (u64::MAX >> 1);
        let bit = if free == 0 {
            overlays.shared += 1;
            1 << 63
        } else {
            let bit = 1 << free.trailing_zeros();
            overlays.used |= bit;
            bit
        };
        let key = overlays.open.insert(OverlayState::new(bit));
        Overlay { key, heap: self.id }
    }

    /// The state of an open overlay of this heap.
    pub(crate) fn overlay(&self, overlay: &Overlay) -> Result<&OverlayState, Error> {
        self.check_overlay(overlay)?;
        Ok(&self.overlays.open[overlay.key])
    }

    pub(crate) fn check_overlay(&self, overlay: &Overlay) -> Result<(), Error> {
        if overlay.heap != self.id {
            return Err(Error::ForeignOverlay {
                overlay: *overlay,
                heap: self.id,
            });
        }
        match self.overlays.open.contains_key(overlay.key) {
            true => Ok(()),
            false => Err(Error::OverlayClosed { overlay: *overlay }),
        }
    }

    /// [`Heap::discard`](crate::Heap::discard): drops everything the overlay held, and its
    /// marks on base objects.
    pub(crate) fn discard_overlay(&mut self, overlay: &Overlay) -> Result<(), Error> {
        self.check_overlay(overlay)?;
        let state = self
            .overlays
            .open
            .remove(overlay.key)
            .expect("checked to be open");
        let bit = state.bit;
        // The last bit is cleared only with the last overlay sharing it.
        let clear = if bit == 1 << 63 {
            self.overlays.shared -= 1;
            self.overlays.shared == 0
        } else {
            self.overlays.used &= !bit;
            true
        };
        if clear {
            let graph = state.graph.lock();
            let keys = state
                .entries()
                .map(|e| e.key)
                .chain(graph.fields.keys().copied())
                .chain(graph.cells.keys().map(|c| c.key));
            for key in keys {
                if let Some(slot) = self.slots.get(key) {
                    slot.ops
                        .overlaid(slot.obj.get(&self.owner))
                        .fetch_and(!bit, Ordering::Relaxed);
                    let mut graph = slot.graph.lock();
                    graph.overlaid &= !bit;
                    graph.observed &= !bit;
                }
            }
        }
        Ok(())
    }
}
