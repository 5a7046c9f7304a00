//! `lgtm-standin`: a stand-in for the `mimir`, `loki` and `tempo` binaries in lab tests.
//! Install it under those names (or pass `--as NAME`); see `lgtm_tests::standin`.

fn main() -> std::process::ExitCode {
    lgtm_tests::standin::main()
}
