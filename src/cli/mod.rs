//! The command-line front ends. Each tool is a module with a clap `Cli` struct
//! and a `run` function; `src/bin/can-*.rs` only call [`main`] with them.
//!
//! Shared behaviour lives here: one-line errors (`can-x: error: ...`, exit 1;
//! usage errors exit 2), a closed stdout pipe ending the tool quietly with 0,
//! and SIGINT/SIGTERM asking the tool to finish its file and exit 0 (a second
//! SIGINT exits at once with 130).

pub mod args;
pub mod bridge;
pub mod convert;
pub mod logger;
pub mod player;
pub mod send;
pub mod viewer;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// A usage error found after parsing (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Exit codes.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// A runtime error.
    pub const ERROR: u8 = 1;
    /// A usage error.
    pub const USAGE: u8 = 2;
}

/// True if the error chain holds a broken pipe.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<crate::Error>()
                .is_some_and(crate::Error::is_broken_pipe)
    })
}

/// Runs a tool: parses arguments, calls `run`, prints errors as one line and
/// maps them to exit codes.
pub fn main<C: Parser>(tool: &'static str, run: fn(C) -> anyhow::Result<()>) -> ExitCode {
    let cli = match C::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::from(exit::OK);
            }
            let text = e.render().to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("bad arguments")
                .trim_start_matches("error: ");
            eprintln!("{tool}: error: {first} (see '{tool} --help')");
            return ExitCode::from(exit::USAGE);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) if is_broken_pipe(&e) => ExitCode::from(exit::OK),
        Err(e) => {
            // A bad filter expression is a usage error wherever it was written.
            let usage = e.chain().any(|c| {
                c.downcast_ref::<UsageError>().is_some()
                    || matches!(
                        c.downcast_ref::<crate::Error>(),
                        Some(crate::Error::Filter { .. })
                    )
            });
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("{tool}: error: {msg}");
            ExitCode::from(if usage { exit::USAGE } else { exit::ERROR })
        }
    }
}

/// Every tool's clap command, for man pages and completions.
pub fn commands() -> Vec<clap::Command> {
    vec![
        logger::Cli::command(),
        player::Cli::command(),
        viewer::Cli::command(),
        send::Cli::command(),
        bridge::Cli::command(),
        convert::Cli::command(),
    ]
}

/// Writes man pages (`man/*.1`) and completions (`completions/{bash,zsh,fish}/`)
/// for every tool under `root`.
pub fn generate_docs(root: &std::path::Path) -> std::io::Result<()> {
    use clap_complete::Shell;
    let man = root.join("man");
    std::fs::create_dir_all(&man)?;
    for shell in ["bash", "zsh", "fish"] {
        std::fs::create_dir_all(root.join("completions").join(shell))?;
    }
    for mut cmd in commands() {
        let name = cmd.get_name().to_string();
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
        std::fs::write(man.join(format!("{name}.1")), page)?;
        for (shell, file) in [
            (Shell::Bash, format!("bash/{name}")),
            (Shell::Zsh, format!("zsh/_{name}")),
            (Shell::Fish, format!("fish/{name}.fish")),
        ] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, name.clone(), &mut out);
            std::fs::write(root.join("completions").join(file), out)?;
        }
    }
    Ok(())
}
