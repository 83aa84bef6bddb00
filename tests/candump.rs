//! candump `.log` files through the real `can-convert`: what is not a candump
//! log is read (candump's screen output, as people paste it) or refused aloud,
//! and error frames are written so that python-can and can-utils read them back.

mod common;

use std::path::Path;

use cankit::frame::text::format_frame;
use common::tools::{read_records, run, tool};

/// `can-convert -v FILE OUT` (OUT's suffix gives the format): the exit code,
/// stderr and the frames written.
fn convert(file: &Path, out_name: &str) -> (Option<i32>, String, Vec<cankit::Record>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(out_name);
    let o = run(tool("can-convert").arg("-v").arg(file).arg(&out));
    let recs = if out.exists() {
        read_records(&out)
    } else {
        Vec::new()
    };
    (o.status.code(), String::from_utf8(o.stderr).unwrap(), recs)
}

fn frames(recs: &[cankit::Record]) -> Vec<String> {
    recs.iter().map(|r| format_frame(&r.frame)).collect()
}

#[test]
fn repro_screen_lines_read_and_the_busmaster_line_named() {
    let Some(fx) = common::fixtures() else { return };
    let file = fx.join("repro/log_not_candump.log");
    let (code, err, recs) = convert(&file, "out.jsonl");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        frames(&recs),
        ["680#0322010000000000", "690#1027620100010202"],
        "{err}"
    );
    let name = file.display();
    assert!(
        err.contains(&format!(
            "{name}: line 3: not a candump log line: '22:20:14:992 Rx 0 0000021A s 8 FE 36"
        )),
        "{err}"
    );
    assert!(err.contains(&format!("{name}: 1 line(s) skipped")), "{err}");
    assert!(
        err.contains("2 frame(s) read, 2 written, 1 line(s) skipped"),
        "{err}"
    );
}

#[test]
fn a_log_of_nothing_readable_is_an_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("busmaster-lines.log");
    std::fs::write(
        &file,
        "22:20:14:992 Rx 0 0000021A s 8 FE 36 12 FE 69 05 07 AD\n22:20:14:993 Rx 0 0000021B s 0\n",
    )
    .unwrap();
    let (code, err, _) = convert(&file, "out.asc");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "{}: line 1: not a candump log line: '22:20:14:992 Rx 0",
            file.display()
        )) && err.contains("(no frame read; 2 line(s) skipped)"),
        "{err}"
    );
    // an empty log is no error: nothing to skip
    std::fs::write(&file, "").unwrap();
    let (code, err, recs) = convert(&file, "out.jsonl");
    assert_eq!((code, recs.len()), (Some(0), 0), "{err}");
}

/// The frames the screen outputs below show, as cansend sent them (without
/// `-x` the screen shows no FD flags: `12345678##1...` and `123##3` read as
/// `##0`).
const SENT: [&str; 9] = [
    "123#DEADBEEF",
    "12345678##1000102030405060708090A0B",
    "123##3",
    "7FF#R4",
    "001#R",
    "1F334455#1122334455667788",
    "20000080#0000000000000000",
    "20000004#0004000000000000",
    "123#4142",
];

/// candump's screen output for the frames of [`SENT`] (can-utils 2020.11 in
/// the project's VM, tests/vm/run-in-vm.sh --hostroot: `cansend vcan0 ...`
/// for each, `candump OPTS vcan0,0:0,#FFFFFFFF`; its output copied unchanged,
/// a tab written `\t`). `1F334455#1122334455667788_D` was sent as 8 bytes:
/// 2020.11's cansend has no raw DLC.
const SCREENS: &[(&str, &str)] = &[
    (
        "",
        "  vcan0  123   [4]  DE AD BE EF
  vcan0  12345678  [12]  00 01 02 03 04 05 06 07 08 09 0A 0B
  vcan0       123  [00] 
  vcan0       7FF   [4]  remote request
  vcan0       001   [0]  remote request
  vcan0  1F334455   [8]  11 22 33 44 55 66 77 88
  vcan0  20000080   [8]  00 00 00 00 00 00 00 00   ERRORFRAME
  vcan0  20000004   [8]  00 04 00 00 00 00 00 00   ERRORFRAME
  vcan0       123   [2]  41 42
",
    ),
    (
        "-ta",
        " (1796406561.344236)  vcan0  123   [4]  DE AD BE EF
 (1796406561.508650)  vcan0  12345678  [12]  00 01 02 03 04 05 06 07 08 09 0A 0B
 (1796406561.830817)  vcan0       123  [00] 
 (1796406562.013899)  vcan0       7FF   [4]  remote request
 (1796406562.146144)  vcan0       001   [0]  remote request
 (1796406562.250920)  vcan0  1F334455   [8]  11 22 33 44 55 66 77 88
 (1796406562.340238)  vcan0  20000080   [8]  00 00 00 00 00 00 00 00   ERRORFRAME
 (1796406562.398568)  vcan0  20000004   [8]  00 04 00 00 00 00 00 00   ERRORFRAME
 (1796406562.474267)  vcan0       123   [2]  41 42
",
    ),
    (
        "-tA",
        " (2026-12-04 17:49:24.487932)  vcan0  123   [4]  DE AD BE EF
 (2026-12-04 17:49:25.018714)  vcan0  12345678  [12]  00 01 02 03 04 05 06 07 08 09 0A 0B
 (2026-12-04 17:49:25.118983)  vcan0       123  [00] 
 (2026-12-04 17:49:25.190221)  vcan0       7FF   [4]  remote request
 (2026-12-04 17:49:25.295586)  vcan0       001   [0]  remote request
 (2026-12-04 17:49:25.389187)  vcan0  1F334455   [8]  11 22 33 44 55 66 77 88
 (2026-12-04 17:49:25.487484)  vcan0  20000080   [8]  00 00 00 00 00 00 00 00   ERRORFRAME
 (2026-12-04 17:49:25.570126)  vcan0  20000004   [8]  00 04 00 00 00 00 00 00   ERRORFRAME
 (2026-12-04 17:49:25.649937)  vcan0       123   [2]  41 42
",
    ),
    (
        "-tz",
        " (000.000000)  vcan0  123   [4]  DE AD BE EF
 (000.106606)  vcan0  12345678  [12]  00 01 02 03 04 05 06 07 08 09 0A 0B
 (000.182844)  vcan0       123  [00] 
 (000.251705)  vcan0       7FF   [4]  remote request
 (000.329399)  vcan0       001   [0]  remote request
 (000.408778)  vcan0  1F334455   [8]  11 22 33 44 55 66 77 88
 (000.471654)  vcan0  20000080   [8]  00 00 00 00 00 00 00 00   ERRORFRAME
 (000.551766)  vcan0  20000004   [8]  00 04 00 00 00 00 00 00   ERRORFRAME
 (000.633004)  vcan0       123   [2]  41 42
",
    ),
    (
        "-td",
        " (000.000000)  vcan0  123   [4]  DE AD BE EF
 (000.251398)  vcan0  12345678  [12]  00 01 02 03 04 05 06 07 08 09 0A 0B
 (000.216322)  vcan0       123  [00] 
 (000.210737)  vcan0       7FF   [4]  remote request
 (000.098717)  vcan0       001   [0]  remote request
 (000.222192)  vcan0  1F334455   [8]  11 22 33 44 55 66 77 88
 (000.172790)  vcan0  20000080   [8]  00 00 00 00 00 00 00 00   ERRORFRAME
 (000.174441)  vcan0  20000004   [8]  00 04 00 00 00 00 00 00   ERRORFRAME
 (000.256781)  vcan0       123   [2]  41 42
",
    ),
    (
        "-x -td",
        " (000.000000)  vcan0  TX - -  123   [4]  DE AD BE EF
 (000.123164)  vcan0  TX B -  12345678  [12]  00 01 02 03 04 05 06 07 08 09 0A 0B
 (000.775115)  vcan0  TX B E       123  [00] 
 (000.296522)  vcan0  TX - -       7FF   [4]  remote request
 (000.153901)  vcan0  TX - -       001   [0]  remote request
 (000.155083)  vcan0  TX - -  1F334455   [8]  11 22 33 44 55 66 77 88
 (000.158068)  vcan0  TX - -  20000080   [8]  00 00 00 00 00 00 00 00   ERRORFRAME
 (000.134130)  vcan0  TX - -  20000004   [8]  00 04 00 00 00 00 00 00   ERRORFRAME
 (000.138542)  vcan0  TX - -       123   [2]  41 42
",
    ),
    (
        "-i",
        "  vcan0  123   [4]  11011110 10101101 10111110 11101111
  vcan0  12345678  [12]  00000000 00000001 00000010 00000011 00000100 00000101 00000110 00000111 00001000 00001001 00001010 00001011
  vcan0       123  [00] 
  vcan0       7FF   [4]  remote request
  vcan0       001   [0]  remote request
  vcan0  1F334455   [8]  00010001 00100010 00110011 01000100 01010101 01100110 01110111 10001000
  vcan0  20000080   [8]  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000   ERRORFRAME
  vcan0  20000004   [8]  00000000 00000100 00000000 00000000 00000000 00000000 00000000 00000000   ERRORFRAME
  vcan0       123   [2]  01000001 01000010
",
    ),
    (
        "-a",
        "  vcan0  123   [4]  DE AD BE EF               '....'
  vcan0  12345678  [12]  00 01 02 03 04 05 06 07 08 09 0A 0B
  vcan0       123  [00]                            ''
  vcan0       7FF   [4]  remote request
  vcan0       001   [0]  remote request
  vcan0  1F334455   [8]  11 22 33 44 55 66 77 88   '.\"3DUfw.'
  vcan0  20000080   [8]  00 00 00 00 00 00 00 00   ERRORFRAME
  vcan0  20000004   [8]  00 04 00 00 00 00 00 00   ERRORFRAME
  vcan0       123   [2]  41 42                     'AB'
",
    ),
    (
        "-S",
        "  vcan0  123   [4]  EF`BE`AD`DE
  vcan0  12345678  [12]  0B`0A`09`08`07`06`05`04`03`02`01`00
  vcan0       123  [00] 
  vcan0       7FF   [4]  remote request
  vcan0       001   [0]  remote request
  vcan0  1F334455   [8]  88`77`66`55`44`33`22`11
  vcan0  20000080   [8]  00`00`00`00`00`00`00`00   ERRORFRAME
  vcan0  20000004   [8]  00`00`00`00`00`00`04`00   ERRORFRAME
  vcan0       123   [2]  42`41
",
    ),
    (
        "-e",
        "  vcan0  123   [4]  DE AD BE EF
  vcan0  12345678  [12]  00 01 02 03 04 05 06 07 08 09 0A 0B
  vcan0       123  [00] 
  vcan0       7FF   [4]  remote request
  vcan0       001   [0]  remote request
  vcan0  1F334455   [8]  11 22 33 44 55 66 77 88
  vcan0  20000080   [8]  00 00 00 00 00 00 00 00   ERRORFRAME
\tbus-error
  vcan0  20000004   [8]  00 04 00 00 00 00 00 00   ERRORFRAME
\tcontroller-problem{rx-error-warning}
  vcan0       123   [2]  41 42
",
    ),
];

#[test]
fn candumps_screen_output_converts_with_every_option() {
    let dir = tempfile::tempdir().unwrap();
    for (opts, text) in SCREENS {
        let file = dir.path().join("pasted.log");
        std::fs::write(&file, text).unwrap();
        let (code, err, recs) = convert(&file, "out.log");
        assert_eq!(code, Some(0), "candump {opts}: {err}");
        let mut sent = SENT.map(String::from);
        if !opts.contains("-x") {
            sent[1] = sent[1].replacen("##1", "##0", 1);
            sent[2] = sent[2].replacen("##3", "##0", 1);
        }
        assert_eq!(frames(&recs), sent, "candump {opts}: {err}");
        assert!(!err.contains("skipped"), "candump {opts}: {err}");
        assert!(
            recs.iter()
                .all(|r| r.channel == cankit::Channel::name("vcan0")),
            "candump {opts}"
        );
        let t: Vec<i64> = recs.iter().map(|r| r.timestamp.as_nanos() / 1000).collect();
        let want: Vec<i64> = match *opts {
            "" | "-i" | "-a" | "-S" | "-e" => vec![0; 9],
            "-ta" => vec![
                1796406561344236,
                1796406561508650,
                1796406561830817,
                1796406562013899,
                1796406562146144,
                1796406562250920,
                1796406562340238,
                1796406562398568,
                1796406562474267,
            ],
            // the local time of the VM (UTC), read as UTC
            "-tA" => vec![
                1796406564487932,
                1796406565018714,
                1796406565118983,
                1796406565190221,
                1796406565295586,
                1796406565389187,
                1796406565487484,
                1796406565570126,
                1796406565649937,
            ],
            "-tz" => vec![
                0, 106606, 182844, 251705, 329399, 408778, 471654, 551766, 633004,
            ],
            // each since the one before: summed
            "-td" => vec![
                0, 251398, 467720, 678457, 777174, 999366, 1172156, 1346597, 1603378,
            ],
            "-x -td" => vec![
                0, 123164, 898279, 1194801, 1348702, 1503785, 1661853, 1795983, 1934525,
            ],
            o => panic!("no times for {o}"),
        };
        assert_eq!(t, want, "candump {opts}");
        if opts.contains("-x") {
            assert!(recs.iter().all(|r| r.direction == cankit::Direction::Tx));
            assert!(recs[1].frame.brs() && !recs[1].frame.esi());
            assert!(recs[2].frame.brs() && recs[2].frame.esi());
        }
        if opts.starts_with("-t") {
            // relative times say how they were read
            let said =
                err.contains("read as `candump -t z`") || err.contains("read as `candump -t d`");
            assert_eq!(said, opts.contains("-tz") || opts.contains("-td"), "{err}");
        }
    }
}

#[test]
fn error_frames_without_a_class_come_back_as_error_frames() {
    let dir = tempfile::tempdir().unwrap();
    let asc = dir.path().join("errors.asc");
    std::fs::write(
        &asc,
        "date Tue Nov 14 10:13:20.001 pm 2023\nbase hex  timestamps absolute\n   1.000000 1  ErrorFrame\n   1.500000 1  123             Rx   d 1 11\n   2.000000 CANFD   2 Tx   ErrorFrame\n",
    )
    .unwrap();
    let log = dir.path().join("errors.log");
    let o = run(tool("can-convert").arg(&asc).arg(&log));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text,
        "(1700000001.001000) can0 20000080#0000000000000000 R\n(1700000001.501000) can0 123#11 R\n(1700000002.001000) can1 20000080#0000000000000000 T\n"
    );
    // python-can reads them as error frames
    if let Some(py) = common::python() {
        let got = common::python_can_reads(&py, &log, &[]);
        let errs: Vec<bool> = got
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["err"] == true)
            .collect();
        assert_eq!(errs, [true, false, true], "{got}");
    }
    // and so does can-utils' log2asc
    if common::have("log2asc") {
        let out = dir.path().join("back.asc");
        let st = std::process::Command::new("log2asc")
            .arg("-I")
            .arg(&log)
            .arg("-O")
            .arg(&out)
            .args(["can0", "can1"])
            .status()
            .unwrap();
        assert!(st.success());
        let back = std::fs::read_to_string(&out).unwrap();
        assert_eq!(back.matches("ErrorFrame").count(), 2, "{back}");
    } else {
        common::missing("log2asc (can-utils)");
    }
}
