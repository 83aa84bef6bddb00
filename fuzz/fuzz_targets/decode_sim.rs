//! Fuzzes the virtual bus datagram decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cankit::bus::sim::decode(data);
});
