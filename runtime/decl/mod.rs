//! What a type declares: its fields, its cached methods and invariants, and the
//! [`Object`](crate::Object) trait the derive implements. Nothing here names the heap: the
//! runtime reaches a type's declarations only through the sealed operations they export.

pub(crate) mod cache;
pub(crate) mod ctx;
pub(crate) mod field;
pub(crate) mod object;
pub(crate) mod ops;
pub(crate) mod stored;
