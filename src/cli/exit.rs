//! How a tool ends: its exit code and what it prints.

/// Success.
pub const OK: u8 = 0;
/// A runtime error.
pub const ERROR: u8 = 1;
/// A usage error.
pub const USAGE: u8 = 2;

/// Prints a clap error with the tool's name in front of clap's own text (the
/// error, the missing arguments, tips, the usage) and gives its exit code:
/// help and version are success, everything else a usage error.
pub fn clap_error(tool: &str, e: &clap::Error) -> u8 {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return OK;
    }
    // clap's message starts with "error: ", so the line reads "tool: error: ...".
    if e.render().to_string().starts_with("error:") {
        eprint!("{tool}: ");
    } else {
        eprint!("{tool}: error: ");
    }
    let _ = e.print();
    USAGE
}
