//! The `hcx` binary; its commands are the `hcx_cli` library's (`cargo doc -p hcx-cli`).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    hcx_cli::run()
}
