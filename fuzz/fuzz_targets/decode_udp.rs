//! Fuzzes the udp_multicast datagram decoder (python-can's msgpack layout).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = cankit::bus::udp::wire::decode(data) {
        // what decodes must encode again
        let mut buf = [0u8; cankit::bus::udp::wire::MAX_ENCODED];
        if !(f.is_fd() && !f.is_data()) {
            let n = cankit::bus::udp::wire::encode(&f, 0.0, &mut buf).expect("re-encoding");
            let back = cankit::bus::udp::wire::decode(&buf[..n]).expect("decoding own output");
            assert_eq!(back, f);
        }
    }
});
