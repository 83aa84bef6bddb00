//! `can-logger`: see `cankit::cli::logger`.
fn main() -> std::process::ExitCode {
    cankit::cli::main("can-logger", cankit::cli::logger::run)
}
