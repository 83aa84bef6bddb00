//! cankit: a toolkit for Controller Area Network work.
//!
//! The library behind `can-logger`, `can-player`, `can-viewer`, `can-send`,
//! `can-bridge` and `can-convert`. Every tool is a [`pipe`] from a source to a
//! sink through the same stages:
//!
//! * [`bus::Bus`] sends and receives [`frame::Frame`]s on an interface
//!   (`virtual`, `udp_multicast`, `socketcan`: the registry [`bus::BACKENDS`]),
//!   opened from [`bus::BusSettings`];
//! * [`format`](mod@format) reads and writes log files as streams of [`frame::Record`]s
//!   (the registry [`format::FORMATS`]);
//! * [`filter`] selects frames by id (`ID:MASK`, `ID~MASK`);
//! * [`pipe`] joins a source and a sink: filters, time window, channel
//!   numbers, `--count`/`--duration` limits, Ctrl-C and the summary;
//! * [`config`] resolves bus settings from the command line, the environment and
//!   a TOML file with named profiles.
//!
//! The command-line front ends live behind the default `cli` feature; with
//! `default-features = false` the library builds without clap, anyhow or any
//! terminal crate.
//!
//! Frames in can-utils' syntax:
//!
//! ```
//! use cankit::frame::text::parse_frame;
//!
//! let frame = parse_frame("123#DEADBEEF").unwrap();
//! assert_eq!(frame.id().raw(), 0x123);
//! assert_eq!(frame.to_string(), "123#DEADBEEF");
//! ```
//!
//! Open a bus and receive (the host-local `virtual` bus needs no hardware):
//!
//! ```
//! use std::time::Duration;
//! use cankit::bus::{self, BusSettings};
//! use cankit::frame::text::parse_frame;
//!
//! # let name = format!("doc-{}", std::process::id());
//! let settings = BusSettings::new("virtual", &name);
//! let mut rx = bus::open(&settings).unwrap();
//! let mut tx = bus::open(&settings).unwrap();
//! tx.send(&parse_frame("123#DEADBEEF").unwrap()).unwrap();
//! let rec = rx.recv(Some(Duration::from_secs(5))).unwrap().expect("a frame");
//! assert_eq!(rec.frame.to_string(), "123#DEADBEEF");
//! ```
//!
//! Read a BLF log and write it as ASC:
//!
//! ```
//! use cankit::format::{self, WriterOptions};
//! use cankit::frame::{text::parse_frame, Record, Timestamp};
//!
//! # let dir = std::env::temp_dir().join(format!("cankit-doc-lib-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! let (blf, asc) = (dir.join("trace.blf"), dir.join("trace.asc"));
//! let force = WriterOptions { force: true, ..Default::default() };
//! // A small BLF to start from.
//! let mut w = format::create_writer(&blf, None, &force).unwrap();
//! for (i, f) in ["123#11", "18FF0102#AABB"].iter().enumerate() {
//!     let t = Timestamp::from_micros(1_700_000_000_000_000 + i as i64 * 1000);
//!     w.write(&Record::new(t, parse_frame(f).unwrap())).unwrap();
//! }
//! w.finish().unwrap();
//!
//! let mut reader = format::open_reader(&blf, None).unwrap();
//! let mut writer = format::create_writer(&asc, None, &force).unwrap();
//! while let Some(rec) = reader.read().unwrap() {
//!     writer.write(&rec).unwrap();
//! }
//! writer.finish().unwrap();
//! assert!(std::fs::read_to_string(&asc).unwrap().contains("18FF0102x"));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

pub mod bus;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
pub mod dbc;
pub mod error;
pub mod filter;
pub mod format;
pub mod frame;
pub mod pipe;
pub mod replay;
pub mod view;

pub use error::{Error, Result};
pub use frame::{Channel, Direction, FdFlags, Frame, Id, Kind, Record, Timestamp};
