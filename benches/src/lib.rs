//! Shared helpers of the hcx benchmarks.
