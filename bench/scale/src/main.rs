//! `hush-scale`: seeds a hush installation for bench/scale/run.
//!
//! It opens an installation made by `hush init` (the server must be
//! stopped: both take the same locks) with `hush_service::bootstrap`, as
//! `hush serve` does, and writes through the service with the admin token
//! from `HUSH_TOKEN`. Progress goes to stderr; one summary line
//! (`secrets=… versions=… audit_head=… reads=…`) to stdout. Bench-only: this is no
//! command of the product.

mod layout;
mod progress;
mod seed;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, anyhow};
use clap::Parser;
use hush_core::SecretString;
use hush_service::bootstrap::{self, OpenOptions};
use hush_service::{Credentials, ServiceConfig};

use crate::seed::Seeder;

/// Seeds a stopped hush installation: secrets (see layout.rs for where each
/// goes), their versions, and read events.
#[derive(Debug, Parser)]
#[command(name = "hush-scale")]
struct Args {
    /// The installation's data directory.
    #[arg(long)]
    data_dir: PathBuf,
    /// The installation's key directory.
    #[arg(long)]
    key_dir: PathBuf,
    /// An admin token of the installation (printed by `hush init`).
    #[arg(long, env = "HUSH_TOKEN", hide_env_values = true)]
    token: String,
    /// How many secrets the installation holds already (the previous run's
    /// --secrets): writing starts at this number.
    #[arg(long)]
    from: u64,
    /// How many it holds after this run: secrets number --from to this one
    /// (exclusive) are written. Equal to --from to write none.
    #[arg(long)]
    secrets: u64,
    /// Then read secrets until the audit log holds this many events (0: no reads).
    #[arg(long, default_value_t = 0)]
    events: u64,
    /// Concurrent calls (the writer commits up to 512 per transaction).
    #[arg(long, default_value_t = 2048)]
    tasks: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.from > args.secrets {
        return Err(anyhow!("--from {} is beyond --secrets {}", args.from, args.secrets));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let options = OpenOptions::in_dirs(args.data_dir.clone(), args.key_dir.clone(), ServiceConfig::default());
    let opened = bootstrap::open(options).await.map_err(|e| anyhow!("opening {}: {e}", args.data_dir.display()))?;
    if opened.first_start.is_some() {
        return Err(anyhow!("{} held no installation: run `hush init` first", args.data_dir.display()));
    }
    let creds = Credentials::bearer(SecretString::new(args.token));
    let seeder = Arc::new(Seeder::new(opened.hush, creds, args.tasks));
    seeder.namespaces().await?;
    let versions = if args.secrets > args.from { seeder.secrets(args.from, args.secrets).await? } else { 0 };
    let (reads, head) = seeder.events(args.secrets, args.events).await?;
    eprintln!("[seed] done in {:.1}s", started.elapsed().as_secs_f64());
    println!("secrets={} versions={versions} audit_head={head} reads={reads}", args.secrets);
    Ok(())
}
