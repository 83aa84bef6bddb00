//! Our `socketcand` client against linux-can's socketcand daemon (built by
//! tests/setup.sh from tests/fixtures/peers/socketcand-6dd5d33.tar.gz), on
//! `vcan0` in the kernel VM of tests/vm, with can-utils on the other side:
//! what `cansend` puts on vcan0 our logger records exactly through the daemon;
//! what our `can-send` sends through it `candump` sees exactly; and
//! `can-send --period --count` through the daemon's broadcast manager sends
//! exactly the count. One VM boot runs the whole scenario.
#![cfg(target_os = "linux")]

mod common;
#[allow(unused_macros)]
#[path = "vm/harness.rs"]
mod vm;

use std::path::PathBuf;

fn socketcand() -> Option<PathBuf> {
    let dir = std::env::var_os("CANKIT_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/cankit-peers"));
    let bin = dir.join("socketcand/build/src/socketcand");
    if bin.is_file() {
        Some(bin)
    } else {
        common::missing(&format!(
            "linux-can's socketcand at {} (run tests/setup.sh)",
            bin.display()
        ));
        None
    }
}

#[test]
fn our_client_against_linux_can_socketcand() {
    if vm::in_vm() {
        return;
    }
    let Some(sc) = socketcand() else { return };
    let logger = env!("CARGO_BIN_EXE_can-logger");
    let send = env!("CARGO_BIN_EXE_can-send");
    let ch = "127.0.0.1:29536/vcan0";
    let script = format!(
        r#"set -e
ip link set lo up
ip link add vcan0 type vcan && ip link set vcan0 mtu 16 && ip link set vcan0 up
{sc} -i vcan0 -l lo -p 29536 -n >/tmp/sc.out 2>&1 &
ok=0; for i in $(seq 100); do {send} -q -i socketcand -c {ch} 7FE#00 2>/dev/null && ok=1 && break; sleep 0.1; done
test $ok = 1
# 1. vcan0 -> socketcand -> our logger
{logger} -i socketcand -c {ch} > /tmp/rx.log &
L=$!
ok=0; for i in $(seq 100); do grep -q ' 7FD#' /tmp/rx.log && ok=1 && break; cansend vcan0 7FD#01; sleep 0.1; done
test $ok = 1
cansend vcan0 123#1122; cansend vcan0 1ABCDEF0#DEADBEEF; cansend vcan0 7FF#; cansend vcan0 001#0102030405060708
ok=0; for i in $(seq 100); do grep -q ' 001#0102030405060708' /tmp/rx.log && ok=1 && break; sleep 0.1; done
kill -INT $L; wait $L || true
echo "== rx"; sed -e 's/^([0-9.]*) //' /tmp/rx.log | grep -v 7FD#
# 2. our can-send -> socketcand -> vcan0
candump -L vcan0 > /tmp/tx.log &
D=$!
sleep 0.5
{send} -i socketcand -c {ch} 321#0102 12345678#AABBCCDD 000# 7FF#0011223344556677
sleep 0.5
# 3. the daemon's broadcast manager: 5 frames, 200 ms apart
{send} -v -i socketcand -c {ch} --period 200ms --count 5 555#5A 2>/tmp/bcm.err
sleep 1
kill $D
echo "== tx"; sed -e 's/^([0-9.]*) //' /tmp/tx.log
echo "== bcm"; grep -c 'broadcast manager' /tmp/bcm.err || true
# 4. FD refused before anything is sent
echo "== fd"
{send} -i socketcand -c {ch} 123##1AA 2>&1 && exit 9 || true
echo "== end"
"#,
        sc = sc.display(),
    );
    let peers = sc
        .ancestors()
        .nth(4)
        .expect("peers dir")
        .to_string_lossy()
        .into_owned();
    let out = match vm::run(
        &["sh", "-c", &script],
        &["--timeout", "240", "--share", &peers, "--libs", logger],
    ) {
        Ok(o) => o,
        Err(e) => return common::missing(&format!("tests/vm/run-in-vm.sh: {e}")),
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if matches!(out.status.code(), Some(124) | Some(125)) {
        return common::missing(&format!("the CAN VM did not boot: {text}"));
    }
    assert_eq!(out.status.code(), Some(0), "{text}");
    let section = |name: &str| -> Vec<String> {
        let start = text.find(&format!("== {name}\n")).expect(name) + name.len() + 4;
        text[start..]
            .lines()
            .take_while(|l| !l.starts_with("== "))
            .map(|l| l.trim_end().to_string())
            .collect()
    };
    let ch_name = "127.0.0.1:29536/vcan0";
    assert_eq!(
        section("rx"),
        [
            "123#1122",
            "1ABCDEF0#DEADBEEF",
            "7FF#",
            "001#0102030405060708"
        ]
        .iter()
        .map(|f| format!("{ch_name} {f} R"))
        .collect::<Vec<_>>(),
        "{text}"
    );
    let tx = section("tx");
    let mut want: Vec<String> = [
        "321#0102",
        "12345678#AABBCCDD",
        "000#",
        "7FF#0011223344556677",
    ]
    .iter()
    .map(|f| format!("vcan0 {f}"))
    .collect();
    want.extend(std::iter::repeat_n("vcan0 555#5A".to_string(), 5));
    assert_eq!(tx, want, "{text}");
    assert_eq!(
        section("bcm"),
        ["1"],
        "the broadcast manager was used: {text}"
    );
    let fd = section("fd");
    assert!(
        fd.len() == 1 && fd[0].contains("is not in CAN FD mode; cannot send 123##1AA"),
        "{text}"
    );
}
