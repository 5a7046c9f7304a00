//! Reading a secret from standard input: never echoed on a terminal, never printed.

use std::io::{BufRead, IsTerminal, Read, Write};

use nix::sys::termios::{self, LocalFlags, SetArg};

use crate::error::CtlError;

/// Reads the value for `key` from stdin: a prompt and a line with echo off on a terminal,
/// everything up to EOF (less one trailing newline) otherwise.
pub fn read(key: &str) -> Result<String, CtlError> {
    let stdin = std::io::stdin();
    let io = |what| move |cause| CtlError::Io { what, cause };
    let mut value = String::new();
    if stdin.is_terminal() {
        eprint!("value for {key} (not echoed): ");
        let _ = std::io::stderr().flush();
        let _echo_off = EchoOff::new(&stdin);
        stdin
            .lock()
            .read_line(&mut value)
            .map_err(io("read the value from the terminal"))?;
        eprintln!();
    } else {
        stdin
            .lock()
            .read_to_string(&mut value)
            .map_err(io("read the value from standard input"))?;
    }
    let value = strip_newline(&value).to_owned();
    if value.is_empty() {
        return Err(CtlError::Usage(format!(
            "no value for {key} on standard input; pipe it in, e.g. `lgtmctl config set {key} --from-stdin < file`"
        )));
    }
    Ok(value)
}

/// One trailing `\n` or `\r\n` is the end of the line, not part of the value.
fn strip_newline(s: &str) -> &str {
    s.strip_suffix('\n')
        .map(|s| s.strip_suffix('\r').unwrap_or(s))
        .unwrap_or(s)
}

/// Terminal echo turned off until dropped.
struct EchoOff<'a> {
    fd: &'a std::io::Stdin,
    saved: Option<termios::Termios>,
}

impl<'a> EchoOff<'a> {
    fn new(fd: &'a std::io::Stdin) -> EchoOff<'a> {
        let saved = termios::tcgetattr(fd).ok();
        if let Some(saved) = &saved {
            let mut quiet = saved.clone();
            quiet.local_flags.remove(LocalFlags::ECHO);
            let _ = termios::tcsetattr(fd, SetArg::TCSAFLUSH, &quiet);
        }
        EchoOff { fd, saved }
    }
}

impl Drop for EchoOff<'_> {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = termios::tcsetattr(self.fd, SetArg::TCSAFLUSH, saved);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_end_is_dropped() {
        assert_eq!(strip_newline("abc\n"), "abc");
        assert_eq!(strip_newline("abc\r\n"), "abc");
        assert_eq!(strip_newline("abc"), "abc");
        assert_eq!(strip_newline("abc\n\n"), "abc\n");
    }
}
