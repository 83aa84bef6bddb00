//! `can-viewer`: see `cankit::cli::viewer`.
fn main() -> std::process::ExitCode {
    cankit::cli::main("can-viewer", cankit::cli::viewer::run)
}
