//! pcapng through the real `can-convert`, checked against Wireshark's own
//! tools: tshark reads every frame we write with the id, data, flags,
//! interface, direction and time we gave it, and we read what tshark's
//! siblings (editcap, text2pcap) write to the frames they hold. tshark,
//! editcap and text2pcap come with Debian's `tshark` package
//! (tests/setup.sh installs it); without them these tests skip (fail under CI).

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use cankit::format::{self, Format, WriterOptions};
use cankit::frame::{Channel, Direction, FdFlags, Frame, Id, Record, Timestamp};
use proptest::prelude::*;

/// True when Wireshark's command-line tools are here; else skips loudly.
fn wireshark() -> bool {
    for prog in ["tshark", "editcap", "text2pcap"] {
        if !common::have(prog) {
            common::missing(&format!(
                "{prog} (Debian package tshark; tests/setup.sh installs it)"
            ));
            return false;
        }
    }
    true
}

fn run(cmd: &mut Command) -> Output {
    let o = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?}: {:?}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn convert(args: &[&Path]) -> Output {
    run(common::tools::tool("can-convert").args(args))
}

fn write(path: &Path, recs: &[Record], opts: &WriterOptions) {
    let mut w = format::create_writer(path, None, opts).unwrap();
    for r in recs {
        w.write(r).unwrap();
    }
    w.finish().unwrap();
}

fn read(path: &Path) -> (Vec<Record>, Vec<String>) {
    let mut r = format::open_reader(path, Some(Format::Pcapng))
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let mut v = Vec::new();
    while let Some(x) = r
        .read()
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    {
        v.push(x);
    }
    (v, r.take_warnings())
}

/// Asserts two streams are equal, naming the first difference.
fn same(got: &[Record], want: &[Record], what: &str) {
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert_eq!(a, b, "{what}: record {i}");
    }
    assert_eq!(got.len(), want.len(), "{what}: record count");
}

/// A deterministic stream: xorshift.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const FD_LENGTHS: [usize; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64];

/// `n` records of every kind tshark can show: classic 11- and 29-bit frames
/// (some with a raw DLC above 8), FD frames with every length and BRS/ESI
/// combination, remote frames, error frames (8 bytes, as SocketCAN sends them;
/// their class always names the lost-arbitration, controller, protocol and
/// transceiver bits so that tshark shows every data byte), on `can0` and
/// `can1`, received and sent, nanosecond times.
fn mixed(n: usize, seed: u64) -> Vec<Record> {
    let mut rng = Rng(seed);
    let mut t = 1_700_000_000_000_000_000i64;
    (0..n)
        .map(|_| {
            t += rng.below(2_000_000) as i64;
            let ext = rng.below(2) == 0;
            let id = if ext {
                Id::Extended(rng.below(0x2000_0000) as u32)
            } else {
                Id::Standard(rng.below(0x800) as u16)
            };
            let fd = FdFlags {
                brs: rng.below(2) == 0,
                esi: rng.below(2) == 0,
            };
            let frame = match rng.below(10) {
                0..=2 => {
                    let len = rng.below(9) as usize;
                    Frame::data(id, &rng.bytes(len)).unwrap()
                }
                3 => {
                    let dlc = 9 + rng.below(7) as u8;
                    Frame::data_with_dlc(id, &rng.bytes(8), dlc).unwrap()
                }
                4 => Frame::remote(id, rng.below(16) as u8).unwrap(),
                5..=7 => {
                    let len = FD_LENGTHS[rng.below(16) as usize];
                    Frame::fd(id, &rng.bytes(len), fd).unwrap()
                }
                _ => {
                    let class = 0x1E | (rng.below(0x200) as u32 & 0x1E1);
                    let mut d = rng.bytes(8);
                    d[1] &= 0x7F; // tshark names bits 0-6 of the controller byte
                    Frame::error(class, &d).unwrap()
                }
            };
            Record {
                timestamp: Timestamp(t),
                channel: Channel::name(if rng.below(2) == 0 { "can0" } else { "can1" }),
                direction: if rng.below(3) == 0 {
                    Direction::Tx
                } else {
                    Direction::Rx
                },
                frame,
            }
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// tshark's fields for one packet, in the order of [`TSHARK_FIELDS`].
const TSHARK_FIELDS: &[&str] = &[
    "frame.time_epoch",
    "frame.interface_name",
    "frame.packet_flags_direction",
    "can.id",
    "can.flags.xtd",
    "can.flags.rtr",
    "can.flags.err",
    "can.len",
    "canfd.flags.brs",
    "canfd.flags.esi",
    "data.data",
    // error class bits 0x001 to 0x100, then the reserved rest
    "can.err.tx_timeout",
    "can.err.lostarb",
    "can.err.ctrl",
    "can.err.prot",
    "can.err.trx",
    "can.err.ack",
    "can.err.busoff",
    "can.err.buserror",
    "can.err.restarted",
    "can.err.reserved",
    // error data: byte 0, byte 1 bits 0-6, byte 2 bits 0-7, byte 3, byte 4, bytes 5-7
    "can.err.lostarb.bitnum",
    "can.err.ctrl.rx_overflow",
    "can.err.ctrl.tx_overflow",
    "can.err.ctrl.rx_warning",
    "can.err.ctrl.tx_warning",
    "can.err.ctrl.rx_passive",
    "can.err.ctrl.tx_passive",
    "can.err.ctrl.active",
    "can.err.prot.type.bit",
    "can.err.prot.type.form",
    "can.err.prot.type.stuff",
    "can.err.prot.type.bit0",
    "can.err.prot.type.bit1",
    "can.err.prot.type.overload",
    "can.err.prot.type.active",
    "can.err.prot.type.tx",
    "can.err.prot.location",
    "can.err.trx.canh",
    "can.err.trx.canl",
    "can.err.ctrl_specific",
    "_ws.expert",
];

/// What tshark shows for each packet of `file`, one line of tab-separated
/// [`TSHARK_FIELDS`] each.
fn tshark_fields(file: &Path) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    // AUTOSAR NM claims the payload of id 0 by default, so data.data would
    // not show it
    cmd.arg("-r").arg(file).args([
        "--disable-protocol",
        "autosar-nm",
        "-T",
        "fields",
        "-E",
        "occurrence=f",
    ]);
    for f in TSHARK_FIELDS {
        cmd.args(["-e", f]);
    }
    let o = run(&mut cmd);
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// tshark prints booleans as 1/0 (4.0) or True/False (later versions).
fn flag(v: &str) -> bool {
    match v {
        "1" | "True" => true,
        "0" | "False" => false,
        other => panic!("not a boolean: {other:?}"),
    }
}

/// What tshark should show for `r`, field by field (as [`TSHARK_FIELDS`]).
fn tshark_expects(r: &Record) -> Vec<(&'static str, String)> {
    let f = &r.frame;
    let t = r.timestamp.as_nanos();
    let mut want = vec![
        (
            "frame.time_epoch",
            format!("{}.{:09}", t / 1_000_000_000, t % 1_000_000_000),
        ),
        ("frame.interface_name", r.channel.to_string()),
        (
            "frame.packet_flags_direction",
            match r.direction {
                Direction::Rx => "0x00000001".into(),
                Direction::Tx => "0x00000002".into(),
            },
        ),
    ];
    if f.is_error() {
        let class = f.id().raw();
        let d = f.data_bytes();
        want.push(("can.flags.err", "1".into()));
        want.push(("can.len", f.len().to_string()));
        for (i, name) in [
            "can.err.tx_timeout",
            "can.err.lostarb",
            "can.err.ctrl",
            "can.err.prot",
            "can.err.trx",
            "can.err.ack",
            "can.err.busoff",
            "can.err.buserror",
            "can.err.restarted",
        ]
        .into_iter()
        .enumerate()
        {
            want.push((name, u8::from(class & (1 << i) != 0).to_string()));
        }
        want.push(("can.err.lostarb.bitnum", d[0].to_string()));
        for (i, name) in [
            "can.err.ctrl.rx_overflow",
            "can.err.ctrl.tx_overflow",
            "can.err.ctrl.rx_warning",
            "can.err.ctrl.tx_warning",
            "can.err.ctrl.rx_passive",
            "can.err.ctrl.tx_passive",
            "can.err.ctrl.active",
        ]
        .into_iter()
        .enumerate()
        {
            want.push((name, u8::from(d[1] & (1 << i) != 0).to_string()));
        }
        for (i, name) in [
            "can.err.prot.type.bit",
            "can.err.prot.type.form",
            "can.err.prot.type.stuff",
            "can.err.prot.type.bit0",
            "can.err.prot.type.bit1",
            "can.err.prot.type.overload",
            "can.err.prot.type.active",
            "can.err.prot.type.tx",
        ]
        .into_iter()
        .enumerate()
        {
            want.push((name, u8::from(d[2] & (1 << i) != 0).to_string()));
        }
        want.push(("can.err.prot.location", d[3].to_string()));
        want.push(("can.err.trx.canh", (d[4] & 0x0F).to_string()));
        want.push(("can.err.trx.canl", (d[4] >> 4).to_string()));
        want.push((
            "can.err.ctrl_specific",
            format!("{:02x} {:02x} {:02x}", d[5], d[6], d[7]),
        ));
        return want;
    }
    want.push(("can.id", f.id().raw().to_string()));
    want.push(("can.flags.xtd", u8::from(f.id().is_extended()).to_string()));
    want.push(("can.flags.err", if f.is_fd() { "" } else { "0" }.into()));
    if f.is_fd() {
        want.push(("can.len", f.len().to_string()));
        want.push(("canfd.flags.brs", u8::from(f.brs()).to_string()));
        want.push(("canfd.flags.esi", u8::from(f.esi()).to_string()));
        want.push(("can.flags.rtr", String::new()));
        want.push(("data.data", hex(f.data_bytes())));
    } else {
        want.push(("canfd.flags.brs", String::new()));
        want.push(("can.flags.rtr", u8::from(f.is_remote()).to_string()));
        if f.is_remote() {
            // the requested length; the packet carries zeros there
            let n = (f.dlc() as usize).min(8);
            want.push(("can.len", n.to_string()));
            want.push(("data.data", "00".repeat(n)));
        } else {
            want.push(("can.len", f.len().to_string()));
            want.push(("data.data", hex(f.data_bytes())));
        }
    }
    want
}

/// Asserts tshark's reading of `file` is `recs`, field by field.
fn tshark_reads_exactly(file: &Path, recs: &[Record]) {
    let rows = tshark_fields(file);
    assert_eq!(rows.len(), recs.len(), "tshark's packet count");
    let col = |name: &str| {
        TSHARK_FIELDS
            .iter()
            .position(|f| *f == name)
            .unwrap_or_else(|| panic!("{name} not asked of tshark"))
    };
    let expert = col("_ws.expert");
    for (i, (row, r)) in rows.iter().zip(recs).enumerate() {
        assert_eq!(row.len(), TSHARK_FIELDS.len(), "packet {i}: {row:?}");
        for (name, want) in tshark_expects(r) {
            let got = &row[col(name)];
            let ok = match (want.as_str(), got.as_str()) {
                ("0" | "1", g @ ("0" | "1" | "True" | "False")) => (want == "1") == flag(g),
                _ => *got == want,
            };
            assert!(
                ok,
                "packet {i} {name}: tshark shows {got:?}, we wrote {want:?} ({r:?})"
            );
        }
        assert!(
            row[expert].is_empty(),
            "packet {i}: tshark's expert info {:?} ({r:?})",
            row[expert]
        );
    }
}

/// What reading a record back from pcapng gives (see src/format/pcapng.rs):
/// numbered channels and none become `can<n-1>`/`can0`; FD remote and error
/// frames become classic.
fn projected(r: &Record) -> Record {
    let mut r = r.clone();
    r.channel = match &r.channel {
        Channel::Number(n) => Channel::name(&format!("can{}", n.saturating_sub(1))),
        Channel::None => Channel::name("can0"),
        c => c.clone(),
    };
    let f = r.frame;
    if f.is_remote() && f.is_fd() {
        r.frame = Frame::remote(f.id(), f.dlc()).unwrap();
    } else if f.is_error() && f.is_fd() {
        r.frame = Frame::error_with_dlc(f.id().raw(), f.data_bytes(), f.dlc()).unwrap();
    }
    r
}

#[test]
fn tshark_reads_every_frame_can_convert_writes() {
    if !wireshark() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let recs = mixed(20_000, 0x9E37_79B9_7F4A_7C15);
    let src = dir.path().join("mixed.jsonl");
    write(&src, &recs, &WriterOptions::default());
    let out = dir.path().join("mixed.pcapng");
    convert(&[&src, &out]);
    tshark_reads_exactly(&out, &recs);
    // and we read it back as it was
    let (got, warnings) = read(&out);
    assert!(warnings.is_empty(), "{warnings:?}");
    same(&got, &recs, "read back");
    // the same bytes on stdout (no seeking): tshark reads it from a pipe too
    let piped = run(common::tools::tool("can-convert").args([
        src.as_os_str(),
        "-".as_ref(),
        "--output-format".as_ref(),
        "pcapng".as_ref(),
    ]));
    assert!(
        piped.stdout == std::fs::read(&out).unwrap(),
        "stdout differs from the file"
    );
    // gzip: Wireshark reads it as it is
    let gz = dir.path().join("mixed.pcapng.gz");
    convert(&[&src, &gz]);
    assert_eq!(&std::fs::read(&gz).unwrap()[..2], &[0x1F, 0x8B]);
    tshark_reads_exactly(&gz, &recs);
}

/// Numbered channels (from BLF, ASC, TRC) and no channel become interface
/// names tshark shows; FD remote and error frames become classic ones.
#[test]
fn numbered_channels_become_names_tshark_shows() {
    if !wireshark() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fd = FdFlags {
        brs: true,
        esi: false,
    };
    let recs: Vec<Record> = [
        (
            Channel::Number(1),
            Frame::data(Id::Standard(1), &[1]).unwrap(),
        ),
        (
            Channel::Number(2),
            Frame::data(Id::Standard(2), &[2]).unwrap(),
        ),
        (Channel::None, Frame::data(Id::Standard(3), &[3]).unwrap()),
        (
            Channel::Number(2),
            Frame::remote(Id::Standard(4), 2).unwrap().with_fd_flags(fd),
        ),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (channel, frame))| Record {
        timestamp: Timestamp(1_000_000_000 + i as i64),
        channel,
        direction: Direction::Rx,
        frame,
    })
    .collect();
    let src = dir.path().join("numbered.jsonl");
    write(&src, &recs, &WriterOptions::default());
    let out = dir.path().join("numbered.pcapng");
    convert(&[&src, &out]);
    let want: Vec<Record> = recs.iter().map(projected).collect();
    assert_eq!(want[0].channel, Channel::name("can0"));
    assert_eq!(want[1].channel, Channel::name("can1"));
    tshark_reads_exactly(&out, &want);
    same(&read(&out).0, &want, "read back");
    // three interfaces were described: can0 (channel 1 and none) and can1
    let o = run(Command::new("tshark").arg("-r").arg(&out).args([
        "-T",
        "fields",
        "-e",
        "frame.interface_id",
    ]));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "0\n1\n0\n1\n");
}

/// editcap rewrites our capture as classic pcap (microseconds and
/// nanoseconds) and as its own pcapng: we read each to the same frames.
#[test]
fn we_read_what_editcap_writes() {
    if !wireshark() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let recs = mixed(3000, 42);
    let ours = dir.path().join("ours.pcapng");
    write(&ours, &recs, &WriterOptions::default());
    for (ftype, ext) in [("pcap", "pcap"), ("nsecpcap", "pcap"), ("pcapng", "pcapng")] {
        let theirs = dir.path().join(format!("editcap-{ftype}.{ext}"));
        run(Command::new("editcap")
            .args(["-F", ftype])
            .arg(&ours)
            .arg(&theirs));
        let jsonl = dir.path().join(format!("editcap-{ftype}.jsonl"));
        convert(&[&theirs, &jsonl]);
        let mut r = format::open_reader(&jsonl, None).unwrap();
        let got: Vec<Record> = format::records(&mut *r).map(Result::unwrap).collect();
        let want: Vec<Record> = recs
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if ftype != "pcapng" {
                    // classic pcap: one unnamed interface, no direction
                    r.channel = Channel::Number(1);
                    r.direction = Direction::Rx;
                }
                if ftype == "pcap" {
                    r.timestamp = Timestamp(r.timestamp.as_nanos() / 1000 * 1000);
                }
                r
            })
            .collect();
        same(&got, &want, ftype);
    }
}

/// A capture text2pcap makes from a hex dump of SocketCAN packets as other
/// tools write them (exactly 8 + length bytes, FDF set; an FD frame without
/// FDF at the kernel's 72 bytes; a classic remote frame of 8 bytes): we read
/// the frames the dump holds, at the times tshark shows.
#[test]
fn we_read_what_text2pcap_writes() {
    if !wireshark() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut packets: Vec<(Vec<u8>, Frame)> = Vec::new();
    let mut add = |word: u32, len: u8, flags: u8, data: &[u8], pad_to: usize, frame: Frame| {
        let mut p = word.to_be_bytes().to_vec();
        p.extend_from_slice(&[len, flags, 0, 0]);
        p.extend_from_slice(data);
        p.resize(pad_to.max(p.len()), 0);
        packets.push((p, frame));
    };
    let id = |v: u16| Id::Standard(v);
    let d: Vec<u8> = (0..64).map(|i| i as u8 ^ 0x5A).collect();
    add(
        0x123,
        3,
        0,
        &d[..3],
        0,
        Frame::data(id(0x123), &d[..3]).unwrap(),
    );
    add(
        0x8000_0000 | 0x1234_5678,
        8,
        0,
        &d[..8],
        0,
        Frame::data(Id::Extended(0x1234_5678), &d[..8]).unwrap(),
    );
    add(0x7FF, 0, 0, &[], 0, Frame::data(id(0x7FF), &[]).unwrap());
    for (len, flags) in [(12usize, 0x05u8), (64, 0x07), (5, 0x04), (0, 0x06)] {
        let fd = FdFlags {
            brs: flags & 1 != 0,
            esi: flags & 2 != 0,
        };
        add(
            0x321,
            len as u8,
            flags,
            &d[..len],
            0,
            Frame::fd(id(0x321), &d[..len], fd).unwrap(),
        );
    }
    // older captures: FD told apart by the 72-byte size alone
    add(
        0x42,
        16,
        0x01,
        &d[..16],
        72,
        Frame::fd(
            id(0x42),
            &d[..16],
            FdFlags {
                brs: true,
                esi: false,
            },
        )
        .unwrap(),
    );
    add(
        0x4000_0000 | 0x55,
        4,
        0,
        &[],
        8,
        Frame::remote(id(0x55), 4).unwrap(),
    );
    add(
        0x2000_0004,
        8,
        0,
        &d[..8],
        0,
        Frame::error(4, &d[..8]).unwrap(),
    );
    let mut dump = String::new();
    for (p, _) in &packets {
        for (row, chunk) in p.chunks(16).enumerate() {
            dump.push_str(&format!("{:06x}", row * 16));
            for b in chunk {
                dump.push_str(&format!(" {b:02x}"));
            }
            dump.push('\n');
        }
    }
    let txt = dir.path().join("dump.txt");
    std::fs::write(&txt, dump).unwrap();
    for ftype in ["pcapng", "pcap"] {
        let cap = dir.path().join(format!("text2pcap.{ftype}"));
        run(Command::new("text2pcap")
            .args(["-q", "-l", "227", "-F", ftype])
            .arg(&txt)
            .arg(&cap));
        let (got, warnings) = read(&cap);
        assert!(warnings.is_empty(), "{ftype}: {warnings:?}");
        let frames: Vec<Frame> = got.iter().map(|r| r.frame).collect();
        let want: Vec<Frame> = packets.iter().map(|(_, f)| *f).collect();
        assert_eq!(frames, want, "{ftype}");
        // the times tshark shows
        let o = run(Command::new("tshark").arg("-r").arg(&cap).args([
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
        ]));
        let times: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        let ours: Vec<String> = got
            .iter()
            .map(|r| {
                let t = r.timestamp.as_nanos();
                format!("{}.{:09}", t / 1_000_000_000, t % 1_000_000_000)
            })
            .collect();
        assert_eq!(ours, times, "{ftype}");
        // tshark takes every frame as we do, FD exactly where we say, but for
        // the 72-byte one without FDF: the link-type registry makes it FD,
        // Wireshark 4.0 goes by FDF alone and shows a classic frame of 16 bytes
        let rows = tshark_fields(&cap);
        let brs_col = TSHARK_FIELDS
            .iter()
            .position(|x| *x == "canfd.flags.brs")
            .unwrap();
        let legacy = |p: &[u8]| p.len() == 72 && p[5] & 0x04 == 0;
        assert!(packets.iter().any(|p| legacy(&p.0)));
        for (i, (row, f)) in rows.iter().zip(&frames).enumerate() {
            let fd = f.is_fd() && !legacy(&packets[i].0);
            assert_eq!(!row[brs_col].is_empty(), fd, "{ftype} packet {i}: {row:?}");
        }
    }
}

/// `--append` adds a section: tshark and we read both runs.
#[test]
fn append_adds_a_section() {
    if !wireshark() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let a = mixed(50, 7);
    let b = mixed(70, 8);
    let (src_a, src_b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    write(&src_a, &a, &WriterOptions::default());
    write(&src_b, &b, &WriterOptions::default());
    let out = dir.path().join("both.pcapng");
    convert(&[&src_a, &out]);
    run(common::tools::tool("can-convert")
        .arg(&src_b)
        .arg(&out)
        .arg("--append"));
    let both: Vec<Record> = a.iter().chain(&b).cloned().collect();
    same(&read(&out).0, &both, "appended");
    tshark_reads_exactly(&out, &both);
    // appending to a classic pcap (or anything but pcapng) is refused
    let pcap = dir.path().join("classic.pcap");
    run(Command::new("editcap")
        .args(["-F", "pcap"])
        .arg(&out)
        .arg(&pcap));
    let before = std::fs::read(&pcap).unwrap();
    let o = common::tools::tool("can-convert")
        .arg(&src_b)
        .arg(&pcap)
        .arg("--append")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not pcapng") && err.contains("classic.pcap"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&pcap).unwrap(),
        before,
        "the refused file was changed"
    );
}

/// A damaged capture: the frames before the damage, then an error naming the
/// file and the block's byte offset; can-convert exits 1.
#[test]
fn damage_is_an_error_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let recs = mixed(10, 3);
    let p = dir.path().join("bad.pcapng");
    write(&p, &recs, &WriterOptions::default());
    let mut b = std::fs::read(&p).unwrap();
    // the fourth packet block's trailing length
    let mut at = 0;
    let mut packets = 0;
    let mut target = 0;
    while at < b.len() {
        let t = u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
        let len = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap()) as usize;
        if t == 6 {
            packets += 1;
            if packets == 4 {
                target = at;
                b[at + len - 4] ^= 0x40;
            }
        }
        at += len;
    }
    std::fs::write(&p, &b).unwrap();
    let out = dir.path().join("bad.jsonl");
    let o = common::tools::tool("can-convert")
        .arg(&p)
        .arg(&out)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.pcapng") && err.contains(&format!("byte {target}")),
        "{err}"
    );
    let mut r = format::open_reader(&out, None).unwrap();
    assert_eq!(format::records(&mut *r).count(), 3);
}

fn arb_frame() -> impl Strategy<Value = Frame> {
    let id = prop_oneof![
        (0u32..=0x7FF).prop_map(|v| Id::Standard(v as u16)),
        (0u32..=0x1FFF_FFFF).prop_map(Id::Extended),
    ];
    let fd_len = prop::sample::select(FD_LENGTHS.to_vec());
    let flags = (any::<bool>(), any::<bool>()).prop_map(|(brs, esi)| FdFlags { brs, esi });
    prop_oneof![
        (id.clone(), prop::collection::vec(any::<u8>(), 0..=8))
            .prop_map(|(id, d)| Frame::data(id, &d).unwrap()),
        (id.clone(), prop::collection::vec(any::<u8>(), 8), 9u8..=15)
            .prop_map(|(id, d, dlc)| Frame::data_with_dlc(id, &d, dlc).unwrap()),
        (id.clone(), 0u8..=15).prop_map(|(id, dlc)| Frame::remote(id, dlc).unwrap()),
        (
            id.clone(),
            fd_len,
            flags.clone(),
            prop::collection::vec(any::<u8>(), 64)
        )
            .prop_map(|(id, n, fl, d)| Frame::fd(id, &d[..n], fl).unwrap()),
        (id, 0u8..=15, flags.clone())
            .prop_map(|(id, dlc, fl)| Frame::remote(id, dlc).unwrap().with_fd_flags(fl)),
        (
            0u32..=0x1FFF_FFFF,
            prop::collection::vec(any::<u8>(), 0..=8)
        )
            .prop_map(|(c, d)| Frame::error(c, &d).unwrap()),
        (
            0u32..=0x1FFF_FFFF,
            prop::collection::vec(any::<u8>(), 8),
            9u8..=15,
            flags
        )
            .prop_map(|(c, d, dlc, fl)| Frame::error_with_dlc(c, &d, dlc)
                .unwrap()
                .with_fd_flags(fl)),
    ]
}

fn arb_channel() -> impl Strategy<Value = Channel> {
    prop_oneof![
        Just(Channel::None),
        (1u32..5).prop_map(Channel::Number),
        prop::sample::select(vec!["can0", "vcan3", "bus with spaces", "ü"]).prop_map(Channel::name),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_streams_round_trip(
        items in prop::collection::vec((arb_frame(), arb_channel(), any::<bool>(), 0i64..5_000_000_000), 1..100),
        gz in any::<bool>(),
    ) {
        let mut t = 0i64;
        let recs: Vec<Record> = items.into_iter().map(|(frame, channel, tx, dt)| {
            t += dt;
            Record {
                timestamp: Timestamp(t),
                channel,
                direction: if tx { Direction::Tx } else { Direction::Rx },
                frame,
            }
        }).collect();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(if gz { "r.pcapng.gz" } else { "r.pcapng" });
        write(&p, &recs, &WriterOptions::default());
        let (got, warnings) = read(&p);
        let want: Vec<Record> = recs.iter().map(projected).collect();
        prop_assert_eq!(got, want);
        prop_assert!(warnings.is_empty());
    }
}
