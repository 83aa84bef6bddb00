//! `can-convert`: see `cankit::cli::convert`.
fn main() -> std::process::ExitCode {
    cankit::cli::main("can-convert", cankit::cli::convert::run)
}
