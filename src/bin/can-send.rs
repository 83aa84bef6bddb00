//! `can-send`: see `cankit::cli::send`.
fn main() -> std::process::ExitCode {
    cankit::cli::main("can-send", cankit::cli::send::run)
}
