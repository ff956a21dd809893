#![no_main]
//! cargo fuzz target: see ../targets.rs.
// Each binary uses one of the shared target functions.
#[allow(dead_code)]
#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::pem(data));
