//! Fuzzes the slcan line splitter and decoder (what an adapter sends).
#![no_main]

use cankit::bus::slcan::wire::{self, Piece, Reply, Splitter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut s = Splitter::default();
    s.push(data, |piece| {
        if let Piece::Line(line) = piece {
            assert!(line.len() <= wire::MAX_LINE);
            if let Ok(Reply::Frame(f, _)) = wire::decode(line) {
                // what decodes encodes again, and decodes to the same frame
                let mut buf = [0u8; wire::MAX_ENCODED];
                let n = wire::encode(&f, &mut buf).expect("re-encoding");
                let back = wire::decode(&buf[..n - 1]).expect("decoding own output");
                assert_eq!(back, Reply::Frame(f, None));
            }
        }
    });
});
