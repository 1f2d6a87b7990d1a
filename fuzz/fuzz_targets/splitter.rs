//! Fuzz target: see `siteassist_bridge::fuzzing::splitter` for what it drives and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| siteassist_bridge::fuzzing::splitter(data));
