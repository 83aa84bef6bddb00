//! Fuzzes the cannelloni decoders: the UDP datagram (`decode_datagram`) and the
//! TCP stream (`decode_frame` repeated over the input). What decodes must
//! encode back to the same bytes and the same frames; every frame obeys the
//! CAN limits (classic 8 bytes, FD 64); output never exceeds one frame per 5
//! input bytes.
#![no_main]

use cankit::bus::cannelloni::wire::{self, Step};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut frames = Vec::new();
    let result = wire::decode_datagram(data, &mut frames);
    assert!(frames.len() <= data.len() / 5);
    let mut enc = Vec::new();
    for f in &frames {
        assert!(f.len() <= if f.is_fd() { 64 } else { 8 });
        wire::encode_frame(f, &mut enc).expect("a decoded frame encodes");
    }
    if let Ok(seq) = result {
        let mut again = wire::header(seq, frames.len() as u16).to_vec();
        again.extend_from_slice(&enc);
        let mut back = Vec::new();
        assert_eq!(wire::decode_datagram(&again, &mut back), Ok(seq));
        assert_eq!(back, frames);
    }
    // The same bytes as a TCP stream.
    let mut rest = data;
    loop {
        match wire::decode_frame(rest) {
            Step::Frame(f, used) => {
                assert!(used >= 5 && used <= rest.len() && used <= wire::MAX_FRAME_LEN);
                let mut one = Vec::new();
                wire::encode_frame(&f, &mut one).expect("a decoded frame encodes");
                assert_eq!(wire::decode_frame(&one), Step::Frame(f, one.len()));
                rest = &rest[used..];
            }
            Step::Incomplete => {
                assert!(rest.len() < wire::MAX_FRAME_LEN);
                break;
            }
            Step::Malformed(_) => break,
        }
    }
});
