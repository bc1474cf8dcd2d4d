//! The `unlearn` command-line tool: a thin layer over the library (see `unlearn --help`).

fn main() -> std::process::ExitCode {
    unlearn_cli::cli::main()
}
