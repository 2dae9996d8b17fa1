//! The command line, declared once: every flag with its environment variable,
//! default and help text.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// hush: secrets and registry credentials for workflow engines, CI pipelines
/// and the people who run them.
#[derive(Debug, Parser)]
#[command(name = "hush", version, max_term_width = 100)]
#[command(after_help = "Environment: HUSH_ADDR (server, default http://127.0.0.1:8270; https://… for TLS), \
HUSH_TOKEN (API token), HUSH_NAMESPACE (default namespace), HUSH_CACERT (CA to trust instead of the system's), \
HUSH_CLIENT_CERT and HUSH_CLIENT_KEY (mutual TLS), HUSH_LOG (log filter, e.g. debug).\n\
Without HUSH_TOKEN, HUSH_ROLE logs in as a workload: with HUSH_JWT_FILE (a Kubernetes service account token), \
HUSH_JWT_ENV (the variable holding GitLab's id_token), or on GitHub Actions by itself (see hush login --help).\n\
Credential helpers: link this binary as docker-credential-hush and git-credential-hush \
(hush credential-helper install); they read the same variables, and HUSH_HELPER_WRITABLE=1 lets \
store and erase change anything.\n\
Exit codes: 0 ok, 1 error, 2 bad usage or input, 3 not authenticated or not allowed, 4 not found, \
5 conflict, 6 audit verification failed, 130 stopped by Ctrl-C (nothing left half-done).")]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where client commands and the credential helpers find the server by default.
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:8270";

/// Connection to a running server (client commands).
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// Server address: http://… on loopback, https://… anywhere.
    #[arg(long, env = "HUSH_ADDR", default_value = DEFAULT_ADDR, hide_env_values = true)]
    pub addr: String,
    /// API token (prefer the HUSH_TOKEN variable: a flag is visible to other local users).
    #[arg(long = "auth-token", env = "HUSH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// Trust only this CA (PEM) for https:// instead of the system's roots.
    #[arg(long, env = "HUSH_CACERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long, env = "HUSH_CLIENT_CERT", value_name = "FILE", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, env = "HUSH_CLIENT_KEY", value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// Allow plain http:// to another machine (the token crosses the network in clear).
    #[arg(long, env = "HUSH_ALLOW_PLAIN_HTTP", value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_plain_http: bool,
}

impl Connection {
    /// The TLS settings these flags give.
    pub fn tls(&self) -> hush_tls::ClientTls {
        hush_tls::ClientTls {
            ca_cert: self.ca_cert.clone(),
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
            names: hush_tls::ClientTls::HUSH,
        }
    }
}

/// The namespace to act in.
#[derive(Debug, Clone, Args)]
pub struct NamespaceArg {
    /// Namespace.
    #[arg(short = 'n', long = "namespace", env = "HUSH_NAMESPACE", default_value = "default")]
    pub namespace: String,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (initialising it on first start).
    Serve(Box<ServeArgs>),
    /// Initialise a data store and key store without serving; prints the admin token.
    Init(InitArgs),
    /// Create, list and delete namespaces.
    #[command(subcommand, visible_alias = "ns")]
    Namespace(NamespaceCommand),
    /// Create, read, list and delete secrets.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Issue, list and revoke API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Read and verify the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Workload identity: login roles that let CI jobs and pods log in with their own JWT.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Log in with this workload's JWT (CI job, pod) and print a short-lived token for HUSH_TOKEN.
    Login(LoginArgs),
    /// Mask secrets in standard input, writing the rest to standard output.
    Redact(RedactArgs),
    /// Run a command with secrets in its environment or in files, its output scrubbed.
    Run(RunArgs),
    /// Print a cache key per reference: it changes when the value does and reveals nothing about it.
    CacheKey(CacheKeyArgs),
    /// Registry credentials at three scopes: a namespace's, global, global-private.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Run a credential helper (docker, git) without its own name, or install the helper links.
    #[command(subcommand)]
    CredentialHelper(HelperCommand),
    /// Operator tasks: backups and restores, re-encrypting under rotated keys.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Run and check Direktiv-style workflow files whose actions use secrets by name.
    #[command(subcommand)]
    Workflow(WorkflowCommand),
    /// TLS material: a private CA and certificates for a quick setup.
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Check that a server answers (GET /v1/health, no token): for healthchecks and probes.
    Health(HealthArgs),
}

/// `hush health`.
#[derive(Debug, Args)]
#[command(after_help = "Sends no token, so it works in a container's HEALTHCHECK or a probe without one. \
Over https:// the server's certificate is checked as every client checks it (HUSH_CACERT): address the server by \
a name its certificate holds (a container checking itself: a certificate for localhost, and \
HUSH_ADDR=https://localhost:8270).\n\n\
Exit codes: 0 the server answered that it is ok, 1 it did not (unreachable, a TLS problem, another answer, or \
no answer within --timeout), 2 bad usage.\n\n\
Example:\n  hush health --addr https://localhost:8270 --ca-cert /tls/ca.pem")]
pub struct HealthArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// Give up after this long.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Print the server's answer as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `hush workflow …`
#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Run a workflow: its output JSON on stdout, the scrubbed instance log on stderr.
    Run(WorkflowRunArgs),
    /// Validate workflow files (subflows followed) and list the secrets they use; fails if one is missing.
    Check(WorkflowCheckArgs),
}

/// `hush workflow run`.
#[derive(Debug, Args)]
#[command(after_help = "The file is validated before anything runs. Secrets an action lists are read from the \
namespace with this token (the audit log records the workflow, instance and state), added under .secrets only while \
that action's input is evaluated, and scrubbed from every log line. Container functions need podman \
(HUSH_PODMAN names the binary, HUSH_PODMAN_ARGS adds global options such as '--runtime runc').\n\n\
Exit codes: 0 the instance finished, 1 it failed (the error code and message are logged), 2 the file or \
--input is not valid, 3 not authenticated.\n\n\
Example:\n  hush workflow run httpget.yaml -n team --input '{\"id\": 1}'\n\nThe format: docs/workflows.md.")]
pub struct WorkflowRunArgs {
    /// The workflow file (YAML).
    #[arg(value_name = "FILE.yaml")]
    pub file: PathBuf,
    /// The instance input: JSON, @FILE, or @- for stdin (default {}).
    #[arg(long, value_name = "JSON|@FILE")]
    pub input: Option<String>,
    /// Instance log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Replace secret values that reach the output with *** (otherwise a warning names where they are).
    #[arg(long)]
    pub strict: bool,
    /// Log only warnings and errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Most calls one foreach state makes at once.
    #[arg(long, env = "HUSH_WORKFLOW_MAX_PARALLEL", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub max_parallel: u16,
    /// Longest a jq expression may run before it is stopped (e.g. 1s, 500ms).
    #[arg(long, env = "HUSH_WORKFLOW_JQ_TIMEOUT", default_value = "1s", value_parser = humantime::parse_duration)]
    pub jq_timeout: std::time::Duration,
    /// Memory a jq expression's evaluator may use, e.g. 1024MiB or 256MiB.
    #[arg(long, env = "HUSH_WORKFLOW_JQ_MEMORY", default_value = "1024MiB", value_parser = parse_size)]
    pub jq_memory: usize,
    /// Most states one instance may visit (a switch that loops ends there).
    #[arg(long, env = "HUSH_WORKFLOW_MAX_STATES", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub max_states: u32,
    #[command(flatten)]
    pub ns: NamespaceArg,
    #[command(flatten)]
    pub conn: Connection,
}

/// `hush workflow check`.
#[derive(Debug, Args)]
#[command(after_help = "Exit codes: 0 every file is valid and every secret exists, 2 a file is not valid \
(every problem is listed), 4 secrets are missing (listed, sorted).")]
pub struct WorkflowCheckArgs {
    /// Workflow files (YAML).
    #[arg(required = true, value_name = "FILE.yaml")]
    pub files: Vec<PathBuf>,
    /// Print JSON: {"namespace", "files": [{"path", "workflow", "secrets"}], "missing"}.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub ns: NamespaceArg,
    #[command(flatten)]
    pub conn: Connection,
}

/// Which registries a command acts on. `--global` and `--global-private`
/// take precedence over `-n`/HUSH_NAMESPACE.
#[derive(Debug, Clone, Args)]
pub struct RegistryScopeArgs {
    /// Namespace whose registries to use.
    #[arg(short = 'n', long = "namespace", env = "HUSH_NAMESPACE", default_value = "default")]
    pub namespace: String,
    /// The global registries, shared by every namespace (changing them needs a token bound to all namespaces).
    #[arg(long)]
    pub global: bool,
    /// The global-private registries, for the engine's global services (needs a token bound to all namespaces).
    #[arg(long, conflicts_with = "global")]
    pub global_private: bool,
}

/// Where a lookup starts: a namespace (then global), or a global service (global-private, then global).
#[derive(Debug, Clone, Args)]
pub struct LookupScopeArgs {
    /// Namespace to look in first (then global).
    #[arg(short = 'n', long = "namespace", env = "HUSH_NAMESPACE", default_value = "default")]
    pub namespace: String,
    /// Look up as a global service: global-private, then global (takes precedence over -n).
    #[arg(long)]
    pub global_service: bool,
}

/// A registry username and where its password comes from.
#[derive(Debug, Clone, Args)]
pub struct RegistryLogin {
    /// Username.
    #[arg(long)]
    pub username: String,
    /// Password (visible to other local users; prefer --password-stdin).
    #[arg(long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from stdin (one trailing newline is dropped).
    #[arg(long)]
    pub password_stdin: bool,
}

/// `hush registry …`
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Store credentials for a registry (a new entry, or new credentials for the same address).
    #[command(after_help = "HOST_OR_URL is a host (ghcr.io, 127.0.0.1:5000), a host and repository prefix \
(ghcr.io/my-org) or a URL (https://index.docker.io/v1/). docker.io, index.docker.io, registry-1.docker.io \
and https://index.docker.io/v1/ are one registry.\n\nExample:\n  \
echo \"$PASSWORD\" | hush registry create ghcr.io --username bot --password-stdin -n team-a")]
    Create {
        /// Registry host or URL.
        #[arg(value_name = "HOST_OR_URL")]
        url: String,
        #[command(flatten)]
        login: RegistryLogin,
        #[command(flatten)]
        scope: RegistryScopeArgs,
        #[command(flatten)]
        conn: Connection,
        /// Print the entry as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List registry entries: URL and an obfuscated user (never a password).
    List {
        #[command(flatten)]
        scope: RegistryScopeArgs,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete the entry for a registry (any spelling of its address).
    Delete {
        /// Registry host or URL.
        #[arg(value_name = "HOST_OR_URL")]
        url: String,
        #[command(flatten)]
        scope: RegistryScopeArgs,
        #[command(flatten)]
        conn: Connection,
    },
    /// Show which entry a pull of IMAGE would use (never the password).
    #[command(after_help = "From a namespace: its entries, then global ones. As a global service: global-private, \
then global. The first scope with a matching entry wins; within it, the longest host[/path] prefix.\n\n\
Exit codes: 0 found, 4 no entry matches.")]
    Resolve {
        /// Image reference, e.g. 127.0.0.1:5000/team/app:v1 or alpine.
        image: String,
        #[command(flatten)]
        scope: LookupScopeArgs,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print {"auths":{...}} for every entry a pull can use (a Kubernetes image pull secret).
    #[command(after_help = "Example:\n  hush registry dockerconfig -n team-a > config.json\n  \
kubectl create secret generic pull --type=kubernetes.io/dockerconfigjson --from-file=.dockerconfigjson=config.json")]
    Dockerconfig {
        #[command(flatten)]
        scope: LookupScopeArgs,
        #[command(flatten)]
        conn: Connection,
    },
    /// Try credentials against a registry's /v2/ endpoint: ok, unauthorized or unreachable.
    #[command(after_help = "Runs from this machine; nothing is stored. Exit codes: 0 ok, 3 unauthorized, \
1 unreachable or not a registry.")]
    Test {
        /// Registry host or URL (http:// for a plain-HTTP registry; localhost and loopback fall back to it).
        #[arg(value_name = "HOST_OR_URL")]
        url: String,
        #[command(flatten)]
        login: RegistryLogin,
        /// Print JSON: {"result","endpoint","status","message"}.
        #[arg(long)]
        json: bool,
    },
}

/// `hush credential-helper …`
#[derive(Debug, Subcommand)]
pub enum HelperCommand {
    /// The Docker credential helper (what docker-credential-hush runs): get, store, erase, list, version.
    Docker {
        /// The operation.
        operation: String,
    },
    /// The git credential helper (what git-credential-hush runs): get, store, erase.
    Git {
        /// Always use this git secret instead of looking one up by URL.
        #[arg(long, value_name = "NAME")]
        secret: Option<String>,
        /// The operation.
        operation: String,
    },
    /// Create docker-credential-hush and git-credential-hush as links to this binary.
    Install {
        /// Directory for the links (default: the directory of this binary).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Replace existing files of those names.
        #[arg(long)]
        force: bool,
    },
}

/// `hush redact`.
#[derive(Debug, Args)]
#[command(after_help = "Masks each secret, its trimmed form, each of its lines and (for values of 6 bytes or more) \
its base64, URL and JSON encodings, also when split across reads. Output appears as soon as it cannot be \
part of a secret.\n\nExamples:\n  ./build.sh 2>&1 | hush redact --secrets-file secrets.json\n  \
tail -f app.log | hush redact --secret-ref env://DB_PASSWORD --secret-ref hush://ci/deploy-token")]
pub struct RedactArgs {
    /// A JSON array of strings: the secret values to mask.
    #[arg(long, value_name = "FILE")]
    pub secrets_file: Option<PathBuf>,
    /// A reference whose value to mask (hush://[ns/]name[#field], env://NAME, file://PATH, cmd://COMMAND); repeatable.
    #[arg(long = "secret-ref", value_name = "REF")]
    pub secret_refs: Vec<String>,
    /// What each masked range becomes.
    #[arg(long, default_value = "***")]
    pub replacement: String,
    /// Mask the values only, not their base64, URL and JSON encodings.
    #[arg(long)]
    pub no_encodings: bool,
    #[command(flatten)]
    pub ns: NamespaceArg,
    #[command(flatten)]
    pub conn: Connection,
}

/// `hush run`.
#[derive(Debug, Args)]
#[command(after_help = "Every reference is resolved before the command starts; if one fails, it does not start. \
The command's stdout and stderr are scrubbed of every resolved value; stdin passes through; SIGINT and SIGTERM \
are forwarded. hush exits with the command's exit code (128+N if signal N ended it; 127 if it was not found).\n\n\
Example:\n  hush run --env MY_SECRET=env://API_TOKEN -- sh -c 'echo this is the secret: $MY_SECRET'")]
pub struct RunArgs {
    /// Set VAR to the value of REF; repeatable.
    #[arg(long = "env", value_name = "VAR=REF")]
    pub env: Vec<String>,
    /// Write the value of REF to a 0600 file in a private temporary directory and set VAR to its path
    /// (removed when the command ends); repeatable.
    #[arg(long = "file", value_name = "VAR=REF")]
    pub files: Vec<String>,
    /// A dotenv file (KEY=VALUE lines); values that are references are resolved and masked.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<PathBuf>,
    #[command(flatten)]
    pub ns: NamespaceArg,
    #[command(flatten)]
    pub conn: Connection,
    /// The command and its arguments, after --.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

/// `hush cache-key`.
#[derive(Debug, Args)]
#[command(after_help = "With ?cacheKey=K on a reference, the key is a SHA-256 of K (the secret may rotate and the \
cache stays). Otherwise it is Argon2id of the value under a per-installation salt (HUSH_CACHE_SALT, or a \
0600 file created under ~/.config/hush on first use).")]
pub struct CacheKeyArgs {
    /// References (hush://, env://, file://, cmd://).
    #[arg(required = true, value_name = "REF")]
    pub refs: Vec<String>,
    /// Print JSON: [{"reference": ..., "key": ...}].
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub ns: NamespaceArg,
    #[command(flatten)]
    pub conn: Connection,
}

/// Where the stores live.
///
/// `hide_env_values` marks an option whose value is secret (a URL with a
/// password): `--help` never shows its variable's value, and
/// `--print-config` masks it.
#[derive(Clone, Args)]
pub struct StoreDirs {
    /// Directory of the data store (secrets, tokens, audit log).
    #[arg(long, env = "HUSH_DATA_DIR", default_value = "./hush-data")]
    pub data_dir: PathBuf,
    /// Directory of the key store and the root key file; keep it apart from the data directory.
    #[arg(long, env = "HUSH_KEY_DIR", default_value = "./hush-keys")]
    pub key_dir: PathBuf,
    /// PostgreSQL URL of the data store (postgres://user:password@host:port/db), for several replicas;
    /// without it, SQLite in --data-dir.
    #[arg(long, env = "HUSH_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// PostgreSQL URL of the key store (another database or server than the data store's);
    /// without it, SQLite in --key-dir.
    #[arg(long, env = "HUSH_KEYSTORE_URL", hide_env_values = true)]
    pub keystore_url: Option<String>,
    /// Keep the root key out of hush: wrap every key with an external KMS (Vault/OpenBao Transit;
    /// token from VAULT_TOKEN).
    #[arg(long, env = "HUSH_KMS", value_enum)]
    pub kms: Option<KmsKind>,
    /// The KMS address (http(s)://host:port); default VAULT_ADDR.
    #[arg(long, env = "HUSH_KMS_ADDR", requires = "kms")]
    pub kms_addr: Option<String>,
    /// The Transit key's name.
    #[arg(long, env = "HUSH_KMS_KEY", requires = "kms")]
    pub kms_key: Option<String>,
    /// The Transit mount.
    #[arg(long, env = "HUSH_KMS_MOUNT", default_value = "transit")]
    pub kms_mount: String,
    /// Read the root key (base64, as in root.key) from this file instead of --key-dir: a systemd
    /// credential (%d/root.key) or a container secret. hush never writes, moves or rotates it.
    #[arg(long, env = "HUSH_ROOT_KEY_FILE", value_name = "FILE", conflicts_with = "kms")]
    pub root_key_file: Option<PathBuf>,
}

/// External key management services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KmsKind {
    /// Vault or OpenBao Transit (transit/encrypt and transit/decrypt).
    Transit,
}

impl std::fmt::Debug for StoreDirs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URLs may hold passwords.
        let url = |u: &Option<String>| u.as_ref().map(|_| "[REDACTED]");
        f.debug_struct("StoreDirs")
            .field("data_dir", &self.data_dir)
            .field("key_dir", &self.key_dir)
            .field("database_url", &url(&self.database_url))
            .field("keystore_url", &url(&self.keystore_url))
            .field("kms", &self.kms)
            .field("kms_addr", &self.kms_addr)
            .field("kms_key", &self.kms_key)
            .field("root_key_file", &self.root_key_file)
            .finish()
    }
}

/// `hush init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub dirs: StoreDirs,
    /// On an existing installation, issue a new admin token (the server must be stopped;
    /// holding the root key and both directories is what authorises it).
    #[arg(long)]
    pub recover_admin_token: bool,
}

/// The server's TLS files.
#[derive(Debug, Clone, Args)]
pub struct ServerTlsArgs {
    /// Serve TLS with this certificate (PEM; the server's certificate first, then its chain).
    #[arg(long, env = "HUSH_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "HUSH_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: require a client certificate signed by a CA in this file (PEM).
    #[arg(long, env = "HUSH_TLS_CLIENT_CA", value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address: only behind a proxy that terminates TLS.
    #[arg(long, env = "HUSH_INSECURE_NO_TLS", value_parser = clap::builder::BoolishValueParser::new())]
    pub insecure_no_tls: bool,
}

/// The limits of `hush serve`: timeouts, connection caps, rate limits.
#[derive(Debug, Args)]
#[command(next_help_heading = "Limits")]
pub struct ServerLimitsArgs {
    /// Time a client has to send a complete request head, from connecting (or, between requests,
    /// from the head's first byte).
    #[arg(long, env = "HUSH_HEADER_READ_TIMEOUT", value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub header_read_timeout: Duration,
    /// Time a connection may stay open with no request in flight.
    #[arg(long, env = "HUSH_IDLE_TIMEOUT", value_name = "DURATION", default_value = "60s", value_parser = parse_timeout)]
    pub idle_timeout: Duration,
    /// Longest pause while a request body is arriving (the whole request has 30s).
    #[arg(long, env = "HUSH_BODY_READ_TIMEOUT", value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub body_read_timeout: Duration,
    /// How often an HTTP/2 (gRPC) connection with requests in flight is pinged.
    #[arg(long, env = "HUSH_HTTP2_KEEPALIVE_INTERVAL", value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    pub http2_keepalive_interval: Duration,
    /// How long an HTTP/2 ping may go unanswered before the connection is closed.
    #[arg(long, env = "HUSH_HTTP2_KEEPALIVE_TIMEOUT", value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub http2_keepalive_timeout: Duration,
    /// Open connections allowed in all [default: what fits 200 MiB, at most 10000, less on a
    /// machine or cgroup with under 800 MiB].
    #[arg(long, env = "HUSH_MAX_CONNECTIONS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// Open connections allowed from one client address (IPv6: one /64); trusted proxies are exempt.
    #[arg(long, env = "HUSH_MAX_CONNECTIONS_PER_IP", value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_ip: u32,
    /// A proxy (address or CIDR) whose forwarding header names the client; repeatable, or
    /// comma-separated in the variable. Without one, those headers are ignored.
    #[arg(long = "trusted-proxy", env = "HUSH_TRUSTED_PROXIES", value_name = "CIDR", value_delimiter = ',', value_parser = parse_cidr)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The header the trusted proxies report the client in.
    #[arg(long, env = "HUSH_TRUSTED_PROXY_HEADER", value_enum, default_value_t = ProxyHeader::XForwardedFor)]
    pub trusted_proxy_header: ProxyHeader,
    /// Failed authentications (no token, or none hush issued) allowed per second from one address …
    #[arg(long, env = "HUSH_FAILED_AUTH_PER_SECOND", value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub failed_auth_per_second: u32,
    /// … and in a burst; past them the address gets 429 with Retry-After.
    #[arg(long, env = "HUSH_FAILED_AUTH_BURST", value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub failed_auth_burst: u32,
    /// Requests allowed per second per token (a second's worth in a burst); no limit by default.
    #[arg(long, env = "HUSH_RATE_LIMIT_PER_TOKEN", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_per_token: Option<u32>,
    /// How often refused anonymous requests are written to the audit log, as one auth.refused
    /// event per client address (they are also written at shutdown).
    #[arg(long, env = "HUSH_AUDIT_REFUSALS_EVERY", value_name = "DURATION", default_value = "60s", value_parser = parse_timeout)]
    pub audit_refusals_every: Duration,
}

/// The header a trusted proxy reports the client's address in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProxyHeader {
    /// X-Forwarded-For: client, proxy1, … (nginx, HAProxy, most load balancers).
    #[value(name = "x-forwarded-for")]
    XForwardedFor,
    /// RFC 7239 Forwarded: for=client, for=proxy1.
    Forwarded,
}

/// `hush tls …`
#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Write a private CA, a server certificate and its key (and client certificates) for a quick setup.
    #[command(after_help = "Writes into --out (default ./hush-tls): ca.pem (the CA certificate: what clients \
trust), server.pem and server-key.pem (for hush serve --tls-cert/--tls-key) and, per --client NAME, NAME.pem and \
NAME-key.pem (for HUSH_CLIENT_CERT/HUSH_CLIENT_KEY under mutual TLS). Every file is mode 0600. The CA's own key \
is not kept: to renew, make a new set. For anything beyond a private setup, use certificates from your own PKI.\n\n\
Example:\n  hush tls self-signed --host hush.internal --host 10.0.0.5 --client ci-runner\n\n\
Exit codes: 0 written, 1 cannot write, 2 bad usage (no --host, a file exists without --force).")]
    SelfSigned(SelfSignedArgs),
}

/// `hush tls self-signed`.
#[derive(Debug, Args)]
pub struct SelfSignedArgs {
    /// A DNS name or IP address clients use to reach hush (repeatable; the first names the certificate).
    #[arg(long = "host", value_name = "NAME|IP", required = true)]
    pub hosts: Vec<String>,
    /// Also make a client certificate with this common name, for mutual TLS (repeatable).
    #[arg(long = "client", value_name = "NAME")]
    pub clients: Vec<String>,
    /// Directory to write into (created if missing).
    #[arg(long, value_name = "DIR", default_value = "./hush-tls")]
    pub out: PathBuf,
    /// Days the certificates are valid.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
    /// Replace files that already exist.
    #[arg(long)]
    pub force: bool,
    /// Print JSON: {"dir", "files", "ca_cert"}.
    #[arg(long)]
    pub json: bool,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `hush serve`.
#[derive(Debug, Args)]
#[command(after_help = "TLS: --tls-cert and --tls-key serve REST, gRPC and the settings page over TLS on the same \
port; the files are read again on SIGHUP and when they change, and a bad new pair keeps the old one in use. \
--tls-client-ca adds mutual TLS: a client without a certificate from that CA is refused at the handshake \
(a token is still needed). Without TLS, hush listens only on loopback addresses unless --insecure-no-tls \
says a TLS-terminating proxy is in front. hush tls self-signed makes a CA and a certificate for a quick setup.\n\n\
Limits: a connection that has not sent a complete request head within --header-read-timeout, or has had no \
request for --idle-timeout, is closed; so are connections past --max-connections or --max-connections-per-ip, as \
they arrive. A request without a token hush issued is answered 401 before its body is read; past \
--failed-auth-per-second (with --failed-auth-burst) from one address it gets 429 with Retry-After, and such \
refusals are audited as one auth.refused event per address every --audit-refusals-every. X-Forwarded-For \
(or Forwarded) is believed only from a --trusted-proxy. docs/operations.md has the tuning.\n\n\
Configuration file: --config FILE (or HUSH_CONFIG) reads options from a TOML file whose keys are the long \
flag names above (listen = \"0.0.0.0:8270\", max-connections = 1000, trusted-proxy = [\"10.0.0.0/8\"], \
insecure-no-tls = true). Each option comes from the first of: its flag, its variable, the file, its default; \
--print-config shows which. An unknown key, a value of the wrong type or one its flag would refuse stops the \
start (exit 2) with the file's line. docs/operations.md has a complete example.\n\n\
Exit codes: 0 stopped by SIGINT/SIGTERM, 1 could not start (port in use, stores, keys, TLS files, an unreadable \
--config), 2 bad usage (e.g. a non-loopback --listen without TLS, a bad config file).")]
pub struct ServeArgs {
    /// Read options from this TOML file (keys are the long flag names: listen = "0.0.0.0:8270");
    /// variables and flags override it.
    #[arg(long, env = "HUSH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub dirs: StoreDirs,
    /// Address to listen on (a non-loopback address needs TLS or --insecure-no-tls).
    #[arg(long, env = "HUSH_LISTEN", default_value = "127.0.0.1:8270")]
    pub listen: String,
    /// Also serve GET /metrics (Prometheus) on this address, without a token: bind it where only the
    /// scraper reaches. On the main address /metrics needs a token with metrics:read.
    #[arg(long, env = "HUSH_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// Also write every audit event to this file as a JSON line, synced before the call is answered
    /// (created 0600; reopened on SIGHUP, for logrotate). The lines never hold a value.
    #[arg(long, env = "HUSH_AUDIT_FILE", value_name = "PATH")]
    pub audit_file: Option<PathBuf>,
    /// Also write every audit event to standard output as a JSON line (for container platforms).
    #[arg(long, env = "HUSH_AUDIT_STDOUT")]
    pub audit_stdout: bool,
    #[command(flatten)]
    pub tls: ServerTlsArgs,
    #[command(flatten)]
    pub limits: ServerLimitsArgs,
    /// Largest secret value accepted, e.g. 1MiB, 64KiB or a number of bytes.
    #[arg(long, env = "HUSH_MAX_VALUE_SIZE", default_value = "1MiB", value_parser = parse_size)]
    pub max_value_size: usize,
    /// Versions kept per secret; older ones are deleted on write.
    #[arg(long, env = "HUSH_KEEP_VERSIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub keep_versions: u32,
    /// Where Vault clients find hush's secrets: the KV v2 mount name in
    /// `/v1/MOUNT/data/…` (`bao kv get MOUNT/app/db`).
    #[arg(long, env = "HUSH_VAULT_MOUNT", default_value = "secret", value_parser = parse_vault_mount)]
    pub vault_mount: hush_server::VaultMount,
    /// Log line format.
    #[arg(long, env = "HUSH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Print every option's value and where it came from (default, file, variable, flag), secrets
    /// masked, and exit.
    #[arg(long)]
    pub print_config: bool,
    /// With --print-config: print JSON.
    #[arg(long, requires = "print_config")]
    pub json: bool,
    /// Each option's value and layer, for --print-config (filled in by `config::parse_command_line`).
    #[arg(skip)]
    pub effective: crate::config::Effective,
}

/// `hush namespace …`
#[derive(Debug, Subcommand)]
pub enum NamespaceCommand {
    /// Create a namespace.
    Create {
        /// Name: letters, digits, '.', '_', '-' (starting with a letter or digit).
        name: String,
        #[command(flatten)]
        conn: Connection,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the namespaces the token may act in.
    List {
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a namespace: destroys its keys (its ciphertexts become unreadable everywhere) and its secrets.
    Delete {
        /// Namespace to delete.
        name: String,
        /// Do not ask for confirmation on a terminal.
        #[arg(long, short = 'y')]
        yes: bool,
        #[command(flatten)]
        conn: Connection,
    },
    /// Give a namespace a new data key version: new writes use it, older versions stay readable
    /// (hush admin rewrap re-encrypts them).
    RotateKey {
        /// Namespace (global and global-private too, with a token for all namespaces).
        name: String,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `hush admin …`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Audit log retention.
    #[command(subcommand)]
    Audit(AdminAuditCommand),
    /// Write an encrypted, consistent backup of both stores to FILE (mode 0600). It does not hold
    /// the root key: restoring needs the same root key file, HUSH_ROOT_KEY or KMS.
    ///
    /// The backup holds both stores as rows, whichever backend they are on, so it restores into
    /// SQLite or PostgreSQL alike (moving to PostgreSQL: docs/operations.md). It is written beside
    /// FILE and renamed into place once complete: an interrupted backup leaves no FILE.
    Backup {
        /// Where to write it.
        file: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON: {"file", "bytes"}.
        #[arg(long)]
        json: bool,
        /// No progress on standard error.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Re-wrap every key under a new root key (the key file is replaced) or, with a KMS, the Transit
    /// key's newest version; reads and writes go on meanwhile. Not possible with HUSH_ROOT_KEY.
    RotateRoot {
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup into fresh stores: SQLite in --data-dir and --key-dir (the server must not
    /// be running on them), or empty PostgreSQL databases (--database-url, --keystore-url), whichever
    /// backend the backup came from. Then open it to prove it works with the root key (in --key-dir,
    /// HUSH_ROOT_KEY or --root-key-file) or KMS. All or nothing: an interrupted or refused restore
    /// leaves the targets empty.
    Restore {
        /// The backup file.
        file: PathBuf,
        #[command(flatten)]
        dirs: StoreDirs,
        /// Print JSON: {"installation_id", "namespaces", "rows": {"data.secrets": N, ...}}.
        #[arg(long)]
        json: bool,
        /// No progress on standard error.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Re-encrypt every stored version under its namespace's current key; resumable (run it again
    /// after an interruption). Needs namespaces:manage.
    Rewrap {
        /// Only this namespace (default: every namespace the token may act in, and the registry scopes).
        namespace: Option<String>,
        /// Versions per request.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=500))]
        batch: u32,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON: [{"namespace", "key_version", "rewrapped"}].
        #[arg(long)]
        json: bool,
        /// No progress bar on standard error.
        #[arg(short, long)]
        quiet: bool,
    },
}

/// `hush admin audit …`
#[derive(Debug, Subcommand)]
pub enum AdminAuditCommand {
    /// Remove audit events recorded before a time. First writes a checkpoint (the chain head at the
    /// cut, signed with the audit key) after verifying the chain up to it; `hush audit verify` then
    /// verifies from the checkpoint. Never removes the newest event. With an audit sink configured,
    /// refuses events never delivered to a sink or exported unless --force. Ctrl-C leaves a
    /// consistent log; run it again to finish.
    Prune {
        /// Remove events before this time: RFC 3339 (2026-01-01T00:00:00Z) or an age such as 90d.
        #[arg(long, value_name = "TIME", value_parser = parse_time_bound)]
        before: String,
        /// Remove events even if they never reached an audit sink or an export.
        #[arg(long)]
        force: bool,
        /// Events removed per request.
        #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u32).range(1..=500_000))]
        batch: u32,
        /// Print JSON: {"checkpoint", "removed", "remaining"}.
        #[arg(long)]
        json: bool,
        /// No progress bar on standard error.
        #[arg(short, long)]
        quiet: bool,
        #[command(flatten)]
        conn: Connection,
    },
}

/// Secret types for `--type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TypeArg {
    /// One opaque value.
    Generic,
    /// Username and token.
    Git,
    /// Username, password and server address.
    Registry,
}

/// `hush secret create`.
#[derive(Debug, Args)]
pub struct CreateSecret {
    /// Secret name; '/' separates folders.
    pub name: String,
    #[command(flatten)]
    pub ns: NamespaceArg,
    #[command(flatten)]
    pub conn: Connection,
    /// Secret type.
    #[arg(long = "type", value_enum, default_value_t = TypeArg::Generic)]
    pub secret_type: TypeArg,
    /// Generic value (visible to other local users; prefer --value-stdin).
    #[arg(long, conflicts_with_all = ["value_stdin", "from_file"])]
    pub value: Option<String>,
    /// Read the generic value from stdin, byte for byte.
    #[arg(long, conflicts_with = "from_file")]
    pub value_stdin: bool,
    /// Read the generic value from a file, byte for byte.
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
    /// Username (git, registry).
    #[arg(long)]
    pub username: Option<String>,
    /// Registry password (visible to other local users; prefer --password-stdin).
    #[arg(long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the registry password from stdin.
    #[arg(long)]
    pub password_stdin: bool,
    /// Git token (visible to other local users; prefer --token-stdin).
    #[arg(long, conflicts_with = "token_stdin")]
    pub token: Option<String>,
    /// Read the git token from stdin.
    #[arg(long)]
    pub token_stdin: bool,
    /// Registry server address, e.g. ghcr.io (empty means Docker Hub).
    #[arg(long)]
    pub server_address: Option<String>,
    /// Git: the URL prefix this secret is for, e.g. https://git.example.com/org (git-credential-hush
    /// picks the secret with the longest matching prefix).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Write only if the current version is N (0: only if the secret does not exist).
    #[arg(long, value_name = "N")]
    pub cas: Option<u64>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `hush secret …`
#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Create a secret, or write a new version of it (rotation).
    Create(Box<CreateSecret>),
    /// List secrets: name, type, version, last update. Never values.
    List {
        #[command(flatten)]
        ns: NamespaceArg,
        #[command(flatten)]
        conn: Connection,
        /// Only names starting with this (a folder: "dir/").
        #[arg(long)]
        prefix: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a secret: a generic value raw, git and registry fields as JSON.
    Get {
        /// Secret name.
        name: String,
        #[command(flatten)]
        ns: NamespaceArg,
        #[command(flatten)]
        conn: Connection,
        /// Read this version instead of the current one.
        #[arg(long, value_name = "N")]
        version: Option<u64>,
        /// Print one field raw: value, username, token, password or server_address.
        #[arg(long, value_name = "F")]
        field: Option<String>,
        /// Print metadata and value as JSON.
        #[arg(long, conflicts_with = "field")]
        json: bool,
    },
    /// Delete a secret and all its versions (succeeds if it does not exist).
    Delete {
        /// Secret name.
        name: String,
        #[command(flatten)]
        ns: NamespaceArg,
        #[command(flatten)]
        conn: Connection,
    },
    /// List a secret's stored versions.
    Versions {
        /// Secret name.
        name: String,
        #[command(flatten)]
        ns: NamespaceArg,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `hush token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token; prints it alone on the last line of stdout, once.
    Create {
        /// Namespaces it may act in (repeat for several; default: HUSH_NAMESPACE or "default").
        #[arg(
            short = 'n',
            long = "namespace",
            env = "HUSH_NAMESPACE",
            default_value = "default",
            value_delimiter = ','
        )]
        namespaces: Vec<String>,
        /// Bind it to every namespace, present and future (needs such a token to issue it).
        #[arg(long, conflicts_with = "namespaces")]
        all_namespaces: bool,
        /// Scopes (repeat): secrets:list, secrets:read, secrets:write, secrets:delete, registries:read,
        /// registries:write, tokens:manage, namespaces:manage, audit:read, admin.
        #[arg(long = "scope", required = true, value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Lifetime, e.g. 1h, 30m, 7days (default: no expiry, or the issuer's).
        #[arg(long, value_parser = humantime::parse_duration)]
        ttl: Option<std::time::Duration>,
        /// What the token is for.
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON (including the token).
        #[arg(long)]
        json: bool,
    },
    /// List tokens (never the tokens themselves).
    List {
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id.
    Revoke {
        /// Token id (see hush token list).
        id: String,
        #[command(flatten)]
        conn: Connection,
    },
}

/// `hush auth …`
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Login roles: which JWTs may log in, and what the token they earn may do.
    #[command(subcommand)]
    Role(RoleCommand),
}

/// `hush auth role …`
#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create a login role (needs tokens:manage; grants no more than your token holds).
    #[command(after_help = "Example (GitHub Actions, main branch of one repository):\n  \
hush auth role create deploy -n prod --scope secrets:read \\\n    \
--issuer https://token.actions.githubusercontent.com --audience https://hush.example.com \\\n    \
--bound-claim repository=my-org/my-repo --bound-claim ref=refs/heads/main\n\n\
Bound claims: CLAIM=PATTERN[,PATTERN…]. CLAIM is a claim name or a JSON pointer into nested claims \
(/kubernetes.io/namespace); '*' in a pattern matches any run of characters; several patterns are any-of; a list \
claim matches if any item does. At least one is required: a public issuer such as GitHub's signs tokens for everyone.")]
    Create(Box<RoleCreateArgs>),
    /// List login roles.
    List {
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a login role.
    Get {
        /// The role's name.
        name: String,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a login role: no new logins; tokens it issued keep their short lifetime.
    Delete {
        /// The role's name.
        name: String,
        #[command(flatten)]
        conn: Connection,
    },
}

/// `hush auth role create`.
#[derive(Debug, Args)]
pub struct RoleCreateArgs {
    /// The role's name (lowercase letters, digits, '.', '_', '-').
    pub name: String,
    /// Namespaces a login's token may act in (repeat for several).
    #[arg(short = 'n', long = "namespace", required = true, value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// Scopes of a login's token (repeat), e.g. secrets:read.
    #[arg(long = "scope", required = true, value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// The JWT's issuer (`iss`), exactly: https://token.actions.githubusercontent.com,
    /// https://gitlab.com, or the cluster's service account issuer.
    #[arg(long)]
    pub issuer: String,
    /// A value the JWT's audience (`aud`) must contain.
    #[arg(long)]
    pub audience: String,
    /// A claim the JWT must match: CLAIM=PATTERN[,PATTERN…] (repeat; at least one).
    #[arg(long = "bound-claim", value_name = "CLAIM=PATTERN")]
    pub bound_claims: Vec<String>,
    /// A claim to record with every audit event of the login's token (repeat; default: the
    /// repository, workflow, run and job of GitHub and GitLab tokens, and the namespace, service
    /// account and pod of Kubernetes ones).
    #[arg(long = "record-claim", value_name = "CLAIM")]
    pub record_claims: Vec<String>,
    /// Lifetime of a login's token.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    pub ttl: Duration,
    /// The longest lifetime a login may ask for (at most 24h).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub max_ttl: Duration,
    /// The longest a JWT may live, from iat (or nbf) to exp (at most 7 days).
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    pub max_jwt_lifetime: Duration,
    /// Fetch the issuer's keys from this JWKS URL instead of by OIDC discovery.
    #[arg(long, conflicts_with = "jwks_file")]
    pub jwks_url: Option<String>,
    /// The issuer's keys from this JWKS file (a cluster whose issuer cannot be reached:
    /// kubectl get --raw /openid/v1/jwks > jwks.json).
    #[arg(long, value_name = "FILE")]
    pub jwks_file: Option<PathBuf>,
    #[command(flatten)]
    pub conn: Connection,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `hush login`.
#[derive(Debug, Args)]
#[command(
    after_help = "Where the JWT comes from: --jwt-file (Kubernetes: /var/run/secrets/kubernetes.io/serviceaccount/token, or a projected token), --jwt-env (GitLab CI: the variable of your id_tokens entry), or on GitHub Actions the runner's token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN; the job needs `permissions: id-token: write`), asked for the role's audience.\n\n\
Prints the token alone on stdout, for HUSH_TOKEN (or --json). Other commands and the credential helpers can log in by themselves instead: set HUSH_ROLE (and HUSH_JWT_FILE or HUSH_JWT_ENV) and leave HUSH_TOKEN unset; the token then lives in the process's memory only.\n\n\
Exit codes: 0 logged in, 3 the login was refused (the audit log says why), 2 no JWT found, 1 other errors."
)]
pub struct LoginArgs {
    /// The login role.
    #[arg(long, env = "HUSH_ROLE")]
    pub role: String,
    /// Read the JWT from this file.
    #[arg(long, env = "HUSH_JWT_FILE", value_name = "FILE", conflicts_with = "jwt_env")]
    pub jwt_file: Option<PathBuf>,
    /// Read the JWT from this environment variable.
    #[arg(long, env = "HUSH_JWT_ENV", value_name = "VAR")]
    pub jwt_env: Option<String>,
    /// The audience to ask GitHub Actions for (default: the role's, asked of hush).
    #[arg(long, env = "HUSH_JWT_AUDIENCE")]
    pub audience: Option<String>,
    /// Ask for this lifetime, up to the role's max-ttl (default: the role's ttl).
    #[arg(long)]
    pub ttl: Option<String>,
    #[command(flatten)]
    pub conn: Connection,
    /// Print JSON (the token, its id, namespaces, scopes, expiry and identity).
    #[arg(long)]
    pub json: bool,
}

/// `hush audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recent audit events, newest first.
    List {
        /// Only this namespace.
        #[arg(short = 'n', long = "namespace")]
        namespace: Option<String>,
        /// Only this secret name.
        #[arg(long)]
        name: Option<String>,
        /// Only this action, e.g. secret.read, token.create or auth.refused (refused anonymous
        /// requests, counted per client address).
        #[arg(long)]
        action: Option<String>,
        /// Only this outcome: ok, unauthenticated, denied, not_found, conflict, invalid or error.
        #[arg(long)]
        outcome: Option<String>,
        /// Only this token's events, by its public id (as `hush token list` shows it).
        #[arg(long, value_name = "ID")]
        token_id: Option<String>,
        /// How many events.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every event, oldest first, as JSON lines on standard output (for a SIEM).
    ///
    /// Pages through the whole log (or the part the filters select), one
    /// event a line in the same shape as `hush audit list --json`; no line
    /// holds a secret value. Needs audit:read on a token bound to all
    /// namespaces. On a terminal it shows a count on standard error.
    #[command(
        after_help = "Examples:\n  hush audit export > audit.jsonl\n  hush audit export --since 24h --namespace ci | vector ...\n  hush audit export --since 2026-12-01T00:00:00Z --until 2026-12-02T00:00:00Z"
    )]
    Export {
        /// Only events at or after this time: RFC 3339 (2026-12-01T00:00:00Z) or an age such as 24h or 7d.
        #[arg(long, value_name = "TIME", value_parser = parse_time_bound)]
        since: Option<String>,
        /// Only events before this time: RFC 3339 or an age such as 1h.
        #[arg(long, value_name = "TIME", value_parser = parse_time_bound)]
        until: Option<String>,
        /// Only events of this namespace.
        #[arg(short = 'n', long = "namespace")]
        namespace: Option<String>,
        /// Output format (JSON lines, one event each).
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Events per request (1 to 1000).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1000))]
        page_size: u32,
        /// No count on standard error.
        #[arg(short, long)]
        quiet: bool,
        #[command(flatten)]
        conn: Connection,
    },
    /// Check the audit chain; exits 6 if an event was edited or removed.
    Verify {
        #[command(flatten)]
        conn: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// No progress on standard error.
        #[arg(short, long)]
        quiet: bool,
    },
}

/// `docker-credential-hush`: this binary under the helper's name.
#[derive(Debug, Parser)]
#[command(name = "docker-credential-hush", version, max_term_width = 100)]
#[command(about = "Docker credential helper backed by hush (docker, skopeo, podman, buildah).")]
#[command(after_help = "Reads HUSH_ADDR, HUSH_TOKEN (needs registries:read) and HUSH_NAMESPACE (default \"default\"; \
\"global-private\" looks up as a global service). store and erase change nothing unless HUSH_HELPER_WRITABLE=1.\n\
Use it with {\"credHelpers\": {\"HOST\": \"hush\"}} (or \"credsStore\": \"hush\") in the client's config.")]
pub struct DockerHelperCli {
    /// get, store, erase, list or version.
    pub operation: String,
}

/// `git-credential-hush`: this binary under the helper's name.
#[derive(Debug, Parser)]
#[command(name = "git-credential-hush", version, max_term_width = 100)]
#[command(about = "git credential helper backed by hush: git secrets matched by their url.")]
#[command(after_help = "Reads HUSH_ADDR, HUSH_TOKEN (needs secrets:read) and HUSH_NAMESPACE (default \"default\"). \
store and erase change nothing unless HUSH_HELPER_WRITABLE=1.\n\
Use it with: git config credential.helper hush (or \"hush --secret NAME\" to pin one secret); \
credential.useHttpPath true sends the repository path, for secrets whose url has one.")]
pub struct GitHelperCli {
    /// Always use this git secret instead of looking one up by URL.
    #[arg(long, value_name = "NAME")]
    pub secret: Option<String>,
    /// get, store or erase (git passes it).
    pub operation: String,
}

/// How `hush audit export` writes events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
}

/// A time for `--since`/`--until`: RFC 3339 as given (the server checks
/// it), or an age (`24h`, `7d`) turned into the RFC 3339 time that long ago.
fn parse_time_bound(text: &str) -> Result<String, String> {
    let t = text.trim();
    if humantime::parse_rfc3339_weak(t).is_ok() {
        return Ok(t.to_owned());
    }
    match humantime::parse_duration(t) {
        Ok(age) => {
            let at =
                std::time::SystemTime::now().checked_sub(age).ok_or_else(|| format!("{text:?} is too long ago"))?;
            Ok(humantime::format_rfc3339_millis(at).to_string())
        }
        Err(_) => Err(format!("{text:?} is neither an RFC 3339 time (2026-12-01T00:00:00Z) nor an age such as 24h")),
    }
}

/// A positive duration such as `10s`, `500ms` or `2m`.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d.is_zero() => Err(format!("{text:?} is zero; give a positive duration such as 10s")),
        Ok(d) if d > Duration::from_secs(24 * 3600) => Err(format!("{text:?} is over a day")),
        Ok(d) => Ok(d),
        Err(_) => Err(format!("{text:?} is not a duration such as 10s, 500ms or 2m")),
    }
}

/// A CIDR (`10.0.0.0/8`, `fd00::/8`) or a single address.
fn parse_cidr(text: &str) -> Result<ipnet::IpNet, String> {
    let t = text.trim();
    t.parse::<ipnet::IpNet>()
        .map(|net| net.trunc())
        .or_else(|_| t.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{text:?} is not an address or CIDR such as 10.0.0.0/8"))
}

/// `1MiB`, `64KiB`, `1M`, `512k` or plain bytes.
fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: usize = digits.parse().map_err(|_| format!("{text:?} is not a size such as 1MiB or 65536"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        _ => return Err(format!("{text:?} has an unknown unit; use B, KiB or MiB")),
    };
    n.checked_mul(factor).filter(|n| *n > 0).ok_or_else(|| format!("{text:?} is out of range"))
}

/// A `--vault-mount` name.
fn parse_vault_mount(text: &str) -> Result<hush_server::VaultMount, String> {
    hush_server::VaultMount::parse(text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn export_times_are_rfc_3339_as_given_or_an_age_before_now() {
        assert_eq!(parse_time_bound("2026-12-01T00:00:00Z").unwrap(), "2026-12-01T00:00:00Z");
        let day_ago = humantime::parse_rfc3339_weak(&parse_time_bound("24h").unwrap()).unwrap();
        let age = std::time::SystemTime::now().duration_since(day_ago).unwrap().as_secs();
        assert!((86_400..86_460).contains(&age), "{age}");
        for bad in ["yesterday", "", "2026-13-01T00:00:00Z"] {
            assert!(parse_time_bound(bad).unwrap_err().contains("RFC 3339"), "{bad}");
        }
    }

    use super::*;

    #[test]
    fn sizes() {
        for (t, n) in [("1MiB", 1 << 20), ("64KiB", 65536), ("512k", 524288), ("100", 100), ("2 MB", 2 << 20)] {
            assert_eq!(parse_size(t), Ok(n), "{t}");
        }
        for t in ["", "x", "1GiB", "0", "-1"] {
            assert!(parse_size(t).is_err(), "{t}");
        }
    }

    #[test]
    fn timeouts_and_proxies() {
        assert_eq!(parse_timeout("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_timeout("250ms"), Ok(Duration::from_millis(250)));
        for t in ["0s", "", "ten", "2days"] {
            assert!(parse_timeout(t).is_err(), "{t}");
        }
        assert_eq!(parse_cidr("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_cidr("192.0.2.7").unwrap().to_string(), "192.0.2.7/32");
        assert_eq!(parse_cidr("fd00::1").unwrap().to_string(), "fd00::1/128");
        for t in ["", "10.0.0.0/33", "proxy.internal", "10.0.0/8"] {
            assert!(parse_cidr(t).is_err(), "{t}");
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        DockerHelperCli::command().debug_assert();
        GitHelperCli::command().debug_assert();
    }
}
