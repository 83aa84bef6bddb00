//! cankit: a toolkit for Controller Area Network work.
//!
//! The library behind `can-logger`, `can-player`, `can-viewer`, `can-send`,
//! `can-bridge` and `can-convert`. Every tool is a pipe from a source to a sink:
//!
//! * [`bus::Bus`] sends and receives [`frame::Frame`]s on an interface
//!   (`virtual`, `udp_multicast`, `socketcan`), opened from [`bus::BusSettings`];
//! * [`format`] reads and writes log files as streams of [`frame::Record`]s;
//! * [`filter`] selects frames by id (`ID:MASK`, `ID~MASK`);
//! * [`config`] resolves bus settings from the command line, the environment and
//!   a TOML file with named profiles.
//!
//! ```
//! use cankit::frame::text::parse_frame;
//!
//! let frame = parse_frame("123#DEADBEEF").unwrap();
//! assert_eq!(frame.id().raw(), 0x123);
//! assert_eq!(frame.to_string(), "123#DEADBEEF");
//! ```

pub mod bus;
pub mod cli;
pub mod config;
pub mod error;
pub mod filter;
pub mod format;
pub mod frame;
pub mod pipe;
pub mod replay;
pub mod view;

pub use error::{Error, Result};
pub use frame::{Channel, Direction, FdFlags, Frame, Id, Kind, Record, Timestamp};
