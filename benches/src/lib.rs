//! Shared helpers of the hcx benchmarks.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod baseline;
pub mod contention;
pub mod exchange;
pub mod fifo;
pub mod proc_time;
