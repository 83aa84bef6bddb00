//! `can-bridge`: see `cankit::cli::bridge`.
fn main() -> std::process::ExitCode {
    cankit::cli::main("can-bridge", cankit::cli::bridge::run)
}
