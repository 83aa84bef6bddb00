//! The `socketcan` backend against the real kernel CAN stack, with can-utils
//! (`cansend`, `candump`, `cangen`) as independent peers.
//!
//! On a host whose kernel has no CAN, the whole binary re-runs itself inside the
//! QEMU VM of `tests/vm` (one boot; see `tests/vm/harness.rs`). Each test makes
//! its own interfaces (names start with `ck`), so they run in parallel.
#![cfg(target_os = "linux")]

mod common;
#[macro_use]
#[path = "vm/harness.rs"]
mod vm;

use vm::{candump, candump_deltas, sh, Iface, Proc, PROBE};

use std::process::Command;
use std::time::{Duration, Instant};

use cankit::bus::socketcan::{
    bcm, describe_error, is_interface_down, is_interface_gone, SocketCanBus,
};
use cankit::bus::{self, Bus, BusSettings};
use cankit::filter::FilterSet;
use cankit::frame::text::parse_frame;
use cankit::{Channel, Direction, Error, Frame, Record, Timestamp};

fn open(channel: &str) -> SocketCanBus {
    SocketCanBus::open(&BusSettings::new("socketcan", channel))
        .unwrap_or_else(|e| panic!("open {channel}: {e}"))
}

/// Receives until `n` records arrived or `timeout` passed.
fn recv_n(bus: &mut dyn Bus, n: usize, timeout: Duration) -> Vec<Record> {
    let end = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < n {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        if let Some(r) = bus.recv(Some(left)).expect("recv") {
            out.push(r);
        }
    }
    out
}

/// Asserts that nothing more arrives within `wait`.
fn assert_quiet(bus: &mut dyn Bus, wait: Duration) {
    if let Some(r) = bus.recv(Some(wait)).expect("recv") {
        panic!("unexpected frame {} on {}", r.frame, bus.channel());
    }
}

/// How long a `candump` may take to show it listens.
const READY: Duration = Duration::from_secs(20);

fn f(text: &str) -> Frame {
    parse_frame(text).unwrap()
}

vm_test! {
    fn cansend_frames_arrive_exactly() {
        let _i = Iface::vcan("ckrx", true);
        let mut bus = open("ckrx");
        assert!(bus.is_fd(), "an MTU-72 vcan is FD capable");
        // Asking for hardware timestamps where the driver has none (vcan) falls
        // back to the kernel's software receive time.
        let mut hw_settings = BusSettings::new("socketcan", "ckrx");
        hw_settings
            .options
            .insert("timestamps".into(), "hardware".into());
        let mut hw_bus = SocketCanBus::open(&hw_settings).unwrap();
        let frames = [
            "123#DEADBEEF",
            "000#",
            "7FF#0102030405060708",
            "1ABCDEF0#00FF",
            "00000001#R",
            "123#R",
            "123#R5",
            "123##1AABBCCDDEEFF0011",
            "1FFFFFFF##3000102030405060708090A0B",
            "321##0",
            &format!("456##1{}", "5A".repeat(64)),
        ];
        let before = Timestamp::now();
        for t in frames {
            sh(&format!("cansend ckrx '{t}'"));
        }
        let after = Timestamp::now();
        let got = recv_n(&mut bus, frames.len(), Duration::from_secs(10));
        assert_eq!(got.len(), frames.len(), "frames received: {got:?}");
        for (r, t) in got.iter().zip(frames) {
            assert_eq!(r.frame, f(t), "sent {t}");
            // cansend runs on this host: the kernel flags its frames as locally sent.
            assert_eq!(r.direction, Direction::Tx, "{t}");
            assert_eq!(r.channel, Channel::name("ckrx"));
            assert!(
                r.timestamp >= before && r.timestamp <= after,
                "kernel timestamp {:?} outside [{before:?}, {after:?}]",
                r.timestamp
            );
        }
        let hw = recv_n(&mut hw_bus, frames.len(), Duration::from_secs(5));
        assert_eq!(hw.len(), frames.len());
        for (h, r) in hw.iter().zip(&got) {
            assert_eq!(h.frame, r.frame);
            assert!(h.timestamp >= before && h.timestamp <= after);
        }
        let brs = &got[7].frame;
        assert!(brs.is_fd() && brs.brs() && !brs.esi() && brs.len() == 8);
        assert!(got[8].frame.esi() && got[8].frame.len() == 12);
        assert_eq!(got[10].frame.len(), 64);
        assert_eq!(bus.take_dropped(), 0);
        assert_quiet(&mut bus, Duration::from_millis(200));
    }

    fn our_sends_reach_candump_exactly() {
        let _i = Iface::vcan("cktx", true);
        let frames = [
            "123#DEADBEEF",
            "000#",
            "1ABCDEF0#00FF",
            "123#R",
            "00000042#R8",
            "123##1AABBCCDDEEFF0011",
            "1FFFFFFF##2000102030405060708090A0B",
            "7FF##0",
        ];
        let mut bus = open("cktx");
        let dump = candump(&["-L"], "cktx", READY, || bus.send(&f(PROBE)).unwrap());
        let mut peer = open("cktx");
        for t in frames {
            bus.send(&f(t)).unwrap();
        }
        let seen = dump.frames(frames.len(), Duration::from_secs(10));
        let seen_frames: Vec<Frame> = seen.iter().map(|(_, fr)| *fr).collect();
        let want: Vec<Frame> = frames.iter().map(|t| f(t)).collect();
        assert_eq!(seen_frames, want);
        assert!(seen.iter().all(|(i, _)| i == "cktx"));
        // Another socket of this host sees them as sent by this host...
        let got = recv_n(&mut peer, frames.len(), Duration::from_secs(5));
        assert_eq!(got.iter().map(|r| r.frame).collect::<Vec<_>>(), want);
        assert!(got.iter().all(|r| r.direction == Direction::Tx));
        // ... and the sending bus does not receive its own frames.
        assert_quiet(&mut bus, Duration::from_millis(300));

        // A raw DLC (len8_dlc) survives the kernel (can-utils 2020.11 cannot show it).
        let raw = f("7FF#1122334455667788_E");
        assert_eq!(raw.dlc(), 14);
        bus.send(&raw).unwrap();
        let got = recv_n(&mut peer, 1, Duration::from_secs(5));
        assert_eq!(got.first().map(|r| r.frame), Some(raw));

        // A clone shares the socket: its sends are not delivered to either handle.
        let mut clone = bus.try_clone().unwrap();
        clone.send(&f("222#22")).unwrap();
        assert_eq!(recv_n(&mut peer, 1, Duration::from_secs(5))[0].frame, f("222#22"));
        assert_quiet(&mut bus, Duration::from_millis(200));
        assert_quiet(&mut clone, Duration::from_millis(100));
    }

    fn fd_frames_need_an_fd_interface() {
        let _i = Iface::vcan("ckclassic", false);
        let mut bus = open("ckclassic");
        assert!(!bus.is_fd());
        let e = bus.send(&f("123##1AABB")).unwrap_err();
        assert!(matches!(e, Error::NotFd { .. }), "{e}");
        assert!(e.to_string().contains("ckclassic"), "{e}");
        bus.send(&f("123#AABB")).unwrap();
        // --fd configures the interface (MTU 72 on vcan).
        let mut s = BusSettings::new("socketcan", "ckclassic");
        s.fd = true;
        let mut fd_bus = SocketCanBus::open(&s).unwrap();
        assert!(fd_bus.is_fd());
        assert!(sh("ip link show ckclassic").contains("mtu 72"));
        fd_bus.send(&f("123##1AABB")).unwrap();
    }

    fn kernel_filters_keep_frames_out_of_user_space() {
        let _i = Iface::vcan("ckfilt", false);
        // Pass list in the kernel: 3000 non-matching frames are sent while we do
        // not read. A socket queue holds a few hundred frames, so if they reached
        // the socket they would overflow it; none may be counted as dropped.
        let mut bus = open("ckfilt");
        assert!(bus.set_filters(&"123:7FF,00000456:1FFFFFFF".parse().unwrap()).unwrap());
        sh("cangen ckfilt -g 0 -p 10 -I 124 -L 8 -n 3000");
        sh("cansend ckfilt 123#01; cansend ckfilt 00000456#02; cansend ckfilt 456#03");
        let got = recv_n(&mut bus, 2, Duration::from_secs(5));
        let got: Vec<Frame> = got.iter().map(|r| r.frame).collect();
        assert_eq!(got, vec![f("123#01"), f("00000456#02")]);
        assert_quiet(&mut bus, Duration::from_millis(300));
        assert_eq!(bus.take_dropped(), 0, "filtered frames reached the socket");

        // Reject-only list: inverted kernel filters, joined.
        let mut rej = open("ckfilt");
        assert!(rej.set_filters(&"124~7FF,200~700".parse().unwrap()).unwrap());
        sh("cangen ckfilt -g 0 -p 10 -I 124 -L 8 -n 3000");
        sh("cansend ckfilt 2AB#01; cansend ckfilt 125#02; cansend ckfilt 00000124#03");
        let got: Vec<Frame> = recv_n(&mut rej, 2, Duration::from_secs(5))
            .iter()
            .map(|r| r.frame)
            .collect();
        assert_eq!(got, vec![f("125#02"), f("00000124#03")]);
        assert_quiet(&mut rej, Duration::from_millis(300));
        assert_eq!(rej.take_dropped(), 0);

        // Pass and reject: the kernel takes the pass list, the library the rest.
        let mixed: FilterSet = "100:700,123~7FF".parse().unwrap();
        let mut raw = open("ckfilt");
        assert!(!raw.set_filters(&mixed).unwrap());
        let mut s = BusSettings::new("socketcan", "ckfilt");
        s.filters = mixed;
        let mut lib = bus::open(&s).unwrap();
        sh("cansend ckfilt 123#01; cansend ckfilt 200#02; cansend ckfilt 1FF#03");
        let got: Vec<Frame> = recv_n(&mut lib, 1, Duration::from_secs(5))
            .iter()
            .map(|r| r.frame)
            .collect();
        assert_eq!(got, vec![f("1FF#03")]);
        assert_quiet(&mut lib, Duration::from_millis(300));
        let got: Vec<Frame> = recv_n(&mut raw, 2, Duration::from_secs(5))
            .iter()
            .map(|r| r.frame)
            .collect();
        assert_eq!(got, vec![f("123#01"), f("1FF#03")], "kernel part: pass list only");
    }

    fn error_frames_and_error_mask() {
        let _i = Iface::vcan("ckerr", false);
        let mut all = open("ckerr");
        let mut only_busoff = open("ckerr");
        assert!(only_busoff.set_filters(&"#40".parse().unwrap()).unwrap());
        // vcan passes error frames written to it, like a controller's.
        sh("cansend ckerr 20000080#0000000000000000");
        sh("cansend ckerr 20000040#0000000000000000");
        sh("cansend ckerr 20000204#0010000000000087");
        let got = recv_n(&mut all, 3, Duration::from_secs(5));
        let frames: Vec<Frame> = got.iter().map(|r| r.frame).collect();
        assert_eq!(
            frames,
            vec![
                Frame::error(0x80, &[0; 8]).unwrap(),
                Frame::error(0x40, &[0; 8]).unwrap(),
                Frame::error(0x204, &[0, 0x10, 0, 0, 0, 0, 0, 0x87]).unwrap(),
            ]
        );
        let text: Vec<String> = frames.iter().map(describe_error).collect();
        assert_eq!(
            text,
            vec![
                "bus error".to_string(),
                "bus-off".to_string(),
                "controller: RX error passive; counters TX 0 RX 135".to_string()
            ]
        );
        // Error frames written through the bus reach other sockets alike.
        let mut sender = open("ckerr");
        let lost = Frame::error(0x02, &[5, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        sender.send(&lost).unwrap();
        let got = recv_n(&mut all, 1, Duration::from_secs(5));
        assert_eq!(got[0].frame, lost);
        assert_eq!(describe_error(&lost), "lost arbitration at bit 5");
        let got = recv_n(&mut only_busoff, 1, Duration::from_secs(5));
        assert_eq!(got[0].frame, Frame::error(0x40, &[0; 8]).unwrap());
        assert_quiet(&mut only_busoff, Duration::from_millis(300));
    }

    fn vxcan_pair_across_network_namespaces() {
        let _ = Command::new("ip").args(["netns", "del", "cknet"]).output();
        sh("ip netns add cknet");
        let _ = Command::new("ip").args(["link", "del", "ckvx0"]).output();
        sh("ip link add ckvx0 type vxcan peer name ckvx1 netns cknet");
        sh("ip link set ckvx0 up && ip -n cknet link set ckvx1 up");
        let _guard = Iface("ckvx0".into());
        let mut bus = open("ckvx0");
        sh("ip netns exec cknet cansend ckvx1 321#CAFE");
        let got = recv_n(&mut bus, 1, Duration::from_secs(5));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].frame, f("321#CAFE"));
        // Sent in another namespace: received, not sent by this socket's host stack.
        assert_eq!(got[0].direction, Direction::Rx);
        assert_eq!(got[0].channel, Channel::name("ckvx0"));
        let mut c = Command::new("ip");
        c.args(["netns", "exec", "cknet", "candump", "-L", "ckvx1"]);
        let dump = Proc::start(c, "candump ckvx1 in cknet", READY, || {
            bus.send(&f(PROBE)).unwrap()
        });
        bus.send(&f("12345678#0102")).unwrap();
        bus.send(&f("7FF#R")).unwrap();
        let seen = dump.frames(2, Duration::from_secs(10));
        assert_eq!(
            seen,
            vec![
                ("ckvx1".to_string(), f("12345678#0102")),
                ("ckvx1".to_string(), f("7FF#R"))
            ]
        );
        let _ = Command::new("ip").args(["netns", "del", "cknet"]).output();
    }

    fn interface_down_is_a_clear_error_and_recovers() {
        // Opening: missing and down interfaces are one line naming the interface.
        let e = SocketCanBus::open(&BusSettings::new("socketcan", "cknone")).err().unwrap();
        assert!(e.to_string().contains("'cknone'") && e.to_string().contains("no such"), "{e}");
        let _i = Iface::vcan("ckdown", false);
        sh("ip link set ckdown down");
        let e = SocketCanBus::open(&BusSettings::new("socketcan", "ckdown")).err().unwrap();
        assert!(e.to_string().contains("'ckdown'") && e.to_string().contains("is down"), "{e}");
        assert!(!e.to_string().contains('\n'));
        sh("ip link set ckdown up");
        let mut bus = open("ckdown");
        sh("cansend ckdown 100#01");
        assert_eq!(recv_n(&mut bus, 1, Duration::from_secs(5))[0].frame, f("100#01"));

        // Going down while open: recv fails once with ENETDOWN, naming the interface.
        sh("ip link set ckdown down");
        let e = bus.recv(Some(Duration::from_secs(5))).unwrap_err();
        assert!(is_interface_down(&e), "{e}");
        assert!(e.to_string().contains("'ckdown'") && e.to_string().contains("down"), "{e}");
        let e = bus.send(&f("100#02")).unwrap_err();
        assert!(is_interface_down(&e), "{e}");
        // Still down: nothing, no error.
        assert!(bus.recv(Some(Duration::from_millis(200))).unwrap().is_none());
        // Back up: the same bus receives again.
        sh("ip link set ckdown up");
        sh("cansend ckdown 100#03");
        assert_eq!(recv_n(&mut bus, 1, Duration::from_secs(5))[0].frame, f("100#03"));
        bus.send(&f("100#04")).unwrap();

        // Deleting it: an error naming it, not a hang; reopening works once it
        // exists again.
        drop(_i);
        let e = bus.recv(Some(Duration::from_secs(5))).unwrap_err();
        assert!(is_interface_gone(&e) && e.to_string().contains("'ckdown'"), "{e}");
        let _i = Iface::vcan("ckdown", false);
        let mut bus = open("ckdown");
        sh("cansend ckdown 100#05");
        assert_eq!(recv_n(&mut bus, 1, Duration::from_secs(5))[0].frame, f("100#05"));
    }

    fn configuring_without_privileges_is_permission_denied() {
        let _i = Iface::vcan("ckperm", false);
        // Drop root on one thread only (the raw syscall, not libc's process-wide
        // wrapper), then ask for --fd, which must reconfigure the interface.
        let e = std::thread::spawn(|| {
            // SAFETY: setresuid on the calling thread; the thread ends right after.
            let r = unsafe { libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) };
            assert_eq!(r, 0, "setresuid");
            let mut s = BusSettings::new("socketcan", "ckperm");
            s.fd = true;
            SocketCanBus::open(&s).err().map(|e| e.to_string())
        })
        .join()
        .unwrap()
        .expect("configuring as nobody must fail");
        assert!(e.contains("permission denied") && e.contains("'ckperm'"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        // Nothing was changed.
        assert!(sh("ip link show ckperm").contains("mtu 16"));
        // An interface that already matches needs no privilege; a virtual one
        // ignores bitrates.
        sh("ip link set ckperm down && ip link set ckperm mtu 72 && ip link set ckperm up");
        std::thread::spawn(|| {
            // SAFETY: as above.
            let r = unsafe { libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) };
            assert_eq!(r, 0, "setresuid");
            let mut s = BusSettings::new("socketcan", "ckperm");
            s.fd = true;
            s.bitrate = Some(500_000);
            s.data_bitrate = Some(2_000_000);
            let bus = SocketCanBus::open(&s).unwrap();
            assert!(bus.is_fd());
        })
        .join()
        .unwrap();
    }

    fn any_names_the_interface_of_each_frame() {
        let _a = Iface::vcan("ckany0", false);
        let _b = Iface::vcan("ckany1", true);
        let mut bus = open("any");
        assert!(bus.is_fd());
        sh("cansend ckany0 100#01; cansend ckany1 200##1AA; cansend ckany0 300#03");
        let mut got: Vec<(String, Frame)> = Vec::new();
        // Other tests' interfaces may carry traffic too: keep only ours.
        let end = Instant::now() + Duration::from_secs(5);
        while got.len() < 3 && Instant::now() < end {
            if let Some(r) = bus.recv(Some(Duration::from_millis(500))).unwrap() {
                let name = r.channel.to_string();
                if name.starts_with("ckany") {
                    got.push((name, r.frame));
                }
            }
        }
        assert_eq!(
            got,
            vec![
                ("ckany0".to_string(), f("100#01")),
                ("ckany1".to_string(), f("200##1AA")),
                ("ckany0".to_string(), f("300#03")),
            ]
        );
        let e = bus.send(&f("100#01")).unwrap_err();
        assert!(matches!(e, Error::Unsupported(_)), "{e}");
    }

    fn overflow_is_counted_as_dropped() {
        let _i = Iface::vcan("ckovfl", false);
        // The system's default receive buffer (a few hundred frames), not ours.
        let mut s = BusSettings::new("socketcan", "ckovfl");
        s.options.insert("rcvbuf".into(), "0".into());
        let mut bus = SocketCanBus::open(&s).unwrap();
        assert!(bus.receive_buffer() < 1 << 20, "{}", bus.receive_buffer());

        // 3000 frames while nobody reads: the socket queue overflows. Nothing
        // arrives after them, so the count comes from reading the kernel's
        // counter when the wait times out.
        sh("cangen ckovfl -g 0 -p 10 -I 7 -L 8 -n 3000");
        let mut received = 0u64;
        while bus.recv(Some(Duration::from_millis(300))).unwrap().is_some() {
            received += 1;
        }
        let dropped = bus.take_dropped();
        eprintln!("received {received}, dropped {dropped}");
        assert!(dropped > 0, "no overflow with {received} frames received");
        assert_eq!(received + dropped, 3000);
        assert_eq!(bus.take_dropped(), 0, "take_dropped resets");

        // Again, reading what is queued without waiting (no timeout, so no
        // direct reading of the counter): the count rides on the next frame.
        sh("cangen ckovfl -g 0 -p 10 -I 7 -L 8 -n 3000");
        let mut received = 0u64;
        while bus.recv(Some(Duration::ZERO)).unwrap().is_some() {
            received += 1;
        }
        assert_eq!(bus.take_dropped(), 0, "counted without a frame or a timeout");
        sh("cansend ckovfl 008#FF");
        loop {
            let r = bus.recv(Some(Duration::from_secs(5))).unwrap().expect("the last frame");
            received += 1;
            if r.frame.id().raw() == 8 {
                break;
            }
        }
        let dropped = bus.take_dropped();
        eprintln!("received {received}, dropped {dropped}");
        assert!(dropped > 0);
        assert_eq!(received + dropped, 3001);

        // A drop after the last frame is also found on close.
        let mut quiet = SocketCanBus::open(&s).unwrap();
        sh("cangen ckovfl -g 0 -p 10 -I 7 -L 8 -n 3000");
        quiet.close().unwrap();
        assert!(quiet.take_dropped() > 0);
    }

    fn receive_buffer_is_large_unless_told() {
        let _i = Iface::vcan("ckbuf", false);
        // As root the 8 MiB default is granted beyond net.core.rmem_max.
        let bus = open("ckbuf");
        assert_eq!(bus.receive_buffer(), 8 << 20);
        let mut s = BusSettings::new("socketcan", "ckbuf");
        s.options.insert("rcvbuf".into(), "1048576".into());
        assert_eq!(SocketCanBus::open(&s).unwrap().receive_buffer(), 1 << 20);
        s.options.insert("rcvbuf".into(), "lots".into());
        let e = SocketCanBus::open(&s).err().expect("a bad rcvbuf is refused").to_string();
        assert!(e.contains("rcvbuf") && e.contains("lots"), "{e}");

        // Without privileges the kernel caps it at twice net.core.rmem_max.
        let rmem_max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let capped = std::thread::spawn(|| {
            // SAFETY: setresuid on the calling thread only; it ends right after.
            let r = unsafe { libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) };
            assert_eq!(r, 0, "setresuid");
            open("ckbuf").receive_buffer()
        })
        .join()
        .unwrap();
        assert_eq!(capped, (2 * rmem_max).min(8 << 20));

        // 6000 frames at full speed, nobody reading: the default buffer holds them.
        let mut bus = open("ckbuf");
        sh("cangen ckbuf -g 0 -p 10 -I 7 -L 8 -n 6000");
        let got = recv_n(&mut bus, 6000, Duration::from_secs(20));
        assert_eq!(got.len(), 6000);
        assert_eq!(bus.take_dropped(), 0);
    }

    fn receive_latency_batches_without_losing_frames() {
        let _i = Iface::vcan("cklat", false);
        // Frames every 5 ms: without a latency each is handed over at once;
        // with 100 ms they wait in the kernel's queue and come in batches.
        let delays = |bus: &mut SocketCanBus| -> Vec<Duration> {
            let cangen = std::process::Command::new("cangen")
                .args(["cklat", "-g", "5", "-p", "10", "-I", "123", "-L", "8", "-D", "i", "-n", "200"])
                .spawn()
                .unwrap();
            let mut cangen = cangen;
            let mut out = Vec::new();
            let mut last = None;
            let end = Instant::now() + Duration::from_secs(30);
            while out.len() < 200 && Instant::now() < end {
                let Some(r) = bus.recv(Some(Duration::from_millis(500))).unwrap() else {
                    continue;
                };
                let held = Timestamp::now().0 - r.timestamp.0;
                out.push(Duration::from_nanos(held.max(0) as u64));
                // in order: cangen -D i counts up in the first byte
                let b = r.frame.data_bytes()[0];
                if let Some(l) = last {
                    assert_eq!(b, u8::wrapping_add(l, 1), "out of order");
                }
                last = Some(b);
            }
            cangen.wait().unwrap();
            assert_eq!(out.len(), 200, "frames lost");
            out
        };
        let mut bus = open("cklat");
        let at_once = delays(&mut bus);
        bus.set_receive_latency(Duration::from_millis(100));
        let batched = delays(&mut bus);
        assert_eq!(bus.take_dropped(), 0);
        let median = |v: &[Duration]| {
            let mut v = v.to_vec();
            v.sort();
            v[v.len() / 2]
        };
        let longest = |v: &[Duration]| *v.iter().max().unwrap();
        eprintln!(
            "held: at once median {:?} max {:?}; batched median {:?} max {:?}",
            median(&at_once),
            longest(&at_once),
            median(&batched),
            longest(&batched)
        );
        assert!(median(&batched) >= Duration::from_millis(20), "no batching");
        assert!(median(&batched) > median(&at_once) * 2);
        // never much longer than the latency (the emulator adds its stalls)
        assert!(longest(&batched) < Duration::from_millis(600));

        // A burst right after slow traffic, read while it arrives: the pauses
        // (up to 100 ms) and the 8 MiB buffer keep every frame.
        let mut gen = std::process::Command::new("sh")
            .args(["-c", "cangen cklat -g 20 -p 10 -I 1 -L 8 -n 20 && cangen cklat -g 0 -p 10 -I 2 -L 8 -n 20000"])
            .spawn()
            .unwrap();
        let got = recv_n(&mut bus, 20020, Duration::from_secs(60));
        assert!(gen.wait().unwrap().success());
        assert_eq!(got.len(), 20020);
        assert_eq!(bus.take_dropped(), 0);
    }

    fn bcm_sends_periodically() {
        let _i = Iface::vcan("ckbcm", true);
        let mut peer = open("ckbcm");
        let dump = candump(&["-t", "d"], "ckbcm", READY, || {
            sh("cansend ckbcm 7FE#");
        });
        while peer.recv(Some(Duration::from_millis(100))).unwrap().is_some() {} // probes
        let frames = [f("123#DEADBEEF"), f("12345678#01")];
        let period = Duration::from_millis(50);
        let started = Instant::now();
        let task = bcm::send_periodic("ckbcm", &frames, period, Some(10)).unwrap();
        assert!(task.wait(Some(Duration::from_secs(10))).unwrap(), "TX_EXPIRED");
        let took = started.elapsed();
        let got = recv_n(&mut peer, 10, Duration::from_secs(5));
        let want: Vec<Frame> = (0..10).map(|i| frames[i % 2]).collect();
        assert_eq!(got.iter().map(|r| r.frame).collect::<Vec<_>>(), want);
        assert_quiet(&mut peer, Duration::from_millis(200));
        // 10 frames: the first at once, then 9 periods.
        assert!(took >= period * 9 - Duration::from_millis(5), "{took:?}");
        // `candump -t d` prints the time since the previous frame; the first
        // one counts from the last probe, so 9 periods remain.
        let lines = dump.lines(10, Duration::from_secs(10));
        let deltas = candump_deltas(&lines);
        eprintln!("candump -t d deltas: {deltas:?}");
        assert_eq!(deltas.len(), 10, "{lines:?}");
        // The kernel re-arms its timer from the moment it fired, so under a
        // loaded emulator single periods stretch; the median stays at the period
        // and no period is short.
        let mut periods = deltas[1..].to_vec();
        periods.sort_by(f64::total_cmp);
        let median = periods[periods.len() / 2];
        assert!((median - 0.050).abs() < 0.010, "median period {median} in {deltas:?}");
        assert!(periods[0] > 0.030, "a short period in {deltas:?}");
        task.stop().unwrap();

        // Without a count the task runs until dropped.
        let task = bcm::send_periodic("ckbcm", &[f("456##1AABB")], Duration::from_millis(20), None).unwrap();
        let got = recv_n(&mut peer, 5, Duration::from_secs(5));
        assert_eq!(got.len(), 5);
        assert!(got.iter().all(|r| r.frame == f("456##1AABB")));
        drop(task);
        std::thread::sleep(Duration::from_millis(100));
        while peer.recv(Some(Duration::from_millis(50))).unwrap().is_some() {}
        assert_quiet(&mut peer, Duration::from_millis(200));

        let mixed = [f("001#01"), f("002##0")];
        assert!(bcm::send_periodic("ckbcm", &mixed, period, Some(1)).is_err());
        assert!(bcm::send_periodic("cknone", &frames, period, Some(1)).is_err());
    }
}

/// The entry point end-to-end tests use: any command in its own VM, with the
/// repository shared, can-utils present and the exit code passed back.
#[test]
fn vm_run_passes_output_and_exit_code_back() {
    if vm::in_vm() || vm::kernel_has_can() {
        return; // this checks the host side of the harness
    }
    let script = "ip link add ckrun type vcan && ip link set ckrun up \
        && (candump -L -n 1 ckrun & sleep 0.3; cansend ckrun 5A5#0102; wait) \
        && test -f Cargo.toml && echo \"in_vm=$CANKIT_IN_VM\" && exit 7";
    let out = match vm::run(&["sh", "-c", script], &["--timeout", "120"]) {
        Ok(o) => o,
        Err(e) => return common::missing(&format!("tests/vm/run-in-vm.sh: {e}")),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    if matches!(out.status.code(), Some(124) | Some(125)) {
        return common::missing(&format!("the CAN VM did not boot: {text}"));
    }
    assert_eq!(out.status.code(), Some(7), "{text}");
    assert!(text.contains(" ckrun 5A5#0102\n"), "{text}");
    assert!(text.contains("in_vm=1\n"), "{text}");
}
