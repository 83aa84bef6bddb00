//! The `socketcan` backend (placeholder: opening it is an error until it lands).

use std::time::Duration;

use super::{Bus, BusSettings};
use crate::error::{Error, Result};
use crate::frame::{Frame, Record};

/// The `socketcan` bus.
pub struct SocketCanBus;

impl SocketCanBus {
    /// Not implemented yet.
    pub fn open(_settings: &BusSettings) -> Result<SocketCanBus> {
        Err(Error::Unsupported(
            "the socketcan interface is not implemented yet".into(),
        ))
    }
}

impl Bus for SocketCanBus {
    fn send(&mut self, _frame: &Frame) -> Result<()> {
        Ok(())
    }
    fn recv(&mut self, _timeout: Option<Duration>) -> Result<Option<Record>> {
        Ok(None)
    }
    fn channel(&self) -> &str {
        ""
    }
    fn is_fd(&self) -> bool {
        false
    }
    fn try_clone(&self) -> Result<Box<dyn Bus>> {
        Err(Error::Unsupported("not implemented".into()))
    }
}
