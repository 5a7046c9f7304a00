//! The last journal lines of a unit, attached to failures so reports say why.

use std::time::Duration;

use tokio::process::Command;

/// Lines of journal attached to a failure.
const LINES: &str = "20";

/// `journalctl -u UNIT -n 20 --no-pager -o cat`, as `"\n"`-prefixed text; empty when the
/// journal cannot be read (the failure itself is still reported).
pub async fn journal_tail(unit: &str) -> String {
    let run = Command::new("journalctl")
        .args(["-u", unit, "-n", LINES, "--no-pager", "-o", "cat"])
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(Duration::from_secs(5), run).await {
        Ok(Ok(out)) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let text = text.trim_end();
            if text.is_empty() || text == "-- No entries --" {
                String::new()
            } else {
                format!("; last journal lines:\n{text}")
            }
        }
        _ => String::new(),
    }
}
