//! The library's error type. Binaries add context with anyhow; the library
//! returns these typed errors so callers can tell a bad argument from a broken bus.

use std::path::PathBuf;

use crate::frame::text::TextError;
use crate::frame::FrameError;

/// Where in a file something went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// A 1-based line number (text formats).
    Line(u64),
    /// A byte offset from the start of the file (binary formats).
    Byte(u64),
    /// A 1-based row (SQLite).
    Row(u64),
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Line(n) => write!(f, "line {n}"),
            Position::Byte(n) => write!(f, "byte {n}"),
            Position::Row(n) => write!(f, "row {n}"),
        }
    }
}

/// Everything the library can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An invalid frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// Bad can-utils frame text.
    #[error(transparent)]
    Text(#[from] TextError),
    /// A bad filter expression.
    #[error("bad filter '{text}': {reason}")]
    Filter {
        /// The filter as given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A configuration problem (file, profile, environment variable).
    #[error("{0}")]
    Config(String),
    /// An interface name nobody knows.
    #[error("unknown interface '{0}' (known: {1})")]
    UnknownInterface(String, String),
    /// A bus could not be opened or used.
    #[error("{interface} channel '{channel}': {message}")]
    Bus {
        /// The interface kind.
        interface: String,
        /// The channel.
        channel: String,
        /// What went wrong.
        message: String,
    },
    /// The bus cannot carry this frame (an FD frame on a classic bus).
    #[error("{0}")]
    Unsupported(String),
    /// A log file's content is wrong at a position.
    #[error("{}{position}: {message}", path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    Format {
        /// The file, when known.
        path: Option<PathBuf>,
        /// Where.
        position: Position,
        /// What is wrong.
        message: String,
    },
    /// An unknown file format.
    #[error("{0}")]
    UnknownFormat(String),
    /// Another error, with what was being done when it happened.
    #[error("{context}: {inner}")]
    Context {
        /// What was being done ("receiving on socketcan 'can0'").
        context: String,
        /// The error.
        inner: Box<Error>,
    },
    /// An I/O error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done ("opening trace.blf").
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// An I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// `err` with what was being done when it happened.
    pub fn io_context(context: impl Into<String>, err: Error) -> Error {
        Error::Context {
            context: context.into(),
            inner: Box::new(err),
        }
    }

    /// A format error at a position.
    pub fn format(position: Position, message: impl Into<String>) -> Error {
        Error::Format {
            path: None,
            position,
            message: message.into(),
        }
    }

    /// Attaches a file name to a format error (other errors pass through).
    pub fn in_file(self, file: &std::path::Path) -> Error {
        match self {
            Error::Format {
                path: None,
                position,
                message,
            } => Error::Format {
                path: Some(file.to_path_buf()),
                position,
                message,
            },
            e => e,
        }
    }

    /// True for a broken pipe (the reader of our stdout went away).
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            Error::Io { source, .. } => source.kind() == std::io::ErrorKind::BrokenPipe,
            Error::Context { inner, .. } => inner.is_broken_pipe(),
            _ => false,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
