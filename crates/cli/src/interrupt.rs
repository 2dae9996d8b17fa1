//! Ctrl-C for long operations: the operation's future is dropped at its
//! next await point, the caller cleans up what it had started (a partial
//! file), and the command exits 130 as shells expect of SIGINT.

use std::future::Future;

/// Ctrl-C (SIGINT) stopped the operation.
#[derive(Debug)]
pub struct Interrupted(pub &'static str);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted: {}", self.0)
    }
}
impl std::error::Error for Interrupted {}

/// Runs `operation` until it ends or Ctrl-C arrives. On Ctrl-C the
/// operation is dropped and [`Interrupted`] carries `what_was_kept` (e.g.
/// "no backup file was written") for the message.
pub(crate) async fn or_ctrl_c<T>(
    operation: impl Future<Output = anyhow::Result<T>>,
    what_was_kept: &'static str,
) -> anyhow::Result<T> {
    tokio::pin!(operation);
    tokio::select! {
        result = &mut operation => result,
        signal = tokio::signal::ctrl_c() => match signal {
            Ok(()) => Err(Interrupted(what_was_kept).into()),
            // No SIGINT handler could be installed: the operation runs to
            // its end (Ctrl-C then kills the process as it would anyway).
            Err(_) => operation.await,
        },
    }
}
