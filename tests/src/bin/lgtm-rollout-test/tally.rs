//! Counting checks: each prints `ok NAME` or `FAIL NAME` with why, and the totals decide the
//! exit status.

/// Passed and failed checks so far.
#[derive(Debug, Default)]
pub struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    /// Records one check; `Err` carries why it failed.
    pub fn check(&mut self, name: &str, result: Result<(), String>) -> bool {
        match result {
            Ok(()) => {
                self.passed += 1;
                println!("ok   {name}");
                true
            }
            Err(why) => {
                self.failed += 1;
                println!("FAIL {name}");
                for line in why.lines() {
                    println!("     {line}");
                }
                false
            }
        }
    }

    /// Whether every check passed.
    pub fn all_passed(&self) -> bool {
        self.failed == 0
    }

    /// `N passed, M failed`.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed)
    }
}

/// `Ok` when `cond`, else `Err(why())`.
pub fn ensure(cond: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(why()) }
}
