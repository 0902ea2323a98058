//! End-to-end tests of the hcx workspace live in `tests/`.
