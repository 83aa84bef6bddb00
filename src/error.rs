//! The library's error type. Binaries add context with anyhow; the library
//! returns these typed errors so callers can tell a bad argument from a broken bus
//! (the tools map them to exit codes: see `cli::exit`).
//!
//! Every message is complete on its own: an OS error is part of the message of
//! the variant that carries it and is not returned again by `source()`, so
//! printing a chain (anyhow's `{:#}`) shows it once.

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
    /// A bad option value given to the library: a writer's `--format-opt`, a
    /// bus spelled out as one word, options that cannot go together.
    #[error("{0}")]
    Config(String),
    /// The config file or python-can's `CAN_*` environment variables hold
    /// something wrong, or name a profile that is not there.
    #[error("{origin}: {message}")]
    BadConfig {
        /// Where: `FILE:LINE:COLUMN`, a file, a variable (`CAN_CONFIG`), an option.
        origin: String,
        /// What is wrong.
        message: String,
    },
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
    /// A format name nobody knows (`--format xyz`).
    #[error("unknown format '{name}' (known: {known})")]
    UnknownFormat {
        /// The name as given.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// A file name whose extension names no format, and no format was given.
    #[error("{}: cannot tell the format from the file name (known: {known}); name it with --input-format/--output-format", path.display())]
    FormatOfPath {
        /// The file.
        path: PathBuf,
        /// The known names, comma-separated.
        known: String,
    },
    /// A format that needs a real file was given stdin, stdout or gzip.
    #[error("{format} can only be {action} a plain file, not stdin/stdout or gzip")]
    NeedsFile {
        /// The format's description.
        format: &'static str,
        /// `read from` or `written to`.
        action: &'static str,
    },
    /// An option (`--format-opt`, `--bus-opt`) its owner does not take, or a
    /// value it cannot use.
    #[error("{}", option_text(owner, key, value.as_deref(), expected))]
    BadOption {
        /// Whose option: a format (`BLF`) or a bus (`socketcan channel 'can0'`).
        owner: String,
        /// The key as given.
        key: String,
        /// The value, for a known key with a bad value; none for an unknown key.
        value: Option<String>,
        /// The known keys, or the values the key takes.
        expected: String,
    },
    /// A CAN FD frame sent on a bus that is not in FD mode.
    #[error(
        "{interface} channel '{channel}' is not in CAN FD mode; cannot send {frame} (add --fd)"
    )]
    NotFd {
        /// The interface kind.
        interface: String,
        /// The channel.
        channel: String,
        /// The frame, in can-utils syntax.
        frame: String,
    },
    /// Another error, with what was being done when it happened.
    #[error("{context}: {inner}")]
    Context {
        /// What was being done ("receiving on socketcan 'can0'").
        context: String,
        /// The error.
        inner: Box<Error>,
    },
    /// An input file that cannot be opened (missing, unreadable).
    #[error("opening {}: {error}", path.display())]
    NoInput {
        /// The file.
        path: PathBuf,
        /// The OS error (part of the message, not a separate `source()`).
        error: std::io::Error,
    },
    /// An I/O error, with what was being done.
    #[error("{context}: {error}")]
    Io {
        /// What was being done ("writing trace.blf").
        context: String,
        /// The OS error (part of the message, not a separate `source()`).
        error: std::io::Error,
    },
}

impl Error {
    /// An option `key` that `owner` does not take; `known` lists those it does.
    pub fn unknown_option(owner: impl Into<String>, key: &str, known: &[&str]) -> Error {
        Error::BadOption {
            owner: owner.into(),
            key: key.to_string(),
            value: None,
            expected: if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            },
        }
    }

    /// A value `value` for option `key` of `owner`, which takes `expected`.
    pub fn bad_option_value(
        owner: impl Into<String>,
        key: &str,
        value: &str,
        expected: impl Into<String>,
    ) -> Error {
        Error::BadOption {
            owner: owner.into(),
            key: key.to_string(),
            value: Some(value.to_string()),
            expected: expected.into(),
        }
    }

    /// An I/O error with context.
    pub fn io(context: impl Into<String>, error: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            error,
        }
    }

    /// An input file that cannot be opened.
    pub fn no_input(path: &std::path::Path, error: std::io::Error) -> Error {
        Error::NoInput {
            path: path.to_path_buf(),
            error,
        }
    }

    /// A problem in the config file or the environment, at `origin`.
    pub fn bad_config(origin: impl Into<String>, message: impl Into<String>) -> Error {
        Error::BadConfig {
            origin: origin.into(),
            message: message.into(),
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

    /// A record handed to a writer of `file` after it was finished.
    pub(crate) fn write_after_finish(file: &std::path::Path) -> Error {
        Error::Unsupported(format!("{}: write after finish", file.display()))
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
            Error::Io { error, .. } => error.kind() == std::io::ErrorKind::BrokenPipe,
            Error::Context { inner, .. } => inner.is_broken_pipe(),
            _ => false,
        }
    }
}

fn option_text(owner: &str, key: &str, value: Option<&str>, expected: &str) -> String {
    match value {
        None => format!("{owner} takes no option '{key}' (known: {expected})"),
        Some(v) => format!("{owner} option {key}={v}: expected {expected}"),
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_os_error_is_in_the_message_and_not_again_in_the_chain() {
        let e = Error::io("reading x.log", std::io::Error::from_raw_os_error(2));
        assert!(e.to_string().starts_with("reading x.log: "), "{e}");
        assert!(e.to_string().contains("os error 2"), "{e}");
        // a chain printed the way anyhow's {:#} does says it once
        let wrapped = Error::io_context("converting x.log", e);
        let mut chain = wrapped.to_string();
        let mut cause = std::error::Error::source(&wrapped);
        while let Some(c) = cause {
            chain += &format!(": {c}");
            cause = c.source();
        }
        assert_eq!(chain.matches("os error 2").count(), 1, "{chain}");
        assert!(
            chain.starts_with("converting x.log: reading x.log: "),
            "{chain}"
        );
    }
}
