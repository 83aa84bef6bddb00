//! Fuzzes the DBC parser and the decoder: any text must parse, or fail with
//! one error naming the file and a line; what parses must decode any payload
//! without a panic, and only signals of the message.
#![no_main]

use cankit::dbc::Dbc;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Dbc::parse(&text, "fuzz.dbc") {
        Ok(dbc) => {
            let mut out = Vec::new();
            for m in dbc.messages() {
                for payload in [&data[..data.len().min(64)], &[0xFF; 64][..], &[][..]] {
                    out.clear();
                    m.decode(payload, &mut out);
                    for d in &out {
                        let s = &m.signals[d.signal];
                        let _ = s.label_of(d);
                    }
                }
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("fuzz.dbc: line "), "{msg}");
        }
    }
});
