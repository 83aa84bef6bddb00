//! The command-line front ends. Each tool is a module with a clap `Cli` struct
//! and a `run` function; `src/bin/can-*.rs` only call [`main`] with them.
//!
//! Shared behaviour lives here: one-line errors (`can-x: error: ...`; clap's
//! usage errors keep all of clap's lines), one exit code per kind of failure
//! whatever the tool ([`exit::Code`]), a closed stdout pipe ending the tool
//! quietly with 0, and SIGINT/SIGTERM asking the tool to finish its file and
//! exit 0 (a second SIGINT exits at once with 130).

pub mod args;
pub mod bridge;
pub mod convert;
pub mod exit;
pub mod logger;
pub mod player;
pub mod send;
pub mod viewer;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// A usage error found after parsing (exit code 2), for what no library error
/// says by its type (options that do not go together, a frame given as an
/// argument).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Runs a tool: parses arguments, calls `run`, prints an error as one line
/// (clap's usage errors as clap writes them) and exits with its [`exit::Code`].
pub fn main<C: Parser>(tool: &'static str, run: fn(C) -> anyhow::Result<()>) -> ExitCode {
    let cli = match C::try_parse() {
        Ok(c) => c,
        Err(e) => return exit::clap_error(tool, &e).into(),
    };
    match run(cli) {
        Ok(()) => exit::Code::Ok.into(),
        Err(e) => {
            let code = exit::Code::of(&e);
            if code != exit::Code::Ok {
                eprintln!("{tool}: error: {}", exit::one_line(&e));
            }
            code.into()
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
        std::fs::write(
            man.join(format!("{name}.1")),
            exit::with_exit_status(&String::from_utf8_lossy(&page)),
        )?;
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
