//! Buses: the [`Bus`] trait every backend implements, the [`BusSettings`] that
//! describe which one to open, and the registry [`BACKENDS`] that [`open`]
//! uses to map an interface name (`virtual`, `udp_multicast`, `socketcan`) to
//! its backend.
//!
//! Filters given in the settings are applied by [`open`]: pushed down to the
//! backend where it can ([`Bus::set_filters`] returns true), otherwise applied in
//! the library by a wrapper, so that every caller sees only matching frames.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::filter::FilterSet;
use crate::frame::{Frame, Record};

pub(crate) mod batch;
#[cfg(target_os = "linux")]
pub mod cannelloni;
pub mod sim;
pub mod slcan;
#[cfg(target_os = "linux")]
pub mod socketcan;
pub mod socketcand;
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
    /// ([`Error::NotFd`] or [`Error::Unsupported`]), never a truncation.
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

    /// Sends that found the transmit queue full and were retried after a
    /// wait (SocketCAN's `ENOBUFS`) since the last call, for the tools'
    /// summaries; a send that still fails is an error. The default: none.
    fn take_send_retries(&mut self) -> u64 {
        0
    }

    /// Lets the backend hand frames over up to `max` after they arrived, so
    /// that it can wake up once for several frames instead of once per frame
    /// (a logger's choice; a viewer or bridge wants every frame at once, the
    /// default). Timestamps are unaffected: they are taken on arrival.
    /// Backends without such batching ignore it.
    fn set_receive_latency(&mut self, _max: Duration) {}

    /// Says that this handle will never receive (a sender, a player), so that
    /// a backend that queues every frame for every handle (the virtual bus)
    /// stops queueing for it. The default does nothing.
    fn set_send_only(&mut self) {}

    /// Whether a receive error is an outage the bus recovers from (a network
    /// interface taken down or deleted) rather than a failure. The default:
    /// every error is a failure.
    fn outage(&self, _err: &Error) -> Option<Outage> {
        None
    }

    /// Starts sending `frames` cyclically, one every `period` (`count` in
    /// all, or until stopped), in the kernel or the device rather than in
    /// this process, where the backend can (SocketCAN's broadcast manager).
    /// `Ok(None)`: it cannot; the caller schedules the sends itself.
    fn send_periodic(
        &mut self,
        _frames: &[Frame],
        _period: Duration,
        _count: Option<u32>,
    ) -> Result<Option<Box<dyn PeriodicTask>>> {
        Ok(None)
    }

    /// Releases the bus. Dropping it does the same; this reports errors.
    /// Drops the backend learns of while closing are left for
    /// [`Bus::take_dropped`].
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
}

/// A receive error that does not end the bus ([`Bus::outage`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
    /// The interface is down: keep the bus; frames resume when it is up.
    Down,
    /// The interface was deleted: the bus must be opened again.
    Gone,
}

/// A periodic send running outside this process ([`Bus::send_periodic`]).
pub trait PeriodicTask: Send {
    /// Waits up to `timeout` for the task to end (its count sent); true if it
    /// has.
    fn wait(&self, timeout: Option<Duration>) -> Result<bool>;
    /// Stops the task.
    fn stop(self: Box<Self>) -> Result<()>;
}

/// A bus that hands most calls to another one (a boxed bus, the library's
/// filter): [`forwarded_bus_methods`] writes those calls once.
trait Wrapping {
    fn inner(&self) -> &dyn Bus;
    fn inner_mut(&mut self) -> &mut dyn Bus;
}

/// The [`Bus`] methods a [`Wrapping`] bus passes straight through.
macro_rules! forwarded_bus_methods {
    () => {
        fn send(&mut self, frame: &Frame) -> Result<()> {
            self.inner_mut().send(frame)
        }
        fn channel(&self) -> &str {
            self.inner().channel()
        }
        fn is_fd(&self) -> bool {
            self.inner().is_fd()
        }
        fn take_dropped(&mut self) -> u64 {
            self.inner_mut().take_dropped()
        }
        fn take_send_retries(&mut self) -> u64 {
            self.inner_mut().take_send_retries()
        }
        fn set_receive_latency(&mut self, max: Duration) {
            self.inner_mut().set_receive_latency(max)
        }
        fn outage(&self, err: &Error) -> Option<Outage> {
            self.inner().outage(err)
        }
        fn set_send_only(&mut self) {
            self.inner_mut().set_send_only()
        }
        fn send_periodic(
            &mut self,
            frames: &[Frame],
            period: Duration,
            count: Option<u32>,
        ) -> Result<Option<Box<dyn PeriodicTask>>> {
            self.inner_mut().send_periodic(frames, period, count)
        }
        fn close(&mut self) -> Result<()> {
            self.inner_mut().close()
        }
    };
}

impl Wrapping for Box<dyn Bus> {
    fn inner(&self) -> &dyn Bus {
        &**self
    }
    fn inner_mut(&mut self) -> &mut dyn Bus {
        &mut **self
    }
}

impl Bus for Box<dyn Bus> {
    forwarded_bus_methods!();
    fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Record>> {
        (**self).recv(timeout)
    }
    fn set_filters(&mut self, filters: &FilterSet) -> Result<bool> {
        (**self).set_filters(filters)
    }
    fn try_clone(&self) -> Result<Box<dyn Bus>> {
        (**self).try_clone()
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
            Some(v) => v.parse().map(Some).map_err(|_| {
                Error::bad_option_value(
                    self.owner(),
                    key,
                    v,
                    format!(
                        "a {}",
                        std::any::type_name::<T>()
                            .rsplit("::")
                            .next()
                            .unwrap_or("value")
                    ),
                )
            }),
        }
    }

    /// Fails on options the backend does not know, naming them.
    pub fn check_options(&self, known: &[&str]) -> Result<()> {
        match self.options.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(Error::unknown_option(self.owner(), k, known)),
            None => Ok(()),
        }
    }

    /// `interface channel 'name'`, naming whose option is wrong.
    fn owner(&self) -> String {
        format!("{} channel '{}'", self.interface, self.channel)
    }
}

/// What a backend can do, for the tools to ask instead of matching names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    /// Filters run in the kernel or the device ([`Bus::set_filters`]).
    pub kernel_filters: bool,
    /// Periodic sends run in the kernel or the device ([`Bus::send_periodic`]).
    pub kernel_periodic: bool,
    /// Outlives its interface going down or away ([`Bus::outage`]).
    pub reconnect: bool,
    /// Carries CAN FD frames (perhaps only with `--fd`).
    pub fd: bool,
    /// Channel `any` receives from every interface of the kind.
    pub any_channel: bool,
    /// Sets the bitrates (`-b`, `--data-bitrate`) on the interface.
    pub bitrate: bool,
}

impl Caps {
    /// Nothing beyond the trait's defaults; entries name what they add
    /// (`Caps { fd: true, ..Caps::NONE }`).
    pub const NONE: Caps = Caps {
        kernel_filters: false,
        kernel_periodic: false,
        reconnect: false,
        fd: false,
        any_channel: false,
        bitrate: false,
    };
}

/// One backend: its name, help, options, capabilities and how to open it.
/// [`BACKENDS`] lists them all; help texts, completions, [`open`] and the
/// error listing the known names derive from it. Adding a backend is one
/// file in `src/bus/` plus one entry there.
#[derive(Clone, Copy, Debug)]
pub struct Backend {
    /// The name `-i` takes.
    pub name: &'static str,
    /// One line for `--help`.
    pub help: &'static str,
    /// The channel used when none is configured.
    pub default_channel: &'static str,
    /// The `--bus-opt` keys it takes, each with one line of help.
    pub options: &'static [(&'static str, &'static str)],
    /// What it can do.
    pub caps: Caps,
    /// Opens it (options already checked against `options`).
    pub open: fn(&BusSettings) -> Result<Box<dyn Bus>>,
}

/// Every backend, in the order help texts list them.
#[cfg(target_os = "linux")]
pub static BACKENDS: &[Backend] = &[
    sim::BACKEND,
    udp::BACKEND,
    socketcan::BACKEND,
    cannelloni::BACKEND,
    slcan::BACKEND,
    socketcand::BACKEND,
];
/// Every backend, in the order help texts list them.
#[cfg(not(target_os = "linux"))]
pub static BACKENDS: &[Backend] = &[
    sim::BACKEND,
    udp::BACKEND,
    slcan::BACKEND,
    socketcand::BACKEND,
];

/// The backend named `name`.
pub fn backend(name: &str) -> Result<&'static Backend> {
    BACKENDS
        .iter()
        .find(|b| b.name == name)
        .ok_or_else(|| Error::UnknownInterface(name.to_string(), interfaces().join(", ")))
}

/// The interface names [`open`] knows, in the order help texts list them.
pub fn interfaces() -> Vec<&'static str> {
    BACKENDS.iter().map(|b| b.name).collect()
}

/// Every backend's `--bus-opt` keys with their help, for `--help`.
pub fn options_help() -> String {
    crate::format::options_text(BACKENDS.iter().map(|b| (b.name, b.options)))
}

/// Opens the bus the settings describe, with its filters applied.
pub fn open(settings: &BusSettings) -> Result<Box<dyn Bus>> {
    let backend = backend(&settings.interface)?;
    let known: Vec<&str> = backend.options.iter().map(|(k, _)| *k).collect();
    settings.check_options(&known)?;
    if !backend.caps.bitrate && (settings.bitrate.is_some() || settings.data_bitrate.is_some()) {
        log::warn!(
            "{} channel '{}' has no bitrate to set: the bitrate is ignored",
            settings.interface,
            settings.channel
        );
    }
    let mut bus = (backend.open)(settings)?;
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

impl Wrapping for Filtered {
    fn inner(&self) -> &dyn Bus {
        &*self.inner
    }
    fn inner_mut(&mut self) -> &mut dyn Bus {
        &mut *self.inner
    }
}

impl Bus for Filtered {
    forwarded_bus_methods!();

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
}
