//! The `virtual` backend (placeholder: opening it is an error until it lands).

use std::time::Duration;

use super::{Bus, BusSettings};
use crate::error::{Error, Result};
use crate::frame::{Frame, Record};

/// The `virtual` bus.
pub struct SimBus;

impl SimBus {
    /// Not implemented yet.
    pub fn open(_settings: &BusSettings) -> Result<SimBus> {
        Err(Error::Unsupported(
            "the virtual interface is not implemented yet".into(),
        ))
    }
}

impl Bus for SimBus {
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
