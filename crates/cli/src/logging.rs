//! Log output on stderr: `HUSH_LOG` sets the filter (e.g. `debug`,
//! `hush_server=trace`), `--log-format json` one object per line.

use tracing_subscriber::EnvFilter;

use crate::args::LogFormat;

/// Installs the subscriber. `default` applies when `HUSH_LOG` is unset.
pub fn init(default: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_env("HUSH_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
