//! Buses: the [`Bus`] trait every backend implements, the [`BusSettings`] that
//! describe which one to open, and [`open`], the registry that maps an interface
//! name (`virtual`, `udp_multicast`, `socketcan`) to its backend.
//!
//! Filters given in the settings are applied by [`open`]: pushed down to the
//! backend where it can ([`Bus::set_filters`] returns true), otherwise applied in
//! the library by a wrapper, so that every caller sees only matching frames.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::filter::FilterSet;
use crate::frame::{Frame, Record};

pub mod sim;
#[cfg(target_os = "linux")]
pub mod socketcan;
pub mod udp;

/// The interface used when nothing is configured.
pub const DEFAULT_INTERFACE: &str = "virtual";
/// The channel used on the default interface when nothing is configured.
pub const DEFAULT_CHANNEL: &str = "vcan0";

/// An open CAN bus.
///
/// A bus never delivers the frames its own handle sent (python-can's
/// `receive_own_messages=False`), which is what keeps `can-bridge --both-ways`
/// free of echo loops; frames sent by other processes or other handles on the
/// same channel are delivered.
pub trait Bus: Send {
    /// Sends one frame. An FD frame on a bus that cannot carry FD is an error
    /// ([`Error::Unsupported`]), never a truncation.
    fn send(&mut self, frame: &Frame) -> Result<()>;

    /// Waits up to `timeout` (forever with `None`) for the next frame.
    /// `Ok(None)` means the timeout expired.
    fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Record>>;

    /// The channel this bus is on, as the user named it.
    fn channel(&self) -> &str;

    /// True if the bus carries CAN FD frames.
    fn is_fd(&self) -> bool;

    /// Pushes filters down to the backend. Returns true if the backend now
    /// applies them exactly, false if the library must filter (the default).
    fn set_filters(&mut self, _filters: &FilterSet) -> Result<bool> {
        Ok(false)
    }

    /// Another handle on the same open bus (sharing its socket), so one thread
    /// can receive while another sends. Frames sent through either handle are
    /// not delivered back to either.
    fn try_clone(&self) -> Result<Box<dyn Bus>>;

    /// Frames the backend knows it lost since the last call (a kernel overflow
    /// counter, a gap in a sequence), for the logger to report.
    fn take_dropped(&mut self) -> u64 {
        0
    }

    /// Lets the backend hand frames over up to `max` after they arrived, so
    /// that it can wake up once for several frames instead of once per frame
    /// (a logger's choice; a viewer or bridge wants every frame at once, the
    /// default). Timestamps are unaffected: they are taken on arrival.
    /// Backends without such batching ignore it.
    fn set_receive_latency(&mut self, _max: Duration) {}

    /// Releases the bus. Dropping it does the same; this reports errors.
    /// Drops the backend learns of while closing are left for
    /// [`Bus::take_dropped`].
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
}

impl Bus for Box<dyn Bus> {
    fn send(&mut self, frame: &Frame) -> Result<()> {
        (**self).send(frame)
    }
    fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Record>> {
        (**self).recv(timeout)
    }
    fn channel(&self) -> &str {
        (**self).channel()
    }
    fn is_fd(&self) -> bool {
        (**self).is_fd()
    }
    fn set_filters(&mut self, filters: &FilterSet) -> Result<bool> {
        (**self).set_filters(filters)
    }
    fn try_clone(&self) -> Result<Box<dyn Bus>> {
        (**self).try_clone()
    }
    fn take_dropped(&mut self) -> u64 {
        (**self).take_dropped()
    }
    fn set_receive_latency(&mut self, max: Duration) {
        (**self).set_receive_latency(max)
    }
    fn close(&mut self) -> Result<()> {
        (**self).close()
    }
}

/// Everything needed to open a bus.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct BusSettings {
    /// Backend name: `virtual`, `udp_multicast`, `socketcan`.
    pub interface: String,
    /// Channel: a virtual bus name, a multicast group, a network interface.
    pub channel: String,
    /// Nominal bitrate in bit/s, where the backend sets it.
    pub bitrate: Option<u32>,
    /// Configure the interface for CAN FD.
    pub fd: bool,
    /// CAN FD data-phase bitrate in bit/s.
    pub data_bitrate: Option<u32>,
    /// Backend-specific options (`--bus-opt KEY=VALUE`).
    pub options: BTreeMap<String, String>,
    /// Id filters.
    pub filters: FilterSet,
}

impl BusSettings {
    /// Settings for `interface` and `channel` with everything else default.
    pub fn new(interface: &str, channel: &str) -> BusSettings {
        BusSettings {
            interface: interface.to_string(),
            channel: channel.to_string(),
            ..BusSettings::default()
        }
    }

    /// A bus error about these settings.
    pub fn error(&self, message: impl Into<String>) -> Error {
        Error::Bus {
            interface: self.interface.clone(),
            channel: self.channel.clone(),
            message: message.into(),
        }
    }

    /// An option parsed as `T`, or an error naming it.
    pub fn option<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>> {
        match self.options.get(key) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| self.error(format!("bad value '{v}' for option '{key}'"))),
        }
    }

    /// Fails on options the backend does not know, naming them.
    pub fn check_options(&self, known: &[&str]) -> Result<()> {
        for k in self.options.keys() {
            if !known.contains(&k.as_str()) {
                let list = if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                };
                return Err(self.error(format!("unknown option '{k}' (known: {list})")));
            }
        }
        Ok(())
    }
}

/// The interface names [`open`] knows, in the order help texts list them.
pub fn interfaces() -> &'static [&'static str] {
    if cfg!(target_os = "linux") {
        &["virtual", "udp_multicast", "socketcan"]
    } else {
        &["virtual", "udp_multicast"]
    }
}

/// Opens the bus the settings describe, with its filters applied.
pub fn open(settings: &BusSettings) -> Result<Box<dyn Bus>> {
    let mut bus: Box<dyn Bus> = match settings.interface.as_str() {
        "virtual" => Box::new(sim::SimBus::open(settings)?),
        "udp_multicast" => Box::new(udp::UdpMulticastBus::open(settings)?),
        #[cfg(target_os = "linux")]
        "socketcan" => Box::new(socketcan::SocketCanBus::open(settings)?),
        other => {
            return Err(Error::UnknownInterface(
                other.to_string(),
                interfaces().join(", "),
            ))
        }
    };
    if settings.filters.is_empty() || bus.set_filters(&settings.filters)? {
        Ok(bus)
    } else {
        Ok(Box::new(Filtered {
            inner: bus,
            filters: settings.filters.clone(),
        }))
    }
}

/// Applies a [`FilterSet`] in the library for backends that cannot.
struct Filtered {
    inner: Box<dyn Bus>,
    filters: FilterSet,
}

impl Bus for Filtered {
    fn send(&mut self, frame: &Frame) -> Result<()> {
        self.inner.send(frame)
    }

    fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Record>> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
            match self.inner.recv(left)? {
                Some(r) if self.filters.matches(&r.frame) => return Ok(Some(r)),
                Some(_) if left != Some(Duration::ZERO) => continue,
                _ => return Ok(None),
            }
        }
    }

    fn channel(&self) -> &str {
        self.inner.channel()
    }

    fn is_fd(&self) -> bool {
        self.inner.is_fd()
    }

    fn set_filters(&mut self, filters: &FilterSet) -> Result<bool> {
        self.filters = filters.clone();
        Ok(true)
    }

    fn try_clone(&self) -> Result<Box<dyn Bus>> {
        Ok(Box::new(Filtered {
            inner: self.inner.try_clone()?,
            filters: self.filters.clone(),
        }))
    }

    fn take_dropped(&mut self) -> u64 {
        self.inner.take_dropped()
    }

    fn set_receive_latency(&mut self, max: Duration) {
        self.inner.set_receive_latency(max)
    }

    fn close(&mut self) -> Result<()> {
        self.inner.close()
    }
}
