//! Creating the file a writer writes to: one policy for every format.
//!
//! * Without options a new file is created and an existing one is refused, so
//!   that nothing is overwritten by mistake (the check and the creation are one
//!   step, `O_EXCL`, so no other process can slip a file in between).
//! * With `append` an existing file is opened to add to it, a missing one is
//!   created; `append` wins over `force`.
//! * With `force` an existing file is truncated and written from the start.
//!
//! The errors name the file: `x.blf already exists (use --force to overwrite or
//! --append to add to it)`, else `creating x.blf: <the OS error>`.
//!
//! A file written from start to end goes through a [`GuardedFile`]: when a
//! write fails (a full disk), the file is cut back to its length at the last
//! successful flush, where it ends with a whole record, and takes no more
//! bytes, so that a trailer written afterwards cannot land after half a line.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::WriterOptions;
use crate::error::{Error, Result};

/// How a writer uses the file it creates.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FileAccess {
    /// Written once from start to end; when appending every write goes to the
    /// end of the file (`O_APPEND`).
    Sequential,
    /// Read and written at any position (a header rewritten in place); opened
    /// for reading too, never with `O_APPEND`: the writer seeks itself.
    Random,
}

/// A file opened by [`create_output_file`].
#[derive(Debug)]
pub struct OutputFile {
    /// The open file.
    pub file: File,
    /// True when appending to a file that already has content (a writer then
    /// continues it instead of starting with a header).
    pub appending: bool,
}

/// Creates `path` for a writer, or with `opts.append` opens it to add to it,
/// following the module's policy.
pub fn create_output_file(
    path: &Path,
    opts: &WriterOptions,
    access: FileAccess,
) -> Result<OutputFile> {
    let mut o = OpenOptions::new();
    match access {
        FileAccess::Sequential if opts.append => o.append(true),
        FileAccess::Sequential => o.write(true),
        FileAccess::Random => o.read(true).write(true),
    };
    if opts.append {
        o.create(true);
    } else if opts.force {
        o.create(true).truncate(true);
    } else {
        o.create_new(true);
    }
    let file = o.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            Error::io(
                format!(
                    "{} already exists (use --force to overwrite or --append to add to it)",
                    path.display()
                ),
                e,
            )
        } else {
            Error::io(format!("creating {}", path.display()), e)
        }
    })?;
    let appending = opts.append
        && file
            .metadata()
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
            .len()
            > 0;
    Ok(OutputFile { file, appending })
}

/// Creates (or, with `append`, opens for appending) a file written from start to
/// end, never replacing an existing one without `force`: [`create_output_file`]
/// with [`FileAccess::Sequential`].
pub fn create_file(path: &Path, opts: &WriterOptions) -> Result<File> {
    create_output_file(path, opts, FileAccess::Sequential).map(|f| f.file)
}

/// A buffered file that stays whole when writing fails: on the first failed
/// write or flush the bytes it still buffers are dropped, the file is cut back
/// to its length at the last successful flush (writers flush after whole
/// records, so it ends with one) and every later write fails. The error itself
/// is returned as it came. A `.gz` output wraps its compressor around it (a
/// sync flush point is where the gzip stream can be read up to).
pub struct GuardedFile {
    buf: Option<BufWriter<File>>,
    /// Bytes taken so far (the file's length once flushed).
    len: u64,
    /// The length at the last successful flush.
    flushed: u64,
}

impl GuardedFile {
    /// Buffers writes to `file` (opened on `path`, maybe for appending: its
    /// present length counts as flushed).
    pub fn new(file: File, path: &Path) -> Result<GuardedFile> {
        let len = file
            .metadata()
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
            .len();
        Ok(GuardedFile {
            buf: Some(BufWriter::with_capacity(1 << 16, file)),
            len,
            flushed: len,
        })
    }

    #[cold]
    fn fail(&mut self, e: io::Error) -> io::Error {
        if e.kind() == io::ErrorKind::Interrupted {
            return e;
        }
        if let Some(buf) = self.buf.take() {
            let (file, _unwritten) = buf.into_parts();
            // best effort: the error that led here is what gets reported
            let _ = file.set_len(self.flushed);
        }
        e
    }
}

fn failed_before() -> io::Error {
    io::Error::other("an earlier write to this file failed")
}

impl Write for GuardedFile {
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let Some(buf) = self.buf.as_mut() else {
            return Err(failed_before());
        };
        match buf.write(bytes) {
            Ok(n) => {
                self.len += n as u64;
                Ok(n)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let Some(buf) = self.buf.as_mut() else {
            return Err(failed_before());
        };
        match buf.flush() {
            Ok(()) => {
                self.flushed = self.len;
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom, Write};

    fn opts(force: bool, append: bool) -> WriterOptions {
        WriterOptions {
            force,
            append,
            ..Default::default()
        }
    }

    fn content(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn refuses_appends_or_replaces_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.asc");
        for access in [FileAccess::Sequential, FileAccess::Random] {
            std::fs::write(&path, "old").unwrap();
            // refused, untouched
            let e = create_output_file(&path, &opts(false, false), access).unwrap_err();
            let want = format!(
                "{} already exists (use --force to overwrite or --append to add to it): ",
                path.display()
            );
            assert!(e.to_string().starts_with(&want), "{e}");
            assert!(
                matches!(&e, Error::Io { error, .. } if error.kind() == io::ErrorKind::AlreadyExists),
                "{e:?}"
            );
            assert_eq!(content(&path), "old");
            // appended (append wins over force)
            let mut f = create_output_file(&path, &opts(true, true), access).unwrap();
            assert!(f.appending, "{access:?}");
            if access == FileAccess::Random {
                f.file.seek(SeekFrom::End(0)).unwrap();
            }
            f.file.write_all(b"+new").unwrap();
            drop(f);
            assert_eq!(content(&path), "old+new");
            // replaced
            let mut f = create_output_file(&path, &opts(true, false), access).unwrap();
            assert!(!f.appending);
            f.file.write_all(b"new").unwrap();
            drop(f);
            assert_eq!(content(&path), "new");
        }
    }

    #[test]
    fn creates_missing_files_in_every_mode() {
        let dir = tempfile::tempdir().unwrap();
        for (i, (force, append)) in [(false, false), (true, false), (false, true)]
            .into_iter()
            .enumerate()
        {
            for access in [FileAccess::Sequential, FileAccess::Random] {
                let path = dir.path().join(format!("{i}-{access:?}.blf"));
                let f = create_output_file(&path, &opts(force, append), access).unwrap();
                assert!(!f.appending);
                assert!(path.exists());
            }
        }
        // an empty existing file is no file to continue
        let path = dir.path().join("empty.blf");
        std::fs::write(&path, "").unwrap();
        let f = create_output_file(&path, &opts(false, true), FileAccess::Random).unwrap();
        assert!(!f.appending);
    }

    #[test]
    fn random_access_reads_and_sequential_appends_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.blf");
        std::fs::write(&path, "LOGG").unwrap();
        let mut f = create_output_file(&path, &opts(false, true), FileAccess::Random).unwrap();
        let mut head = String::new();
        f.file.read_to_string(&mut head).unwrap();
        assert_eq!(head, "LOGG");
        f.file.seek(SeekFrom::Start(0)).unwrap();
        f.file.write_all(b"l").unwrap();
        drop(f);
        assert_eq!(content(&path), "lOGG");
        let mut f = create_file(&path, &opts(false, true)).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.write_all(b"!").unwrap();
        drop(f);
        assert_eq!(content(&path), "lOGG!");
    }

    #[test]
    fn a_failed_write_fails_every_later_one() {
        let Ok(full) = OpenOptions::new().write(true).open("/dev/full") else {
            return; // no /dev/full here; tests/logger.rs fills a real disk
        };
        let mut g = GuardedFile::new(full, Path::new("/dev/full")).unwrap();
        g.write_all(b"fits in the buffer").unwrap();
        let e = g.flush().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(28), "{e}"); // ENOSPC
        let again = g.write_all(b"x").unwrap_err().to_string();
        assert_eq!(again, "an earlier write to this file failed");
        assert!(g.flush().is_err());
    }

    #[test]
    fn other_failures_say_creating() {
        let dir = tempfile::tempdir().unwrap();
        for o in [opts(false, false), opts(true, false), opts(false, true)] {
            let e = create_file(dir.path(), &o).unwrap_err().to_string();
            let want = if o.force || o.append {
                format!("creating {}: ", dir.path().display())
            } else {
                format!("{} already exists", dir.path().display())
            };
            assert!(e.starts_with(&want), "{e}");
        }
    }
}
