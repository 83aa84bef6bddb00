//! `can-player`: see `cankit::cli::player`.
fn main() -> std::process::ExitCode {
    cankit::cli::main("can-player", cankit::cli::player::run)
}
