//! The `lgtmctl` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    lgtmctl::main()
}
