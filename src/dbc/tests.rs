use super::*;
use crate::frame::text::parse_frame;

fn decode_all(dbc: &Dbc, frame: &str) -> Vec<(String, f64, Option<String>)> {
    let f = parse_frame(frame).unwrap();
    let m = dbc.message_for(&f).expect("a message");
    let mut out = Vec::new();
    m.decode(f.data_bytes(), &mut out);
    out.iter()
        .map(|d| {
            let s = &m.signals[d.signal];
            (s.name.clone(), d.value, s.label_of(d).map(str::to_string))
        })
        .collect()
}

#[test]
fn little_and_big_endian() {
    let dbc = Dbc::parse(
        "BO_ 1 M: 8 X\n SG_ L : 4|12@1+ (1,0) [0|0] \"\" X\n SG_ B : 7|12@0+ (1,0) [0|0] \"\" X\n",
        "t.dbc",
    )
    .unwrap();
    // B: MSB at bit 7 of byte 0, 12 bits: byte0 and high nibble of byte1.
    let v = decode_all(&dbc, "001#ABCD000000000000");
    assert_eq!(v[0].1, (0xCDAB_u32 >> 4) as f64);
    assert_eq!(v[1].1, 0xABC as f64);
}

#[test]
fn signed_float_and_scaling() {
    let dbc = Dbc::parse(
        "BO_ 2 M: 8 X\n SG_ S : 0|8@1- (0.5,-1) [0|0] \"V\" X\n SG_ F : 32|32@1- (1,0) [0|0] \"\" X\nSIG_VALTYPE_ 2 F : 1;\n",
        "t.dbc",
    )
    .unwrap();
    let bits = 1.5f32.to_bits().to_le_bytes();
    let frame = format!(
        "002#FE000000{:02X}{:02X}{:02X}{:02X}",
        bits[0], bits[1], bits[2], bits[3]
    );
    let v = decode_all(&dbc, &frame);
    assert_eq!(v[0].1, -2.0);
    assert_eq!(v[1].1, 1.5);
}

#[test]
fn multiplexing_and_labels() {
    let dbc = Dbc::parse(
        "BO_ 3 M: 2 X\n SG_ A m1 : 8|8@1+ (1,0) [0|0] \"\" X\n SG_ Sel M : 0|8@1+ (1,0) [0|0] \"\" X\n SG_ B m2 : 8|8@1+ (1,0) [0|0] \"\" X\nVAL_ 3 Sel 1 \"one\" 2 \"two\";\n",
        "t.dbc",
    )
    .unwrap();
    let v = decode_all(&dbc, "003#0207");
    assert_eq!(v.len(), 2);
    assert_eq!(v[0], ("Sel".into(), 2.0, Some("two".into())));
    assert_eq!(v[1], ("B".into(), 7.0, None));
}

#[test]
fn j1939_matches_on_pgn() {
    let dbc = Dbc::parse(
        "BO_ 2364540158 EEC1: 8 X\n SG_ S : 0|8@1+ (1,0) [0|0] \"\" X\n\
         BA_DEF_ BO_ \"VFrameFormat\" ENUM \"StandardCAN\",\"ExtendedCAN\",\"reserved\",\"J1939PG\";\n\
         BA_ \"VFrameFormat\" BO_ 2364540158 3;\n",
        "t.dbc",
    )
    .unwrap();
    assert!(dbc.messages()[0].j1939);
    // 0CF004FE: priority 3, PGN F004, source FE; another source and priority.
    assert_eq!(decode_all(&dbc, "18F00401#05").len(), 1);
    assert!(dbc
        .message_for(&parse_frame("18F00501#05").unwrap())
        .is_none());
}

#[test]
fn errors_name_file_and_line() {
    let e = Dbc::parse(
        "VERSION \"\"\n\nBO_ 1 M: 8 X\n SG_ A : 0|8@2+ (1,0) [0|0] \"\" X\n",
        "bad.dbc",
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("bad.dbc: line 4: "), "{e}");
    let e = Dbc::parse("garbage here\n", "g.dbc")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("g.dbc: line 1: "), "{e}");
}

#[test]
fn garbage_never_panics() {
    let mut seed = 0x1234_5678_u64;
    let alphabet = b"BO_SG_VAL_ :|@()[],+-;\"\n0123456789mMx.eE\\";
    for _ in 0..3000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 200) as usize;
        let mut s = String::new();
        let mut x = seed;
        for _ in 0..len {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s.push(alphabet[(x >> 33) as usize % alphabet.len()] as char);
        }
        if let Ok(dbc) = Dbc::parse(&s, "fuzz.dbc") {
            let mut out = Vec::new();
            for m in dbc.messages() {
                m.decode(&[0xFF; 64], &mut out);
            }
        }
    }
}

#[test]
fn duplicate_message_ids_keep_the_last() {
    // Found by the parse_dbc fuzz target: a second BO_ with the same id.
    let dbc = Dbc::parse(
        "BO_ 1 A: 8 X\n SG_ a : 0|8@1+ (1,0) [0|0] \"\" X\nBO_ 1 B: 8 X\n SG_ b : 0|8@1+ (1,0) [0|0] \"\" X\nVAL_ 1 b 1 \"one\";\n",
        "t.dbc",
    )
    .unwrap();
    assert_eq!(dbc.messages().len(), 1);
    assert_eq!(
        decode_all(&dbc, "001#01"),
        vec![("b".into(), 1.0, Some("one".into()))]
    );
}
