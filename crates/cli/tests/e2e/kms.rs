//! The root key kept out of hush: every key wrapped by OpenBao Transit
//! (a real dev server), no root key on disk, and a KMS that cannot be used
//! at start is a clear refusal.

use crate::components::{free_port, openbao};
use crate::harness::{Hush, show};

#[test]
fn keys_are_wrapped_by_openbao_transit_and_no_root_key_is_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let Some(bao) = openbao("keys_are_wrapped_by_openbao_transit", dir.path()) else { return };
    bao.run(&["write", "-f", "transit/keys/hush-root"]);
    let kms_addr = bao.url();
    let env = [
        ("HUSH_KMS", "transit"),
        ("HUSH_KMS_ADDR", kms_addr.as_str()),
        ("HUSH_KMS_KEY", "hush-root"),
        ("VAULT_TOKEN", "root"),
    ];

    let mut h = Hush::init_with(&env);
    assert!(!h.key_dir().join("root.key").exists(), "a root key file was written");
    h.start(&env, &[]);
    assert!(h.log.lock().unwrap().contains("transit key hush-root"), "{}", h.log.lock().unwrap());
    let out = h.cli_stdin(&["secret", "create", "kms-wrapped", "--value-stdin"], b"KMS-value-1");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = h.cli(&["secret", "get", "kms-wrapped"]);
    assert_eq!(out.stdout, b"KMS-value-1", "{}", show(&out));
    h.stop();
    // Every key in the key store is a Transit ciphertext.
    let keys_db: Vec<u8> = Hush::all_bytes(&h.key_dir()).into_iter().flat_map(|(_, b)| b).collect();
    assert!(keys_db.windows(17).any(|w| w == b"transit:vault:v1:"), "no Transit-wrapped key in the key store");

    // After a restart the keys unwrap through the KMS again.
    h.start(&env, &[]);
    let out = h.cli(&["secret", "get", "kms-wrapped"]);
    assert_eq!(out.stdout, b"KMS-value-1", "{}", show(&out));
    h.stop();

    // A KMS that cannot be used at start: a clear refusal, quickly, never a panic.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[
                ("HUSH_KMS", "transit"),
                ("HUSH_KMS_ADDR", closed.as_str()),
                ("HUSH_KMS_KEY", "hush-root"),
                ("VAULT_TOKEN", "root"),
            ],
            "cannot be reached",
        ),
        (
            &[
                ("HUSH_KMS", "transit"),
                ("HUSH_KMS_ADDR", kms_addr.as_str()),
                ("HUSH_KMS_KEY", "hush-root"),
                ("VAULT_TOKEN", "wrong"),
            ],
            "permission denied",
        ),
        (&[], "no root key"),
    ];
    for (env, expected) in cases {
        let log = h.spawn(env, &[]).err().unwrap_or_else(|| panic!("started with {env:?}"));
        // It exited by itself (the harness says "timed out" for a hang).
        assert!(log.starts_with("exited with"), "{env:?}: {log}");
        assert!(log.contains(expected), "{env:?}: {log}");
        assert!(!log.contains("panicked"), "{log}");
    }
}

#[test]
fn a_rotated_transit_key_rewraps_every_key_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    let Some(bao) = openbao("a_rotated_transit_key_rewraps_every_key_while_serving", dir.path()) else { return };
    bao.run(&["write", "-f", "transit/keys/hush-root"]);
    let kms_addr = bao.url();
    let env = [
        ("HUSH_KMS", "transit"),
        ("HUSH_KMS_ADDR", kms_addr.as_str()),
        ("HUSH_KMS_KEY", "hush-root"),
        ("VAULT_TOKEN", "root"),
    ];
    let mut h = Hush::init_with(&env);
    h.start(&env, &[]);
    assert_eq!(h.cli_stdin(&["secret", "create", "k", "--value-stdin"], b"KMS-rot").status.code(), Some(0));
    bao.run(&["write", "-f", "transit/keys/hush-root/rotate"]);
    let out = h.cli(&["admin", "rotate-root", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(h.cli(&["secret", "get", "k"]).stdout, b"KMS-rot");
    h.stop();
    let keys_db: Vec<u8> = Hush::all_bytes(&h.key_dir()).into_iter().flat_map(|(_, b)| b).collect();
    assert!(keys_db.windows(17).any(|w| w == b"transit:vault:v2:"), "the keys are under the new Transit key version");
    assert!(!keys_db.windows(17).any(|w| w == b"transit:vault:v1:"), "no key is left under the old version");
    h.start(&env, &[]);
    assert_eq!(h.cli(&["secret", "get", "k"]).stdout, b"KMS-rot");
}
