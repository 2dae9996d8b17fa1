//! The `hush` binary: everything is in the `hush_cli` library.

fn main() -> std::process::ExitCode {
    hush_cli::main()
}
