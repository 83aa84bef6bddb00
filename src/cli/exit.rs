//! How a tool ends: its exit code, decided in one place from the error it ended
//! with (so the same failure gives the same code in every tool), and the one
//! line it prints.

use std::process::ExitCode;

use crate::Error;

use super::UsageError;

/// A tool's exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    /// Success; also when the reader of stdout goes away, and after Ctrl-C or
    /// SIGTERM, which finish the output file properly.
    Ok = 0,
    /// A failure while running: the bus, writing the output, a damaged input.
    Error = 1,
    /// The command line is wrong: an unknown option, format or interface, a
    /// missing argument, a bad filter, frame, time or `--format-opt` value.
    Usage = 2,
    /// The config file or python-can's `CAN_*` variables are wrong or
    /// unreadable, or `--profile` names no profile.
    Config = 3,
    /// An input file cannot be opened (missing, not readable).
    NoInput = 4,
    /// A second Ctrl-C or SIGTERM ended the tool at once.
    Interrupted = 130,
}

impl Code {
    /// Every code, in numeric order (for the documentation).
    pub const ALL: [Code; 6] = [
        Code::Ok,
        Code::Error,
        Code::Usage,
        Code::Config,
        Code::NoInput,
        Code::Interrupted,
    ];

    /// The number the process exits with.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// What the code means, for man pages and the README.
    pub fn meaning(self) -> &'static str {
        match self {
            Code::Ok => {
                "Success; also when the reader of standard output goes away, and after \
                 Ctrl-C or SIGTERM, which finish the output file properly."
            }
            Code::Error => {
                "A failure while running: the bus, writing the output, a damaged input file."
            }
            Code::Usage => {
                "The command line is wrong: an unknown option, format or interface, a \
                 missing argument, a bad filter, frame, time or --format-opt value."
            }
            Code::Config => {
                "The config file or the CAN_* environment variables are wrong or \
                 unreadable, or --profile names no profile."
            }
            Code::NoInput => "An input file cannot be opened (missing, not readable).",
            Code::Interrupted => "A second Ctrl-C or SIGTERM ended the tool at once.",
        }
    }

    /// The code for an error a tool's `run` returned: a usage error anywhere in
    /// the chain, else the first library error decides; a broken pipe is success.
    pub fn of(e: &anyhow::Error) -> Code {
        let library = || e.chain().filter_map(|c| c.downcast_ref::<Error>());
        if library().any(Error::is_broken_pipe)
            || e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            })
        {
            return Code::Ok;
        }
        if e.chain().any(|c| c.downcast_ref::<UsageError>().is_some()) {
            return Code::Usage;
        }
        library().next().map_or(Code::Error, Code::of_library)
    }

    /// The code for a library error.
    pub fn of_library(e: &Error) -> Code {
        match e {
            Error::Filter { .. }
            | Error::UnknownFormat { .. }
            | Error::FormatOfPath { .. }
            | Error::NeedsFile { .. }
            | Error::BadOption { .. }
            | Error::UnknownInterface(..)
            | Error::Config(_) => Code::Usage,
            Error::BadConfig { .. } => Code::Config,
            Error::NoInput { .. } => Code::NoInput,
            Error::Context { inner, .. } => Code::of_library(inner),
            // Frames and text read from a file or stdin; a tool that parses
            // them from its arguments says so with a UsageError.
            Error::Frame(_)
            | Error::Text(_)
            | Error::Bus { .. }
            | Error::Unsupported(_)
            | Error::NotFd { .. }
            | Error::Format { .. }
            | Error::Io { .. } => Code::Error,
        }
    }
}

impl From<Code> for ExitCode {
    fn from(c: Code) -> ExitCode {
        ExitCode::from(c.number())
    }
}

/// An error chain as one line: the messages joined with ": ", leaving out a
/// context that the message after it restates ("opening x.log" before
/// "creating x.log: ...") and a cause that the message before already ends with.
pub fn one_line(e: &anyhow::Error) -> String {
    let parts: Vec<String> = e
        .chain()
        .map(|c| c.to_string().replace('\n', " "))
        .collect();
    let mut kept: Vec<&str> = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if parts.get(i + 1).is_some_and(|next| restated(part, next)) {
            continue;
        }
        if kept
            .last()
            .is_some_and(|prev| prev.ends_with(part.as_str()))
        {
            continue;
        }
        kept.push(part);
    }
    kept.join(": ")
}

/// True if `context` ("opening x.log": a verb and what it acts on) says
/// nothing `next` does not: `next` names the same thing.
fn restated(context: &str, next: &str) -> bool {
    context
        .split_once(' ')
        .is_some_and(|(_, object)| object.len() >= 3 && next.contains(object))
}

/// The word a message of this level starts with after the tool's name
/// (`can-x: warning: ...`, like `can-x: error: ...`).
pub fn severity(level: log::Level) -> &'static str {
    match level {
        log::Level::Error => "error",
        log::Level::Warn => "warning",
        log::Level::Info => "info",
        log::Level::Debug => "debug",
        log::Level::Trace => "trace",
    }
}

/// Prints a clap error with the tool's name in front of clap's own text (the
/// error, the missing arguments, tips, the usage) and gives its code: help and
/// version are success, everything else a usage error.
pub fn clap_error(tool: &str, e: &clap::Error) -> Code {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return Code::Ok;
    }
    // clap's message starts with "error: ", so the line reads "tool: error: ...".
    if e.render().to_string().starts_with("error:") {
        eprint!("{tool}: ");
    } else {
        eprint!("{tool}: error: ");
    }
    let _ = e.print();
    Code::Usage
}

/// A man page with an EXIT STATUS section listing every [`Code`], before its
/// VERSION section (or at the end).
pub fn with_exit_status(page: &str) -> String {
    use clap_mangen::roff::{bold, roman, Roff};
    let mut section = Roff::new();
    section.control("SH", ["EXIT STATUS"]);
    for code in Code::ALL {
        section.control("TP", []);
        section.text([bold(code.number().to_string())]);
        section.text([roman(code.meaning())]);
    }
    // Both renderings start with the same preamble; the page has it already.
    let preamble = Roff::new().render();
    let rendered = section.render();
    let section = rendered.strip_prefix(&preamble).unwrap_or(&rendered);
    match page.find("\n.SH VERSION\n") {
        Some(at) => format!("{}\n{section}{}", &page[..at], &page[at + 1..]),
        None if page.is_empty() || page.ends_with('\n') => format!("{page}{section}"),
        None => format!("{page}\n{section}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(messages: &[&str], bottom: Error) -> anyhow::Error {
        let mut e = anyhow::Error::new(bottom);
        for m in messages.iter().rev() {
            e = e.context(m.to_string());
        }
        e
    }

    #[test]
    fn codes_are_the_documented_numbers() {
        let numbers: Vec<u8> = Code::ALL.iter().map(|c| c.number()).collect();
        assert_eq!(numbers, [0, 1, 2, 3, 4, 130]);
        assert!(Code::ALL.iter().all(|c| !c.meaning().is_empty()));
    }

    #[test]
    fn man_pages_get_an_exit_status_section_before_the_version() {
        let page = ".TH x 1\n.SH NAME\nx\n.SH VERSION\nv1\n";
        let out = with_exit_status(page);
        let status = out.find(".SH \"EXIT STATUS\"").expect("a section");
        assert!(
            out.starts_with(".TH x 1\n.SH NAME\nx\n.SH \"EXIT STATUS\"\n"),
            "{out}"
        );
        assert!(out.ends_with("\n.SH VERSION\nv1\n"), "{out}");
        for code in Code::ALL {
            assert!(
                out[status..].contains(&format!("\\fB{}\\fR", code.number())),
                "{out}"
            );
        }
        // no preamble in the middle of the page
        assert_eq!(out.matches(".ds Aq").count(), 0, "{out}");
        assert!(with_exit_status("no version").starts_with("no version\n.SH \"EXIT STATUS\"\n"));
    }

    #[test]
    fn library_errors_decide_the_code_through_context() {
        let unknown = Error::FormatOfPath {
            path: "x.xyz".into(),
            known: "blf".into(),
        };
        assert_eq!(Code::of(&chain(&["opening x.xyz"], unknown)), Code::Usage);
        let iface = Error::UnknownInterface("nosuch".into(), "virtual".into());
        assert_eq!(Code::of(&chain(&["opening bus"], iface)), Code::Usage);
        let missing = Error::no_input(
            std::path::Path::new("x.log"),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert_eq!(Code::of(&chain(&[], missing)), Code::NoInput);
        let cfg = Error::bad_config("c.toml:1:1", "unknown key");
        assert_eq!(Code::of(&chain(&[], cfg)), Code::Config);
        let pipe = Error::io(
            "writing -",
            std::io::Error::from(std::io::ErrorKind::BrokenPipe),
        );
        assert_eq!(Code::of(&chain(&["ctx"], pipe)), Code::Ok);
        let bad = Error::format(crate::error::Position::Line(3), "bad frame");
        assert_eq!(Code::of(&chain(&["converting"], bad)), Code::Error);
        assert_eq!(Code::of(&anyhow::anyhow!("a thread crashed")), Code::Error);
        let usage =
            anyhow::Error::new(UsageError("--speed must be positive".into())).context("checking");
        assert_eq!(Code::of(&usage), Code::Usage);
    }

    #[test]
    fn the_os_error_is_printed_once() {
        let e = Error::no_input(
            std::path::Path::new("nonexist.log"),
            std::io::Error::from_raw_os_error(libc::ENOENT),
        );
        let text = one_line(&chain(&[], e));
        assert_eq!(text.matches("os error 2").count(), 1, "{text}");
        // an io::Error under a context the message already ends with
        let io = std::io::Error::from_raw_os_error(libc::ENOENT);
        let outer = format!("reading x: {io}");
        let e = anyhow::Error::new(io).context(outer);
        let text = one_line(&e);
        assert_eq!(text.matches("os error 2").count(), 1, "{text}");
    }

    #[test]
    fn a_context_the_next_message_restates_is_left_out() {
        let e = Error::io(
            "creating /nonexistent-dir/x.log",
            std::io::Error::from_raw_os_error(libc::ENOENT),
        );
        let text = one_line(&chain(&["opening /nonexistent-dir/x.log"], e));
        assert!(
            text.starts_with("creating /nonexistent-dir/x.log: "),
            "{text}"
        );
        assert_eq!(text.matches("/nonexistent-dir/x.log").count(), 1, "{text}");
        // a context that adds something stays
        let e = Error::unknown_option("the asc format", "foo", &[]);
        assert_eq!(
            one_line(&chain(&["opening out.asc"], e)),
            "opening out.asc: the asc format takes no option 'foo' (known: none)"
        );
    }
}
