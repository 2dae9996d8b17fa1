//! Reading a stream on a thread of its own, a few buffers ahead of the
//! scrubber, so that the kernel's copy out of a pipe overlaps the search.
//!
//! `hush redact` over a pipe spent about a third of its copying thread in
//! the `read` system call (the pipe's pages copied into the buffer) and two
//! thirds scrubbing; one after the other on one thread, while the machine's
//! other core waited (docs/benchmarks.md, "Redaction"). With the read on a
//! thread of its own the two overlap.
//!
//! Buffers go round between the two threads. They hold input, secrets
//! included: each is wiped as it is handed back, so a buffer waiting to be
//! read into holds nothing, even if the reading thread outlives the copy
//! (blocked in a read nobody will answer), and wiped when dropped. Each read
//! is handed on as soon as it returns, so nothing waits for a buffer to
//! fill: output still appears as soon as it is safe.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use zeroize::Zeroizing;

/// One buffer and how many of its bytes the read filled.
type Filled = (Zeroizing<Vec<u8>>, usize);

/// The reading side, as the scrubber sees it.
pub(crate) struct ReadAhead {
    filled: Receiver<io::Result<Filled>>,
    empty: SyncSender<Zeroizing<Vec<u8>>>,
}

impl ReadAhead {
    /// Starts reading `input` into `buffers` buffers of `size` bytes on a new
    /// thread. The thread ends at the end of the input, at a read error, or
    /// at its next read after this is dropped: a read that never returns (a
    /// terminal nobody types into) keeps it, and only it, waiting.
    pub(crate) fn start(mut input: impl Read + Send + 'static, buffers: usize, size: usize) -> io::Result<ReadAhead> {
        debug_assert!(buffers > 0, "no buffer to read into");
        let (filled_tx, filled) = sync_channel::<io::Result<Filled>>(buffers);
        let (empty, empty_rx) = sync_channel::<Zeroizing<Vec<u8>>>(buffers);
        for _ in 0..buffers {
            // The channel has room for every buffer, and its receiver is here.
            let _ = empty.send(Zeroizing::new(vec![0u8; size]));
        }
        std::thread::Builder::new().name("hush-redact-read".into()).spawn(move || {
            while let Ok(mut buffer) = empty_rx.recv() {
                let read = loop {
                    match input.read(&mut buffer) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        other => break other,
                    }
                };
                let end = !matches!(read, Ok(1..));
                if filled_tx.send(read.map(|n| (buffer, n))).is_err() || end {
                    return;
                }
            }
        })?;
        Ok(ReadAhead { filled, empty })
    }

    /// The next read's bytes, in `buffer` (its first `n` bytes); `n` is 0 at
    /// the end of the input. Give the buffer back with [`ReadAhead::recycle`].
    pub(crate) fn next(&self) -> io::Result<Filled> {
        match self.filled.recv() {
            Ok(read) => read,
            // The thread ended after the end of the input or an error, both
            // already handed on; or it panicked.
            Err(_) => Err(io::Error::other("the input's reading thread ended")),
        }
    }

    /// Hands back a buffer whose first `n` bytes were read into, wiping
    /// them: it may wait for the next read for as long as that thread
    /// lives. A plain `fill` (one `memset` of bytes still in the cache), not
    /// `zeroize`: its volatile writes, a byte at a time, cost a seventh of
    /// `hush redact`'s rate (docs/benchmarks.md). The stores cannot be left
    /// out: the buffer goes to another thread and into a `read` next.
    pub(crate) fn recycle(&self, mut buffer: Zeroizing<Vec<u8>>, n: usize) {
        buffer[..n].fill(0);
        // The thread may have ended (end of input): the buffer is then
        // dropped, and wiped, here.
        let _ = self.empty.send(buffer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that gives `chunks` one read at a time, then an error or the end.
    struct Chunks(Vec<&'static [u8]>, Option<io::ErrorKind>);

    impl Read for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return match self.1.take() {
                    Some(kind) => Err(kind.into()),
                    None => Ok(0),
                };
            }
            let chunk = self.0.remove(0);
            buf[..chunk.len()].copy_from_slice(chunk);
            Ok(chunk.len())
        }
    }

    fn drain(ahead: &ReadAhead) -> io::Result<Vec<Vec<u8>>> {
        let mut reads = Vec::new();
        loop {
            let (buffer, n) = ahead.next()?;
            if n == 0 {
                return Ok(reads);
            }
            reads.push(buffer[..n].to_vec());
            ahead.recycle(buffer, n);
        }
    }

    #[test]
    fn reads_arrive_in_order_one_each_then_the_end() {
        // More reads than buffers: the buffers must come round.
        let chunks: Vec<&'static [u8]> = vec![b"one ", b"two ", b"three ", b"four ", b"five"];
        let ahead = ReadAhead::start(Chunks(chunks.clone(), None), 2, 16).unwrap();
        assert_eq!(drain(&ahead).unwrap(), chunks.iter().map(|c| c.to_vec()).collect::<Vec<_>>());
        // Past the end, a clear error rather than a hang.
        assert!(ahead.next().is_err());
    }

    #[test]
    fn a_read_error_is_handed_on_after_the_reads_before_it() {
        let ahead = ReadAhead::start(Chunks(vec![b"ok"], Some(io::ErrorKind::ConnectionReset)), 2, 16).unwrap();
        let (buffer, n) = ahead.next().unwrap();
        assert_eq!(&buffer[..n], b"ok");
        ahead.recycle(buffer, n);
        assert_eq!(ahead.next().unwrap_err().kind(), io::ErrorKind::ConnectionReset);
    }

    #[test]
    fn interrupted_reads_are_retried() {
        struct Flaky(u8);
        impl Read for Flaky {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.0 += 1;
                match self.0 {
                    1 | 3 => Err(io::ErrorKind::Interrupted.into()),
                    2 => {
                        buf[0] = b'x';
                        Ok(1)
                    }
                    _ => Ok(0),
                }
            }
        }
        let ahead = ReadAhead::start(Flaky(0), 1, 4).unwrap();
        assert_eq!(drain(&ahead).unwrap(), vec![b"x".to_vec()]);
    }
}
