//! What is masked, as a table: secrets, input cut into writes (` | ` in the
//! issue's notation), expected output. Every case also runs with the input
//! whole and cut into single bytes, which must give the same output.

use hush_redact::Redactor;

use crate::support::{bytewise, redactor, scrub_chunks, show};

struct Case {
    name: &'static str,
    secrets: &'static [&'static [u8]],
    chunks: &'static [&'static [u8]],
    want: &'static [u8],
}

const CASES: &[Case] = &[
    Case {
        name: "split across two writes",
        secrets: &[b"TOP_SECRET"],
        chunks: &[b"hello TOP_", b"SECRET!\n"],
        want: b"hello ***!\n",
    },
    Case {
        name: "split across many writes",
        secrets: &[b"SECRETVALUE"],
        chunks: &[b"x=SE", b"C", b"RET", b"VAL", b"UE done"],
        want: b"x=*** done",
    },
    Case { name: "match inside a failed partial match", secrets: &[b"aab"], chunks: &[b"aa", b"ab"], want: b"a***" },
    Case {
        name: "longer failed partial match",
        secrets: &[b"abcabd"],
        chunks: &[b"abcab", b"cabd."],
        want: b"abc***.",
    },
    Case { name: "overlapping secrets", secrets: &[b"abc", b"bcd"], chunks: &[b"xabcdx"], want: b"x***x" },
    Case { name: "overlapping across writes", secrets: &[b"abc", b"bcd"], chunks: &[b"xab", b"cdx"], want: b"x***x" },
    Case { name: "adjacent secrets", secrets: &[b"abc", b"def"], chunks: &[b"<abcdef>"], want: b"<***>" },
    Case {
        name: "secret that is a prefix of another",
        secrets: &[b"abc", b"abcdef"],
        chunks: &[b"1 abcdef 2 abc 3 abcde"],
        want: b"1 *** 2 *** 3 ***de",
    },
    Case {
        name: "secret that is a suffix of another",
        secrets: &[b"def", b"abcdef"],
        chunks: &[b"abcdef def"],
        want: b"*** ***",
    },
    Case { name: "repeated secret", secrets: &[b"xy"], chunks: &[b"xyxyxy xy"], want: b"*** ***" },
    Case { name: "one-byte secret", secrets: &[b"q"], chunks: &[b"aqq b q"], want: b"a*** b ***" },
    Case {
        name: "whitespace-trimmed value",
        secrets: &[b"  padded-token\n"],
        chunks: &[b"value=padded-token;"],
        want: b"value=***;",
    },
    Case {
        name: "each line of a multi-line value",
        secrets: &[b"line1\nline2"],
        chunks: &[b"line2\n"],
        want: b"***\n",
    },
    Case {
        name: "lines split on CR and LF and trimmed",
        secrets: &[b"first one\r\n  second\rthird  "],
        chunks: &[b"a first one b second c third d"],
        want: b"a *** b *** c *** d",
    },
    Case {
        name: "the whole multi-line value",
        secrets: &[b"line1\nline2"],
        chunks: &[b"<line1\nline2>"],
        want: b"<***>",
    },
    Case {
        name: "invalid UTF-8, NUL, CR/LF pass through",
        secrets: &[b"secret"],
        chunks: &[b"\xff\x00sec", b"ret\r\n\xfe\xc3"],
        want: b"\xff\x00***\r\n\xfe\xc3",
    },
    Case { name: "no final newline", secrets: &[b"secret"], chunks: &[b"end secret"], want: b"end ***" },
    Case {
        name: "partial secret at the end is kept",
        secrets: &[b"secret"],
        chunks: &[b"end secr"],
        want: b"end secr",
    },
    Case { name: "binary secret", secrets: &[b"\x00\xffk\x01"], chunks: &[b"a\x00\xffk\x01b"], want: b"a***b" },
    Case {
        name: "empty and whitespace-only secrets are ignored",
        secrets: &[b"", b" \t\n"],
        chunks: &[b"a b\tc\n"],
        want: b"a b\tc\n",
    },
    Case { name: "no secrets", secrets: &[], chunks: &[b"anything\n"], want: b"anything\n" },
    Case { name: "empty input", secrets: &[b"secret"], chunks: &[], want: b"" },
    Case {
        name: "base64 of u:password (alignment 2)",
        secrets: &[b"Password123!"],
        chunks: &[b"Authorization: Basic dTpQYXNzd29yZDEyMyE=\n"],
        want: b"Authorization: Basic dTp***\n",
    },
    Case {
        name: "base64 at alignment 0, unpadded",
        secrets: &[b"Password123!"],
        chunks: &[b"UGFzc3dvcmQxMjMh"],
        want: b"***",
    },
    Case {
        name: "base64 at alignment 2 with a newline after",
        secrets: &[b"Password123!"],
        // base64("ab" + "Password123!" + "\n")
        chunks: &[b"YWJQYXNzd29yZDEyMyEK"],
        want: b"YWJ***K",
    },
    Case {
        name: "URL-safe base64",
        secrets: &[b"\xfb\xff\xbf\xfb\xff\xbf"],
        chunks: &[b"t=-_-_-_-_ end"],
        want: b"t=*** end",
    },
    Case {
        name: "URL encoding, RFC 3986",
        secrets: &[b"p@ss word/1"],
        chunks: &[b"GET /login?pw=p%40ss%20word%2F1&x=1"],
        want: b"GET /login?pw=***&x=1",
    },
    Case {
        name: "URL encoding, form style",
        secrets: &[b"p@ss word/1"],
        chunks: &[b"pw=p%40ss+word%2F1"],
        want: b"pw=***",
    },
    Case {
        name: "URL encoding, lower-case hex",
        secrets: &[b"p@ss word/1"],
        chunks: &[b"pw=p%40ss%20word%2f1"],
        want: b"pw=***",
    },
    Case {
        name: "JSON string escaping",
        secrets: &[b"quote\"back\\slash\ttab"],
        chunks: &[b"{\"v\":\"quote\\\"back\\\\slash\\ttab\"}"],
        want: b"{\"v\":\"***\"}",
    },
    Case {
        name: "JSON with non-ASCII escaped",
        secrets: &["pässwörd".as_bytes()],
        chunks: &[b"{\"v\":\"p\\u00e4ssw\\u00f6rd\"}"],
        want: b"{\"v\":\"***\"}",
    },
    Case {
        name: "short values are not matched encoded",
        secrets: &[b"abc12"],
        chunks: &[b"YWJjMTI= abc12"],
        want: b"YWJjMTI= ***",
    },
];

fn check(case: &Case, redactor: &Redactor) {
    let got = scrub_chunks(redactor, case.chunks);
    assert_eq!(show(&got), show(case.want), "case {:?}, chunks as given", case.name);
    let whole = case.chunks.concat();
    assert_eq!(show(&scrub_chunks(redactor, &[&whole])), show(case.want), "case {:?}, whole", case.name);
    assert_eq!(show(&scrub_chunks(redactor, &bytewise(&whole))), show(case.want), "case {:?}, bytewise", case.name);
}

#[test]
fn table() {
    for case in CASES {
        check(case, &redactor(case.secrets));
    }
}

#[test]
fn ignored_secrets_are_reported_by_position() {
    let r = redactor(&[b"ok-secret", b"", b"  \n"]);
    assert_eq!(r.ignored(), &[1, 2]);
}

#[test]
fn custom_replacement() {
    let r = Redactor::builder().secret(b"hunter2").replacement("[masked]").build().unwrap();
    assert_eq!(r.redact(b"pw hunter2."), b"pw [masked].");
}

#[test]
fn encodings_can_be_turned_off() {
    let r = Redactor::builder().secret(b"Password123!").encodings(false).build().unwrap();
    assert_eq!(r.redact(b"UGFzc3dvcmQxMjMh Password123!"), b"UGFzc3dvcmQxMjMh ***");
}

#[test]
fn bytes_that_cannot_begin_a_secret_are_released_at_once() {
    let r = redactor(&[b"TOP_SECRET"]);
    let mut scrubber = r.scrubber();
    let mut out = Vec::new();
    scrubber.write(b"hello world\n", &mut out).unwrap();
    assert_eq!(out, b"hello world\n");
    assert_eq!(scrubber.held_back(), 0);
    scrubber.write(b"and TOP", &mut out).unwrap();
    assert_eq!(out, b"hello world\nand ");
    assert_eq!(scrubber.held_back(), 3);
    scrubber.write(b"IC", &mut out).unwrap();
    assert_eq!(out, b"hello world\nand TOPIC");
    assert_eq!(scrubber.held_back(), 0);
}

#[test]
fn a_secret_spanning_many_writes_gives_one_replacement() {
    let secret = b"0123456789abcdefghij";
    let r = redactor(&[secret, b"ghijKLMN"]);
    let mut input = b"<".to_vec();
    input.extend_from_slice(secret);
    input.extend_from_slice(b"KLMN>");
    assert_eq!(show(&scrub_chunks(&r, &bytewise(&input))), "<***>");
}

#[test]
fn copy_streams_and_counts() {
    let r = redactor(&[b"TOP_SECRET"]);
    let mut out = Vec::new();
    let n = r.copy(&b"a TOP_SECRET b"[..], &mut out).unwrap();
    assert_eq!(n, 14);
    assert_eq!(out, b"a *** b");
}

#[test]
fn debug_output_names_no_secret() {
    let r = redactor(&[b"TOP_SECRET"]);
    let scrubber = r.scrubber();
    for text in [format!("{r:?}"), format!("{scrubber:?}"), format!("{:?}", Redactor::builder().secret(b"TOP_SECRET"))]
    {
        assert!(!text.contains("TOP_SECRET"), "{text}");
    }
}

#[test]
fn large_secret_sets_use_the_compact_automaton() {
    // 2,000 secrets are far past the DFA's size limit: the NFA path must
    // give the same answers.
    let secrets: Vec<Vec<u8>> = (0..2000).map(|i| format!("secret-number-{i:05}-xyz").into_bytes()).collect();
    let r = Redactor::builder().secrets(&secrets).build().unwrap();
    assert!(r.pattern_count() > 2000);
    for case in CASES.iter().filter(|c| c.secrets.iter().all(|s| s.len() < 6)) {
        let mut all: Vec<&[u8]> = secrets.iter().map(|s| &s[..]).collect();
        all.extend_from_slice(case.secrets);
        check(case, &Redactor::builder().secrets(all).build().unwrap());
    }
    let input = b"a secret-number-01999-xyz b secret-number-00000-xy";
    assert_eq!(show(&scrub_chunks(&r, &bytewise(input))), "a *** b secret-number-00000-xy");
}

#[test]
fn copy_stops_at_a_failed_write_and_lets_go_of_the_input_at_its_next_read() {
    use std::sync::mpsc::{Receiver, Sender, channel};
    use std::time::Duration;
    /// One read at once, then each read waits for the test; says when dropped.
    struct Waiting {
        first: bool,
        more: Receiver<()>,
        dropped: Sender<()>,
    }
    impl std::io::Read for Waiting {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if !std::mem::replace(&mut self.first, false) {
                // Blocks until the test lets it go (or drops the sender).
                let _ = self.more.recv();
            }
            buf[..6].copy_from_slice(b"hello ");
            Ok(6)
        }
    }
    impl Drop for Waiting {
        fn drop(&mut self) {
            let _ = self.dropped.send(());
        }
    }
    struct Gone;
    impl std::io::Write for Gone {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let (more, more_rx) = channel();
    let (dropped_tx, dropped) = channel();
    let r = redactor(&[b"TOP_SECRET"]);
    // The reading thread is blocked in its second read: the copy must not wait for it.
    let e = r.copy(Waiting { first: true, more: more_rx, dropped: dropped_tx }, Gone).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
    assert!(dropped.try_recv().is_err(), "the input was let go before its read returned");
    // Once that read returns, the thread ends and drops the input.
    more.send(()).unwrap();
    dropped.recv_timeout(Duration::from_secs(60)).expect("the reading thread let go of the input");
}

#[test]
fn copy_hands_on_a_read_error() {
    struct Failing(bool);
    impl std::io::Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if std::mem::replace(&mut self.0, true) {
                return Err(std::io::ErrorKind::ConnectionReset.into());
            }
            buf[..9].copy_from_slice(b"a TOP_SEC");
            Ok(9)
        }
    }
    let r = redactor(&[b"TOP_SECRET"]);
    let mut out = Vec::new();
    let e = r.copy(Failing(false), &mut out).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
    // What could be the start of the secret was held back, not written.
    assert_eq!(out, b"a ");
}

/// `n` distinct secrets of 20–39 letters and digits, the same for a given `seed`.
fn many_secrets(n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut state = seed;
    let mut next = move || {
        // xorshift64: enough to make distinct test values.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| {
            let len = 20 + (next() % 20) as usize;
            (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect()
        })
        .collect()
}

#[test]
fn a_large_set_built_on_two_threads_masks_every_secret_once() {
    // Enough secrets for the build to split them between two threads, with
    // one secret in both halves: the merge must keep it once.
    let mut secrets = many_secrets(1200, 0x9e37_79b9_7f4a_7c15);
    secrets[1199] = secrets[0].clone();
    let all = Redactor::builder().secrets(&secrets).build().unwrap();
    let distinct = Redactor::builder().secrets(&secrets[..1199]).build().unwrap();
    assert_eq!(all.pattern_count(), distinct.pattern_count());
    let first = Redactor::builder().secrets(&secrets[..600]).build().unwrap();
    let second = Redactor::builder().secrets(&secrets[600..1199]).build().unwrap();
    assert_eq!(all.pattern_count(), first.pattern_count() + second.pattern_count());
    let mut text = Vec::new();
    for (i, secret) in secrets.iter().enumerate() {
        text.extend_from_slice(format!("line {i}: ").as_bytes());
        text.extend_from_slice(secret);
        text.extend_from_slice(b" b64=");
        text.extend_from_slice(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, secret).as_bytes());
        text.push(b'\n');
    }
    let out = show(&all.redact(&text));
    assert_eq!(out.matches("***").count(), 2 * secrets.len(), "{out}");
    for secret in &secrets {
        assert!(!out.contains(&*String::from_utf8_lossy(secret)), "a secret survived");
    }
}
