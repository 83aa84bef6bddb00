//! SQLite logs (placeholder until the formats issue lands: opening one is an error).

use std::path::Path;

use super::{RecordReader, RecordWriter, WriterOptions};
use crate::error::{Error, Result};
use crate::frame::Record;

/// Reads SQLite.
pub struct Reader;

impl Reader {
    /// Not implemented yet.
    pub fn open(_path: &Path) -> Result<Reader> {
        Err(Error::UnknownFormat("SQLite is not supported yet".into()))
    }
}

impl RecordReader for Reader {
    fn read(&mut self) -> Result<Option<Record>> {
        Ok(None)
    }
}

/// Writes SQLite.
pub struct Writer;

impl Writer {
    /// Not implemented yet.
    pub fn create(_path: &Path, _opts: &WriterOptions) -> Result<Writer> {
        Err(Error::UnknownFormat("SQLite is not supported yet".into()))
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
