//! BLF logs (placeholder until the formats issue lands: opening one is an error).

use super::{Input, Output, RecordReader, RecordWriter, WriterOptions};
use crate::error::{Error, Result};
use crate::frame::Record;

/// Reads BLF.
pub struct Reader;

impl Reader {
    /// Not implemented yet.
    pub fn new(_input: Input) -> Result<Reader> {
        Err(Error::UnknownFormat("BLF is not supported yet".into()))
    }
}

impl RecordReader for Reader {
    fn read(&mut self) -> Result<Option<Record>> {
        Ok(None)
    }
}

/// Writes BLF.
pub struct Writer;

impl Writer {
    /// Not implemented yet.
    pub fn new(_out: Output, _opts: &WriterOptions) -> Result<Writer> {
        Err(Error::UnknownFormat("BLF is not supported yet".into()))
    }
}

impl RecordWriter for Writer {
    fn write(&mut self, _r: &Record) -> Result<()> {
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}
