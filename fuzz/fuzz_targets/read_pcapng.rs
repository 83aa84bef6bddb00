//! Fuzzes the pcapng/pcap reader: any bytes must read to records, warnings or
//! one error naming the file and a position, never a panic, hang or huge
//! allocation.
#![no_main]

use cankit::format::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cankit_fuzz::read_stream(Format::Pcapng, data);
});
