//! Arbitrary bytes as a server's response: head parsers, 1xx skipping, framing and
//! body decoding, whole and in pieces, must agree and never panic.
//!
//! Seeds: `crates/hcx-h1/tests/corpus/` (replayed by `cargo test -p hcx-h1`).
//! Run: `cargo fuzz run response fuzz/corpus/response crates/hcx-h1/tests/corpus`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/hcx-h1/tests/support/check_response.rs"]
mod check_response;

fuzz_target!(|data: &[u8]| {
    let _ = check_response::check(data);
});
