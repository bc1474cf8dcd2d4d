//! The `unlearn` command-line tool: a thin layer over the library (see `unlearn --help`).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
