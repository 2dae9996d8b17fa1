//! A local OIDC issuer for the workload-identity tests: what GitHub Actions,
//! GitLab CI and a Kubernetes API server look like to a relying party.
//!
//! It serves OpenID discovery and a JWKS on a loopback port, signs tokens whose
//! claims are shaped like the real providers' (from their public docs), and
//! answers GitHub's runner token endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL`).
//! Keys come from the `openssl` CLI, fresh for every issuer: one RS256, one
//! ES256 and one EdDSA key, each published with its RFC 7638 thumbprint as
//! `kid`. `rotate` replaces the RS256 key, and the forgeries (`alg: none`, an
//! HS256 token keyed with the RSA public key, an unpublished key under a
//! published kid, an edited payload) are for the refusal tests.
//!
//! The server runs on a one-worker tokio runtime of its own, so sync tests can
//! use it; counters tell how often hush fetched the JWKS and the discovery
//! document. Dropping the `Issuer` stops it.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// How long the claim sets below are valid.
const LIFETIME_SECS: u64 = 300;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Es256,
    EdDsa,
}

impl Alg {
    fn algorithm(self) -> Algorithm {
        match self {
            Alg::Rs256 => Algorithm::RS256,
            Alg::Es256 => Algorithm::ES256,
            Alg::EdDsa => Algorithm::EdDSA,
        }
    }
}

/// A private key and its public JWK.
struct SigningKey {
    alg: Alg,
    kid: String,
    pem: String,
    key: EncodingKey,
    jwk: Jwk,
}

impl SigningKey {
    fn generate(alg: Alg) -> SigningKey {
        type FromPem = fn(&[u8]) -> jsonwebtoken::errors::Result<EncodingKey>;
        let (args, from_pem): (&[&str], FromPem) = match alg {
            Alg::Rs256 => (&["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], EncodingKey::from_rsa_pem),
            Alg::Es256 => (&["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], EncodingKey::from_ec_pem),
            Alg::EdDsa => (&["-algorithm", "ed25519"], EncodingKey::from_ed_pem),
        };
        let pem = openssl(&[&["genpkey"], args].concat(), None);
        let key = from_pem(pem.as_bytes()).unwrap_or_else(|e| panic!("{alg:?} key from openssl: {e}"));
        let mut jwk = Jwk::from_encoding_key(&key, alg.algorithm()).unwrap_or_else(|e| panic!("{alg:?} JWK: {e}"));
        let kid = jwk.thumbprint(ThumbprintHash::SHA256).unwrap_or_else(|e| panic!("{alg:?} thumbprint: {e}"));
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        SigningKey { alg, kid, pem, key, jwk }
    }

    /// A JWT signed with this key, `kid` in its header.
    fn sign(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(self.alg.algorithm());
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap_or_else(|e| panic!("signing {:?}: {e}", self.alg))
    }
}

/// Runs `openssl ARGS` (with `stdin`, if any) and returns its stdout.
fn openssl(args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("openssl {args:?}: {e}"));
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes()).unwrap_or_else(|e| panic!("openssl {args:?} stdin: {e}"));
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("openssl {args:?}: {e}"));
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("openssl {args:?} output: {e}"))
}

/// The keys currently published, one per algorithm.
struct Keys {
    rsa: SigningKey,
    ec: SigningKey,
    ed: SigningKey,
}

impl Keys {
    fn get(&self, alg: Alg) -> &SigningKey {
        match alg {
            Alg::Rs256 => &self.rsa,
            Alg::Es256 => &self.ec,
            Alg::EdDsa => &self.ed,
        }
    }

    fn jwks(&self) -> JwkSet {
        JwkSet { keys: vec![self.rsa.jwk.clone(), self.ec.jwk.clone(), self.ed.jwk.clone()] }
    }
}

/// What the HTTP handlers and the `Issuer` share.
struct Shared {
    url: String,
    request_token: String,
    keys: Mutex<Keys>,
    /// Repository and ref that the runner endpoint signs for.
    github_subject: Mutex<(String, String)>,
    jwks_fetches: AtomicUsize,
    discovery_fetches: AtomicUsize,
    runner_token_requests: AtomicUsize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub struct Issuer {
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        // Does not block, so an issuer may also be dropped inside async code.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Issuer {
    pub fn start() -> Issuer {
        let keys = Keys {
            rsa: SigningKey::generate(Alg::Rs256),
            ec: SigningKey::generate(Alg::Es256),
            ed: SigningKey::generate(Alg::EdDsa),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("oidc-issuer")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("issuer runtime: {e}"));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap_or_else(|e| panic!("issuer bind: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("issuer address: {e}"));
        let shared = Arc::new(Shared {
            url: format!("http://127.0.0.1:{port}"),
            request_token: random_hex(2),
            keys: Mutex::new(keys),
            github_subject: Mutex::new(("octo-org/octo-repo".to_owned(), "refs/heads/main".to_owned())),
            jwks_fetches: AtomicUsize::new(0),
            discovery_fetches: AtomicUsize::new(0),
            runner_token_requests: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/_apis/token", get(runner_token))
            .with_state(Arc::clone(&shared));
        runtime.spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("oidc issuer stopped: {e}");
            }
        });
        Issuer { shared, runtime: Some(runtime) }
    }

    /// `http://127.0.0.1:PORT`, the `iss` of every token.
    pub fn url(&self) -> &str {
        &self.shared.url
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.shared.url)
    }

    /// The JWKS document as served now, for a `--jwks-file`.
    pub fn jwks_json(&self) -> String {
        serde_json::to_string(&lock(&self.shared.keys).jwks()).unwrap_or_else(|e| panic!("JWKS: {e}"))
    }

    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    pub fn discovery_fetches(&self) -> usize {
        self.shared.discovery_fetches.load(Ordering::SeqCst)
    }

    /// RS256 with the current key.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with(Alg::Rs256, claims)
    }

    pub fn sign_with(&self, alg: Alg, claims: &Value) -> String {
        let keys = lock(&self.shared.keys);
        let key = keys.get(alg);
        key.sign(&key.kid, claims)
    }

    /// RS256 with the current key, but `kid` in the header.
    pub fn sign_with_kid(&self, kid: &str, claims: &Value) -> String {
        lock(&self.shared.keys).rsa.sign(kid, claims)
    }

    /// A new RS256 key becomes current; the old one leaves the JWKS.
    pub fn rotate(&self) {
        let fresh = SigningKey::generate(Alg::Rs256);
        lock(&self.shared.keys).rsa = fresh;
    }

    /// `{"alg":"none"}` and an empty signature.
    pub fn alg_none(&self, claims: &Value) -> String {
        format!("{}.{}.", b64_json(&json!({"alg": "none", "typ": "JWT"})), b64_json(claims))
    }

    /// Algorithm confusion: HS256 keyed with the RSA public key's PEM, under the RSA kid.
    pub fn hs256_with_public_key(&self, claims: &Value) -> String {
        let (private_pem, kid) = {
            let keys = lock(&self.shared.keys);
            (keys.rsa.pem.clone(), keys.rsa.kid.clone())
        };
        let public_pem = openssl(&["pkey", "-pubout"], Some(&private_pem));
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid);
        let key = EncodingKey::from_secret(public_pem.as_bytes()).unwrap_or_else(|e| panic!("HS256 key: {e}"));
        jsonwebtoken::encode(&header, claims, &key).unwrap_or_else(|e| panic!("HS256: {e}"))
    }

    /// RS256 by an unpublished key, under the published RSA kid.
    pub fn foreign_key(&self, claims: &Value) -> String {
        let kid = lock(&self.shared.keys).rsa.kid.clone();
        SigningKey::generate(Alg::Rs256).sign(&kid, claims)
    }

    /// `jwt` with its payload replaced and its header and signature kept.
    pub fn edit_payload(jwt: &str, claims: &Value) -> String {
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3, "not a compact JWS");
        format!("{}.{}.{}", parts[0], b64_json(claims), parts[2])
    }

    pub fn github_claims(&self, aud: &str, repository: &str, git_ref: &str) -> Value {
        github_claims(&self.shared.url, aud, repository, git_ref)
    }

    /// `git_ref` is a branch name (GitLab's `ref` has no `refs/heads/`); `refs/tags/X` makes a tag.
    pub fn gitlab_claims(&self, aud: &str, project_path: &str, git_ref: &str) -> Value {
        let (ref_type, short) = match git_ref.strip_prefix("refs/tags/") {
            Some(tag) => ("tag", tag),
            None => ("branch", git_ref.strip_prefix("refs/heads/").unwrap_or(git_ref)),
        };
        let namespace = project_path.rsplit_once('/').map_or(project_path, |(group, _)| group);
        let sha = random_hex(3)[..40].to_owned();
        json!({
            "namespace_id": stable_id(namespace), "namespace_path": namespace,
            "project_id": stable_id(project_path), "project_path": project_path,
            "user_id": "1", "user_login": "sample-user", "user_email": "sample-user@example.com",
            "pipeline_id": random_number(), "pipeline_source": "push", "job_id": random_number(),
            "ref": short, "ref_type": ref_type, "ref_path": format!("refs/{}s/{short}", if ref_type == "tag" { "tag" } else { "head" }),
            "ref_protected": "true", "runner_id": 1, "runner_environment": "gitlab-hosted", "sha": sha,
            "project_visibility": "private",
            "ci_config_ref_uri": format!("gitlab.example.com/{project_path}//.gitlab-ci.yml@refs/heads/{short}"),
            "ci_config_sha": sha,
            "jti": uuid(), "iss": self.shared.url,
            "sub": format!("project_path:{project_path}:ref_type:{ref_type}:ref:{short}"), "aud": aud,
        })
        .with_times()
    }

    pub fn kubernetes_claims(&self, aud: &str, namespace: &str, service_account: &str, pod: &str) -> Value {
        json!({
            "aud": [aud], "iss": self.shared.url, "jti": uuid(),
            "sub": format!("system:serviceaccount:{namespace}:{service_account}"),
            "kubernetes.io": {
                "namespace": namespace,
                "node": {"name": "node-1", "uid": uuid()},
                "pod": {"name": pod, "uid": uuid()},
                "serviceaccount": {"name": service_account, "uid": uuid()},
            },
        })
        .with_times()
    }

    /// What a runner job sees; clients append `&audience=AUD` to the URL.
    pub fn github_runner_env(&self) -> Vec<(String, String)> {
        vec![
            ("ACTIONS_ID_TOKEN_REQUEST_URL".to_owned(), format!("{}/_apis/token?api-version=2.0", self.shared.url)),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN".to_owned(), self.shared.request_token.clone()),
        ]
    }

    pub fn set_github_subject(&self, repository: &str, git_ref: &str) {
        *lock(&self.shared.github_subject) = (repository.to_owned(), git_ref.to_owned());
    }

    /// Requests to the runner endpoint, refused ones included.
    pub fn runner_token_requests(&self) -> usize {
        self.shared.runner_token_requests.load(Ordering::SeqCst)
    }
}

fn github_claims(iss: &str, aud: &str, repository: &str, git_ref: &str) -> Value {
    let owner = repository.split_once('/').map_or(repository, |(owner, _)| owner);
    let ref_type = if git_ref.starts_with("refs/tags/") { "tag" } else { "branch" };
    let sha = random_hex(3)[..40].to_owned();
    let workflow_ref = format!("{repository}/.github/workflows/ci.yml@{git_ref}");
    json!({
        "jti": uuid(), "sub": format!("repo:{repository}:ref:{git_ref}"), "aud": aud,
        "ref": git_ref, "ref_type": ref_type, "sha": sha,
        "repository": repository, "repository_owner": owner,
        "repository_id": stable_id(repository), "repository_owner_id": stable_id(owner),
        "repository_visibility": "private",
        "run_id": random_number(), "run_number": "1", "run_attempt": "1",
        "workflow": "CI", "workflow_ref": workflow_ref, "workflow_sha": sha,
        "job_workflow_ref": workflow_ref, "job_workflow_sha": sha,
        "actor": "octocat", "actor_id": "583231", "event_name": "push",
        "runner_environment": "github-hosted", "head_ref": "", "base_ref": "",
        "iss": iss,
    })
    .with_times()
}

trait WithTimes {
    /// Sets `iat` and `nbf` to now and `exp` to now + [`LIFETIME_SECS`].
    fn with_times(self) -> Value;
}

impl WithTimes for Value {
    fn with_times(mut self) -> Value {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self["iat"] = now.into();
        self["nbf"] = now.into();
        self["exp"] = (now + LIFETIME_SECS).into();
        self
    }
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Json<Value> {
    shared.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    let url = &shared.url;
    Json(json!({
        "issuer": url,
        "jwks_uri": format!("{url}/jwks"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "claims_supported": [
            "sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "ref_type", "sha", "repository",
            "repository_id", "repository_owner", "repository_owner_id", "workflow_ref", "job_workflow_ref",
            "runner_environment", "project_path", "namespace_path", "kubernetes.io",
        ],
    }))
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Json<JwkSet> {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    Json(lock(&shared.keys).jwks())
}

/// GitHub's `ACTIONS_ID_TOKEN_REQUEST_URL`: `{"value": JWT}` for `audience`.
async fn runner_token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, StatusCode> {
    shared.runner_token_requests.fetch_add(1, Ordering::SeqCst);
    let expected = format!("Bearer {}", shared.request_token);
    if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return Err(StatusCode::UNAUTHORIZED);
    }
    let aud = query.get("audience").ok_or(StatusCode::BAD_REQUEST)?;
    let (repository, git_ref) = lock(&shared.github_subject).clone();
    let claims = github_claims(&shared.url, aud, &repository, &git_ref);
    let keys = lock(&shared.keys);
    Ok(Json(json!({"value": keys.rsa.sign(&keys.rsa.kid, &claims)})))
}

fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// `words` × 64 random bits in hex, from std's randomly keyed SipHash: unique, not a CSPRNG.
fn random_hex(words: usize) -> String {
    (0..words).map(|_| format!("{:016x}", RandomState::new().build_hasher().finish())).collect()
}

fn uuid() -> String {
    let h = random_hex(2);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

fn random_number() -> String {
    (RandomState::new().build_hasher().finish() % 9_000_000_000 + 1_000_000_000).to_string()
}

/// A numeric id that stays the same for the same name within a run (repository_id, project_id...).
fn stable_id(name: &str) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    name.hash(&mut hasher);
    (hasher.finish() % 900_000_000 + 100_000_000).to_string()
}

#[test]
fn oidc_issuer_serves_keys_and_verifiable_tokens() {
    let issuer = Issuer::start();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().no_proxy().build().expect("HTTP client");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let get = |url: String, bearer: Option<&str>| -> (u16, Value) {
        rt.block_on(async {
            let mut request = http.get(&url);
            if let Some(token) = bearer {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
            let status = response.status().as_u16();
            (status, response.json().await.unwrap_or(Value::Null))
        })
    };

    let (status, discovery) = get(format!("{}/.well-known/openid-configuration", issuer.url()), None);
    assert_eq!(status, 200);
    assert_eq!(discovery["issuer"], issuer.url());
    assert_eq!(discovery["jwks_uri"], issuer.jwks_url());
    let fetch_jwks = || -> JwkSet {
        let (status, body) = get(issuer.jwks_url(), None);
        assert_eq!(status, 200);
        serde_json::from_value(body).expect("a JWKS")
    };
    let jwks = fetch_jwks();
    assert_eq!(jwks.keys.len(), 3);
    assert_eq!(serde_json::from_str::<JwkSet>(&issuer.jwks_json()).expect("JWKS file"), jwks);

    // What a relying party does: the key of the header's kid, the algorithm of that key.
    let try_verify = |jwks: &JwkSet, token: &str, aud: &str| -> Result<Value, String> {
        let kid = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?.kid.ok_or("no kid")?;
        let jwk = jwks.find(&kid).ok_or("unknown kid")?;
        let alg = jwk.common.key_algorithm.ok_or("no alg")?.to_string().parse().map_err(|_| "bad alg")?;
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
        let mut validation = jsonwebtoken::Validation::new(alg);
        validation.set_audience(&[aud]);
        validation.set_issuer(&[issuer.url()]);
        jsonwebtoken::decode::<Value>(token, &key, &validation).map(|t| t.claims).map_err(|e| e.to_string())
    };
    let verify = |jwks: &JwkSet, token: &str, aud: &str| try_verify(jwks, token, aud).unwrap_or_else(|e| panic!("{e}"));
    let claims = [
        (Alg::Rs256, issuer.github_claims("hush", "octo-org/octo-repo", "refs/heads/main")),
        (Alg::Es256, issuer.gitlab_claims("hush", "my-group/my-project", "main")),
        (Alg::EdDsa, issuer.kubernetes_claims("hush", "default", "builder", "builder-7c9f")),
    ];
    for (alg, claims) in &claims {
        assert_eq!(&verify(&jwks, &issuer.sign_with(*alg, claims), "hush"), claims, "{alg:?}");
    }
    assert_eq!(verify(&jwks, &issuer.sign(&claims[0].1), "hush")["sub"], "repo:octo-org/octo-repo:ref:refs/heads/main");
    assert_eq!(claims[1].1["sub"], "project_path:my-group/my-project:ref_type:branch:ref:main");
    assert_eq!(claims[2].1["sub"], "system:serviceaccount:default:builder");

    let genuine = issuer.sign(&claims[0].1);
    let mut edited = claims[0].1.clone();
    edited["sub"] = "repo:evil/repo:ref:refs/heads/main".into();
    for forged in [
        issuer.alg_none(&claims[0].1),
        issuer.hs256_with_public_key(&claims[0].1),
        issuer.foreign_key(&claims[0].1),
        Issuer::edit_payload(&genuine, &edited),
        issuer.sign_with_kid("unknown", &claims[0].1),
    ] {
        assert!(try_verify(&jwks, &forged, "hush").is_err(), "a forgery verified: {forged}");
    }

    let old_kid = jsonwebtoken::decode_header(issuer.sign(&claims[0].1)).expect("header").kid.expect("kid");
    issuer.rotate();
    let rotated = fetch_jwks();
    assert!(rotated.find(&old_kid).is_none(), "the old RSA key is still published");
    assert_eq!(rotated.keys.len(), 3);
    verify(&rotated, &issuer.sign(&claims[0].1), "hush");
    assert_eq!((issuer.discovery_fetches(), issuer.jwks_fetches()), (1, 2));

    let env: HashMap<String, String> = issuer.github_runner_env().into_iter().collect();
    let url = format!("{}&audience=hush", env["ACTIONS_ID_TOKEN_REQUEST_URL"]);
    let (status, body) = get(url.clone(), Some(&env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]));
    assert_eq!(status, 200);
    let token = body["value"].as_str().expect("{\"value\": JWT}");
    assert_eq!(verify(&rotated, token, "hush")["aud"], "hush");
    assert_eq!(get(url.clone(), Some("wrong")).0, 401);
    assert_eq!(get(url, None).0, 401);
    assert_eq!(get(env["ACTIONS_ID_TOKEN_REQUEST_URL"].clone(), Some(&env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])).0, 400);
    assert_eq!(issuer.runner_token_requests(), 4);
}
