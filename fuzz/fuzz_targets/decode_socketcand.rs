//! Fuzzes the socketcand element splitter and both decoders (what a server
//! sends, what a client sends): any bytes, cut at any point, give elements or
//! counted defects, never a panic; what decodes as a frame writes and reads
//! back to the same frame.
#![no_main]

use cankit::bus::socketcand::wire::{self, ClientCmd, Piece, ServerMsg, Splitter};
use cankit::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte chooses where the stream is cut in two.
    let (cut, bytes) = match data.split_first() {
        Some((c, rest)) => (*c as usize % (rest.len() + 1), rest),
        None => return,
    };
    let mut s = Splitter::default();
    let mut each = |p: Piece<'_>| {
        let Piece::Element(e) = p else { return };
        assert!(e.len() <= wire::MAX_ELEMENT);
        if let Ok(ServerMsg::Frame(f, ts)) = wire::parse_server(e) {
            let mut out = Vec::new();
            if wire::write_frame(&mut out, &f, ts, true) {
                let back = wire::parse_server(&out[1..out.len() - 1]).expect("own output");
                let ts = Timestamp::from_nanos(ts.as_nanos() / 1000 * 1000);
                if f.is_error() {
                    // RAW mode's error element carries the class only, no data.
                    let ServerMsg::Frame(b, bts) = back else { panic!("{back:?}") };
                    assert_eq!((b.id(), b.is_error(), bts), (f.id(), true, ts));
                } else {
                    assert_eq!(back, ServerMsg::Frame(f, ts));
                }
            }
        }
        if let Ok(ClientCmd::Send(f)) = wire::parse_client(e) {
            let mut out = Vec::new();
            wire::write_send(&mut out, &f);
            let back = wire::parse_client(&out[1..out.len() - 1]).expect("own output");
            assert_eq!(back, ClientCmd::Send(f));
        }
    };
    s.feed(&bytes[..cut], &mut each);
    s.feed(&bytes[cut..], &mut each);
});
