//! Workload identity end to end: a local OIDC issuer (`oidc_issuer`, real
//! keys and signatures per run), the real `hush` server and CLI. CI jobs and
//! pods log in with their platform's JWT, shaped like GitHub's, GitLab's and
//! Kubernetes', with no stored hush token; each check of a JWT has its own
//! refusal test; the audit shows which run or pod read a secret.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{HUSH, Hush, show};
use crate::oidc_issuer::{Alg, Issuer};

const AUDIENCE: &str = "https://hush.test";
const SECRET: &str = "db-pass-7c1e9a";

/// A running hush with namespace `ci` holding secret `db`, and an issuer.
fn setup(serve_args: &[&str]) -> (Hush, Issuer) {
    let issuer = Issuer::start();
    let mut h = Hush::init();
    h.start(&[], serve_args);
    assert!(h.cli(&["namespace", "create", "ci"]).status.success());
    let out = h.cli_stdin(&["secret", "create", "db", "-n", "ci", "--value-stdin"], SECRET.as_bytes());
    assert!(out.status.success(), "{}", show(&out));
    (h, issuer)
}

/// `hush auth role create NAME` for the issuer, with these extra arguments.
fn create_role(h: &Hush, issuer: &Issuer, name: &str, extra: &[&str]) {
    let mut args = vec![
        "auth",
        "role",
        "create",
        name,
        "-n",
        "ci",
        "--scope",
        "secrets:read",
        "--issuer",
        issuer.url(),
        "--audience",
        AUDIENCE,
    ];
    args.extend_from_slice(extra);
    let out = h.cli(&args);
    assert!(out.status.success(), "{}", show(&out));
}

/// The CLI as a workload: no HUSH_TOKEN, only what `env` gives.
fn workload(h: &Hush, args: &[&str], env: &[(String, String)]) -> Output {
    Command::new(HUSH)
        .args(args)
        .env("HUSH_ADDR", &h.addr)
        .env_remove("HUSH_TOKEN")
        .env_remove("HUSH_ROLE")
        .env_remove("HUSH_JWT_FILE")
        .env_remove("HUSH_JWT_ENV")
        .env_remove("HUSH_JWT_AUDIENCE")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        .env_remove("HUSH_NAMESPACE")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// `hush run` reading `db` through `hush://`: proves the workload got in.
fn read_db(h: &Hush, env: &[(String, String)]) -> Output {
    let script = format!("test \"$X\" = '{SECRET}' && echo read-ok");
    workload(h, &["run", "--env", "X=hush://ci/db", "--", "sh", "-c", &script], env)
}

/// The newest audit events (admin token), as JSON.
fn audit(h: &Hush, filter: &[&str]) -> Vec<Value> {
    let out = h.cli(&[&["audit", "list", "--json", "--limit", "50"], filter].concat());
    assert!(out.status.success(), "{}", show(&out));
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    page["events"].as_array().unwrap().clone()
}

/// POST /v1/auth/jwt/login: status and body.
fn login(h: &Hush, role: &str, jwt: &str) -> (u16, Value) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let response =
            h.http().post(h.url("/v1/auth/jwt/login")).json(&json!({"role": role, "jwt": jwt})).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    })
}

/// The newest `auth.login` event.
fn last_login(h: &Hush) -> Value {
    audit(h, &["--action", "auth.login"]).into_iter().next().expect("a login event")
}

#[test]
fn a_github_actions_job_logs_in_by_itself_and_the_audit_shows_its_run() {
    let (h, issuer) = setup(&[]);
    create_role(
        &h,
        &issuer,
        "gh-deploy",
        &["--bound-claim", "repository=octo-org/octo-repo", "--bound-claim", "ref=refs/heads/main,refs/tags/v*"],
    );
    let mut runner = issuer.github_runner_env();
    runner.extend(env(&[("HUSH_ROLE", "gh-deploy")]));
    let out = read_db(&h, &runner);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "read-ok\n");
    assert!(issuer.runner_token_requests() >= 1);

    // The read is recorded with the repository and run of the job.
    let reads = audit(&h, &["--name", "db", "--action", "secret.read"]);
    let identity = &reads[0]["identity"];
    assert_eq!(identity["role"], "gh-deploy");
    assert_eq!(identity["claims"]["repository"], "octo-org/octo-repo");
    assert_eq!(identity["sub"], "repo:octo-org/octo-repo:ref:refs/heads/main");
    for claim in ["run_id", "run_attempt", "workflow", "job_workflow_ref", "ref", "actor"] {
        assert!(identity["claims"][claim].is_string(), "{claim} missing: {identity}");
    }
    // And in the table, for people.
    let table = h.cli(&["audit", "list", "--name", "db"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("repository=octo-org/octo-repo"), "{}", show(&table));

    // `hush login` prints the token alone; it works as HUSH_TOKEN.
    let out = workload(&h, &["login", "--role", "gh-deploy"], &issuer.github_runner_env());
    assert!(out.status.success(), "{}", show(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("hush_"), "{token}");
    let out = workload(&h, &["secret", "get", "db", "-n", "ci"], &env(&[("HUSH_TOKEN", &token)]));
    assert_eq!(String::from_utf8_lossy(&out.stdout), SECRET, "{}", show(&out));

    // Another branch of the same repository is refused.
    issuer.set_github_subject("octo-org/octo-repo", "refs/heads/feature");
    let out = workload(&h, &["login", "--role", "gh-deploy"], &issuer.github_runner_env());
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert_eq!(last_login(&h)["reason"], "bound_claim:ref");
}

#[test]
fn a_gitlab_job_logs_in_with_its_id_token_variable() {
    let (h, issuer) = setup(&[]);
    create_role(
        &h,
        &issuer,
        "gl-build",
        &["--bound-claim", "project_path=group/project", "--bound-claim", "ref_protected=true"],
    );
    let jwt = issuer.sign_with(Alg::Es256, &issuer.gitlab_claims(AUDIENCE, "group/project", "main"));
    let job = env(&[("HUSH_ROLE", "gl-build"), ("HUSH_JWT_ENV", "HUSH_ID_TOKEN"), ("HUSH_ID_TOKEN", &jwt)]);
    let out = read_db(&h, &job);
    assert!(out.status.success(), "{}", show(&out));
    let reads = audit(&h, &["--name", "db", "--action", "secret.read"]);
    let claims = &reads[0]["identity"]["claims"];
    assert_eq!(claims["project_path"], "group/project");
    assert!(claims["pipeline_id"].is_string() && claims["job_id"].is_string(), "{claims}");

    // Without a JWT source, HUSH_ROLE alone is a usage error that says what to set.
    let out = workload(&h, &["secret", "get", "db", "-n", "ci"], &env(&[("HUSH_ROLE", "gl-build")]));
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HUSH_JWT_FILE"), "{}", show(&out));
}

#[test]
fn a_kubernetes_pod_logs_in_with_keys_from_a_jwks_file() {
    let (h, issuer) = setup(&[]);
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, issuer.jwks_json()).unwrap();
    create_role(
        &h,
        &issuer,
        "k8s-ci",
        &[
            "--jwks-file",
            jwks.to_str().unwrap(),
            "--bound-claim",
            "/kubernetes.io/namespace=ci",
            "--bound-claim",
            "/kubernetes.io/serviceaccount/name=builder",
        ],
    );
    let token_file = dir.path().join("token");
    let claims = issuer.kubernetes_claims(AUDIENCE, "ci", "builder", "builder-7d9f-x2");
    std::fs::write(&token_file, issuer.sign_with(Alg::EdDsa, &claims)).unwrap();
    let pod = env(&[("HUSH_ROLE", "k8s-ci"), ("HUSH_JWT_FILE", token_file.to_str().unwrap())]);
    let out = read_db(&h, &pod);
    assert!(out.status.success(), "{}", show(&out));
    let reads = audit(&h, &["--name", "db", "--action", "secret.read"]);
    let claims = &reads[0]["identity"]["claims"];
    assert_eq!(claims["kubernetes.io/pod/name"], "builder-7d9f-x2");
    assert_eq!(claims["kubernetes.io/namespace"], "ci");
    assert_eq!(claims["kubernetes.io/serviceaccount/name"], "builder");
    // The keys came from the file: the issuer was never asked.
    assert_eq!(issuer.jwks_fetches() + issuer.discovery_fetches(), 0);

    // Another service account of the namespace is refused.
    let other = issuer.kubernetes_claims(AUDIENCE, "ci", "default", "p");
    std::fs::write(&token_file, issuer.sign_with(Alg::EdDsa, &other)).unwrap();
    assert_eq!(read_db(&h, &pod).status.code(), Some(3));
    assert_eq!(last_login(&h)["reason"], "bound_claim:/kubernetes.io/serviceaccount/name");
}

#[test]
fn roles_are_checked_at_creation_and_managed_with_tokens_manage() {
    let (h, issuer) = setup(&[]);
    let base = ["auth", "role", "create", "r", "-n", "ci", "--scope", "secrets:read", "--audience", "a", "--issuer"];
    let refused = [
        (vec![issuer.url()], "at least one bound claim"),
        (vec!["http://issuer.example", "--bound-claim", "sub=x"], "plain http"),
        (vec![issuer.url(), "--bound-claim", "sub=*"], "would match any value"),
        (vec![issuer.url(), "--bound-claim", "nonsense"], "CLAIM=PATTERN"),
    ];
    for (extra, message) in refused {
        let out = h.cli(&[&base[..], &extra].concat());
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains(message), "{message}: {}", show(&out));
    }
    // No more than the creator holds.
    let manager = h.token(&["ci"], &["tokens:manage", "secrets:read"]);
    let args = [&base[..], &[issuer.url(), "--bound-claim", "sub=x", "--scope", "secrets:write"]].concat();
    let out = h.cli_as(&manager, &args, None);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let reader = h.token(&["ci"], &["secrets:read"]);
    assert_eq!(h.cli_as(&reader, &["auth", "role", "list"], None).status.code(), Some(3));

    create_role(&h, &issuer, "ok", &["--bound-claim", "sub=x"]);
    let out = h.cli(&["auth", "role", "get", "ok", "--json"]);
    let role: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(role["bound_claims"], json!(["sub=x"]));
    assert_eq!((role["ttl"].as_u64(), role["max_ttl"].as_u64()), (Some(900), Some(3600)));
    assert_eq!(
        h.cli(&[
            "auth",
            "role",
            "create",
            "ok",
            "-n",
            "ci",
            "--scope",
            "secrets:read",
            "--issuer",
            issuer.url(),
            "--audience",
            "a",
            "--bound-claim",
            "sub=x"
        ])
        .status
        .code(),
        Some(5)
    );
    let list = h.cli(&["auth", "role", "list"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("sub=x"), "{}", show(&list));
    let actions: Vec<String> =
        audit(&h, &[]).iter().map(|e| e["action"].as_str().unwrap_or_default().to_owned()).collect();
    assert!(actions.contains(&"role.create".to_owned()) && actions.contains(&"role.read".to_owned()), "{actions:?}");
}

#[test]
fn an_issued_token_expires_and_deleting_the_role_stops_new_logins() {
    let (h, issuer) = setup(&[]);
    create_role(&h, &issuer, "short", &["--bound-claim", "repository=octo-org/*", "--ttl", "2s"]);
    let jwt = issuer.sign(&issuer.github_claims(AUDIENCE, "octo-org/octo-repo", "refs/heads/main"));
    let (status, body) = login(&h, "short", &jwt);
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(body["namespaces"], json!(["ci"]));
    assert_eq!(body["scopes"], json!(["secrets:read"]));
    assert!(body["expires_at"].is_string());
    let get = |token: &str| workload(&h, &["secret", "get", "db", "-n", "ci"], &env(&[("HUSH_TOKEN", token)]));
    assert!(get(&token).status.success());

    // Deleting the role stops new logins; the token issued before keeps its short life.
    let (_, second) = login(&h, "short", &jwt);
    let second = second["token"].as_str().unwrap().to_owned();
    assert!(h.cli(&["auth", "role", "delete", "short"]).status.success());
    assert_eq!(login(&h, "short", &jwt).0, 401);
    assert_eq!(last_login(&h)["reason"], "unknown_role");
    assert!(get(&second).status.success());
    std::thread::sleep(Duration::from_millis(2500));
    let out = get(&token);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expired"), "{}", show(&out));
    assert_eq!(get(&second).status.code(), Some(3));
}

#[test]
fn keys_rotated_by_the_issuer_are_fetched_again() {
    let (h, issuer) = setup(&[]);
    create_role(&h, &issuer, "rot", &["--bound-claim", "repository=octo-org/octo-repo"]);
    let claims = issuer.github_claims(AUDIENCE, "octo-org/octo-repo", "refs/heads/main");
    assert_eq!(login(&h, "rot", &issuer.sign(&claims)).0, 200);
    let fetched = issuer.jwks_fetches();
    assert_eq!(fetched, 1);
    assert_eq!(login(&h, "rot", &issuer.sign(&claims)).0, 200);
    assert_eq!(issuer.jwks_fetches(), 1, "cached keys are used");
    issuer.rotate();
    // A refetch is allowed once per interval (5 s) per issuer.
    std::thread::sleep(Duration::from_secs(5));
    let (status, body) = login(&h, "rot", &issuer.sign(&claims));
    assert_eq!(status, 200, "{body} {}", last_login(&h));
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[test]
fn an_unknown_key_id_is_refused_after_one_refetch() {
    let (h, issuer) = setup(&[]);
    create_role(&h, &issuer, "r", &["--bound-claim", "repository=octo-org/octo-repo"]);
    let claims = issuer.github_claims(AUDIENCE, "octo-org/octo-repo", "refs/heads/main");
    assert_eq!(login(&h, "r", &issuer.sign(&claims)).0, 200);
    assert_eq!(issuer.jwks_fetches(), 1);
    std::thread::sleep(Duration::from_secs(5));
    let (status, body) = login(&h, "r", &issuer.sign_with_kid("no-such-key", &claims));
    assert_eq!(status, 401, "{body}");
    assert_eq!(last_login(&h)["reason"], "unknown_key");
    assert_eq!(issuer.jwks_fetches(), 2, "an unknown key id is fetched for once");
    // Right after, another unknown key id does not fetch again.
    assert_eq!(login(&h, "r", &issuer.sign_with_kid("another", &claims)).0, 401);
    assert_eq!(issuer.jwks_fetches(), 2);
}

/// `jwt` with its header replaced by one naming key `kid` (the signature no
/// longer matches, but an unknown key id is refused before it is checked).
fn with_kid(jwt: &str, kid: &str) -> String {
    use base64::Engine;
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid}).to_string();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header);
    let (_, rest) = jwt.split_once('.').unwrap();
    format!("{header}.{rest}")
}

#[test]
fn a_flood_of_made_up_key_ids_fetches_the_keys_a_handful_of_times() {
    // The failed-authentication budget would stop this flood early: lift it
    // to see what the key cache alone does.
    let (h, issuer) = setup(&["--failed-auth-per-second", "1000000", "--failed-auth-burst", "1000000"]);
    create_role(&h, &issuer, "flood", &["--bound-claim", "repository=octo-org/octo-repo"]);
    let claims = issuer.github_claims(AUDIENCE, "octo-org/octo-repo", "refs/heads/main");
    let signed = issuer.sign(&claims);
    let jwts: Vec<String> = (0..10_000).map(|i| with_kid(&signed, &format!("forged-{i}"))).collect();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let started = std::time::Instant::now();
    let refused = rt.block_on(async {
        let http = h.http();
        let url = h.url("/v1/auth/jwt/login");
        let mut refused = 0;
        for chunk in jwts.chunks(50) {
            let calls: Vec<_> = chunk
                .iter()
                .map(|jwt| tokio::spawn(http.post(&url).json(&json!({"role": "flood", "jwt": jwt})).send()))
                .collect();
            for call in calls {
                refused += usize::from(call.await.unwrap().unwrap().status() == 401);
            }
        }
        refused
    });
    assert_eq!(refused, 10_000);
    let elapsed = started.elapsed().as_secs();
    let fetches = issuer.jwks_fetches() + issuer.discovery_fetches();
    // One discovery and one JWKS fetch per 5 s at most.
    assert!(fetches <= 2 * (elapsed as usize / 5 + 1), "{fetches} fetches in {elapsed} s");
    assert!(fetches <= 12, "{fetches} fetches");
    assert_eq!(last_login(&h)["reason"], "unknown_key");
}

#[test]
fn failed_logins_spend_the_address_budget() {
    let (h, issuer) = setup(&["--failed-auth-per-second", "1", "--failed-auth-burst", "3"]);
    create_role(&h, &issuer, "r", &["--bound-claim", "repository=octo-org/octo-repo"]);
    let forged = issuer.alg_none(&issuer.github_claims(AUDIENCE, "octo-org/octo-repo", "refs/heads/main"));
    let statuses: Vec<u16> = (0..6).map(|_| login(&h, "r", &forged).0).collect();
    assert_eq!(&statuses[..3], [401, 401, 401], "{statuses:?}");
    assert!(statuses[4..].iter().all(|s| *s == 429), "{statuses:?}");
    // Refused at the door: audited as counted refusals, not one event each.
    let logins = audit(&h, &["--action", "auth.login"]);
    assert!(logins.len() <= 4, "{}", logins.len());
}

#[test]
fn nothing_logs_or_stores_a_jwt_or_an_issued_token() {
    let issuer = Issuer::start();
    let mut h = Hush::init();
    h.start(&[("HUSH_LOG", "trace")], &[]);
    assert!(h.cli(&["namespace", "create", "ci"]).status.success());
    assert!(h.cli_stdin(&["secret", "create", "db", "-n", "ci", "--value-stdin"], SECRET.as_bytes()).status.success());
    create_role(&h, &issuer, "r", &["--bound-claim", "repository=octo-org/octo-repo"]);
    let good = issuer.sign(&issuer.github_claims(AUDIENCE, "octo-org/octo-repo", "refs/heads/main"));
    let bad = issuer.sign(&issuer.github_claims(AUDIENCE, "evil/repo", "refs/heads/main"));
    let (status, body) = login(&h, "r", &good);
    assert_eq!(status, 200);
    let token = body["token"].as_str().unwrap().to_owned();
    let (status, refusal) = login(&h, "r", &bad);
    assert_eq!(status, 401);
    let out = workload(&h, &["secret", "get", "db", "-n", "ci"], &env(&[("HUSH_TOKEN", &token)]));
    assert!(out.status.success());
    let signature = |jwt: &str| jwt.rsplit('.').next().unwrap().to_owned();
    let everything = [
        h.log.lock().unwrap().clone(),
        h.stdout_log.lock().unwrap().clone(),
        refusal.to_string(),
        String::from_utf8(h.cli(&["audit", "list", "--json", "--limit", "100"]).stdout).unwrap(),
        String::from_utf8(h.cli(&["token", "list", "--json"]).stdout).unwrap(),
    ];
    for (i, text) in everything.iter().enumerate() {
        for needle in [&good, &bad, &signature(&good), &signature(&bad), &token] {
            assert!(!text.contains(needle.as_str()), "text {i} holds a credential");
        }
    }
    // The refusal says only that the login failed.
    assert_eq!(refusal["error"]["code"], "unauthenticated");
    assert!(!refusal.to_string().contains("repository"), "{refusal}");
    // trace was on: the log did get lines about the requests.
    assert!(h.log.lock().unwrap().contains("/v1/auth/jwt/login"), "{}", h.log.lock().unwrap());
    // The data file holds neither.
    for (_, bytes) in Hush::all_bytes(&h.data_dir()) {
        assert!(!crate::harness::contains(&bytes, token.as_bytes()));
        assert!(!crate::harness::contains(&bytes, signature(&good).as_bytes()));
    }
}

/// One refusal per check: each JWT fails exactly one check, and the audit
/// names it. Removing a check makes its test log in (200) or name another.
macro_rules! refusal {
    ($name:ident, $reason:expr, |$issuer:ident, $claims:ident| $jwt:expr) => {
        #[test]
        fn $name() {
            let (h, $issuer) = setup(&[]);
            create_role(
                &h,
                &$issuer,
                "r",
                &["--bound-claim", "repository=octo-org/octo-repo", "--bound-claim", "ref=refs/heads/main"],
            );
            #[allow(unused_mut)]
            let mut $claims = $issuer.github_claims(AUDIENCE, "octo-org/octo-repo", "refs/heads/main");
            // The untouched claims log in: the refusal is down to the change.
            assert_eq!(login(&h, "r", &$issuer.sign(&$claims)).0, 200);
            let jwt: String = $jwt;
            let (status, body) = login(&h, "r", &jwt);
            assert_eq!(status, 401, "{body}");
            assert_eq!(body["error"]["message"], "the login failed (the audit log says why)");
            let event = last_login(&h);
            assert_eq!(event["outcome"], "unauthenticated");
            assert_eq!(event["reason"], $reason, "{event}");
            assert_eq!(event["name"], "r");
        }
    };
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

refusal!(refuses_an_expired_jwt, "expired", |issuer, claims| {
    claims["iat"] = json!(now() - 600);
    claims["nbf"] = json!(now() - 600);
    claims["exp"] = json!(now() - 120);
    issuer.sign(&claims)
});
refusal!(refuses_a_jwt_not_valid_yet, "not_yet_valid", |issuer, claims| {
    claims["nbf"] = json!(now() + 600);
    claims["exp"] = json!(now() + 900);
    issuer.sign(&claims)
});
refusal!(refuses_a_jwt_issued_in_the_future, "issued_in_future", |issuer, claims| {
    claims["iat"] = json!(now() + 600);
    claims["exp"] = json!(now() + 900);
    issuer.sign(&claims)
});
refusal!(refuses_another_issuer, "issuer", |issuer, claims| {
    claims["iss"] = json!("https://token.actions.githubusercontent.com");
    issuer.sign(&claims)
});
refusal!(refuses_another_audience, "audience", |issuer, claims| {
    claims["aud"] = json!("https://other.example");
    issuer.sign(&claims)
});
refusal!(refuses_another_repository, "bound_claim:repository", |issuer, claims| {
    claims["repository"] = json!("octo-org/other-repo");
    issuer.sign(&claims)
});
refusal!(refuses_another_branch, "bound_claim:ref", |issuer, claims| {
    claims["ref"] = json!("refs/heads/feature");
    issuer.sign(&claims)
});
refusal!(refuses_alg_none, "algorithm", |issuer, claims| issuer.alg_none(&claims));
refusal!(refuses_hs256_signed_with_the_public_key, "algorithm", |issuer, claims| issuer.hs256_with_public_key(&claims));
refusal!(refuses_a_payload_edited_after_signing, "signature", |issuer, claims| {
    let signed = issuer.sign(&claims);
    claims["repository"] = json!("octo-org/octo-repo");
    claims["ref"] = json!("refs/heads/main");
    claims["sub"] = json!("repo:octo-org/octo-repo:environment:prod");
    crate::oidc_issuer::Issuer::edit_payload(&signed, &claims)
});
refusal!(refuses_a_jwt_signed_by_another_key, "signature", |issuer, claims| issuer.foreign_key(&claims));
refusal!(refuses_a_jwt_that_lives_too_long, "lifetime", |issuer, claims| {
    claims["exp"] = json!(now() + 48 * 3600);
    issuer.sign(&claims)
});

#[test]
fn a_role_edited_in_the_data_store_grants_nothing() {
    let (h, issuer) = setup(&[]);
    create_role(&h, &issuer, "r", &["--bound-claim", "repository=octo-org/octo-repo"]);
    let jwt = issuer.sign(&issuer.github_claims(AUDIENCE, "octo-org/octo-repo", "refs/heads/main"));
    // Someone with the data file widens the role's scopes: its MAC no longer verifies.
    h.sql("UPDATE login_roles SET definition = replace(definition, '\"secrets:read\"', '\"admin\"')");
    assert_eq!(login(&h, "r", &jwt).0, 401);
    assert_eq!(last_login(&h)["reason"], "unknown_role");
    assert_eq!(h.cli(&["auth", "role", "get", "r"]).status.code(), Some(4));
    assert!(h.log.lock().unwrap().contains("failed its integrity check"));
}

#[test]
fn malformed_logins_get_a_clear_error_that_echoes_nothing() {
    let (h, issuer) = setup(&[]);
    create_role(&h, &issuer, "r", &["--bound-claim", "repository=octo-org/octo-repo"]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let post = |body: String| {
        rt.block_on(async {
            let response = h
                .http()
                .post(h.url("/v1/auth/jwt/login"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    };
    let secretish = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl";
    let cases = [
        (json!({"jwt": secretish}).to_string(), 400, "'role' is required"),
        (json!({"role": "r"}).to_string(), 400, "'jwt' is required"),
        (json!({"role": "r", "jwt": 42}).to_string(), 400, "'jwt' must be a string"),
        (json!({"role": "r", "jwt": secretish, "extra": 1}).to_string(), 400, "unknown field 'extra'"),
        (json!({"role": "r", "jwt": secretish, "ttl": "soon"}).to_string(), 400, "'ttl' must be a duration"),
        ("not json".to_owned(), 400, "not valid JSON"),
        (json!({"role": "r", "jwt": "x".repeat(100_000)}).to_string(), 413, ""),
    ];
    for (body, status, message) in cases {
        let (got, text) = post(body);
        assert_eq!(got, status, "{text}");
        assert!(text.contains(message), "{message}: {text}");
        assert!(!text.contains(secretish), "{text}");
    }
    // A ttl beyond the role's max-ttl is refused by name, with a good JWT.
    let jwt = issuer.sign(&issuer.github_claims(AUDIENCE, "octo-org/octo-repo", "refs/heads/main"));
    let (got, text) = post(json!({"role": "r", "jwt": jwt, "ttl": "2h"}).to_string());
    assert_eq!(got, 400, "{text}");
    assert!(text.contains("max-ttl"), "{text}");
    let (got, text) = post(json!({"role": "r", "jwt": jwt, "ttl": "30m"}).to_string());
    assert_eq!(got, 200, "{text}");
}
