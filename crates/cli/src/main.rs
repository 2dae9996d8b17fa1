//! The `hush` binary: everything is in the `hush_cli` library.

/// jemalloc rather than glibc's malloc: it gives the memory of closed
/// connections back to the system, so the RSS falls again after a burst of
/// clients (glibc's kept half of it; docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    // Freed memory is returned by jemalloc's own thread, even while the
    // server is otherwise idle.
    let _ = tikv_jemalloc_ctl::background_thread::write(true);
    hush_cli::main()
}
