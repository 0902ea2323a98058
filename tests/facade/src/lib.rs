//! Tests that use every public type of `hcx` through the facade crate alone (`hcx::…`),
//! with no other dependency: they live in `tests/`.
