// hush's settings page: secrets, registries and the audit log of a
// namespace, over the REST API with the token from session storage.
//
// Everything the server sends is put on the page with textContent or as
// attribute values set through the DOM, never parsed as HTML, so a name or
// value like <script>…</script> is only ever text.
"use strict";

const TOKEN_KEY = "hush-token";
const state = { namespace: null, prefix: "", tab: "secrets", secrets: [] };
const $ = (id) => document.getElementById(id);

// Names as the server checks them: '/'-separated segments of [A-Za-z0-9._-]{1,64}, at most 256.
const SEGMENT = /^[A-Za-z0-9._-]{1,64}$/;
function nameProblem(name) {
  if (!name) return "The name is empty.";
  if (name.length > 256) return "The name is longer than 256 characters.";
  const segments = name.split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..")) return "Each part between '/' needs at least one character (and not . or ..).";
  if (!segments.every((s) => SEGMENT.test(s))) return "Use letters, digits, '.', '_' and '-', with '/' between folders; each part at most 64 characters.";
  return null;
}

// Attributes el() may set: none of them can load or run anything.
const SAFE_ATTRIBUTES = new Set(["type", "class", "colspan", "value", "role", "aria-label", "aria-current", "aria-hidden", "tabindex"]);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "text") node.textContent = v;
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
    else if (SAFE_ATTRIBUTES.has(k) || k.startsWith("data-")) node.setAttribute(k, v);
    else throw new Error("el(): refusing attribute " + k);
  }
  for (const c of children) node.append(c);
  return node;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
  if (message) $("notice").hidden = true;
}

function notice(message) {
  const box = $("notice");
  box.textContent = message;
  box.hidden = false;
  $("error").hidden = true;
}

// Plain words for the API's error codes.
const PLAIN = {
  unauthenticated: "The token is not valid (unknown, revoked or expired). Sign in again.",
  forbidden: "This token may not do that.",
  secret_not_found: "That secret does not exist (any more).",
  namespace_not_found: "That namespace does not exist, or this token cannot see it.",
  registry_not_found: "That registry entry does not exist (any more).",
  type_conflict: "A secret with this name exists with another type; delete it first to change its type.",
  cas_mismatch: "The secret exists already, or changed meanwhile: use Rotate on the current version.",
  value_too_large: "The value is larger than the server accepts.",
  body_too_large: "The value is larger than the server accepts.",
  invalid_name: "The name is not valid.",
  invalid_value: "A field is not valid.",
  malformed_body: "The request was not understood.",
  scope_not_found: "That registry scope does not exist.",
  invalid_query: "The request was not understood.",
};

// Counts what the page has shown since it loaded: a sign-in, a sign-out and
// a change of namespace each start a new view. An answer to a call made in
// an earlier view is dropped (`Stale`), so nothing asked for before signing
// out, or in another namespace, is shown after it.
let view = 0;
class Stale extends Error {}

// Throws `Stale` if the view changed since `asked`.
function stillIn(asked) {
  if (asked !== view) throw new Stale("the page moved on meanwhile");
}

async function api(method, path, body, asked = view) {
  stillIn(asked);
  const headers = { Authorization: "Bearer " + sessionStorage.getItem(TOKEN_KEY) };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  } catch (e) {
    stillIn(asked);
    throw new Error("The server cannot be reached.");
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  stillIn(asked);
  if (response.status === 204) return null;
  if (!response.ok) {
    const err = data && data.error ? data.error : {};
    const e = new Error(PLAIN[err.code] ? `${PLAIN[err.code]} (${err.message || err.code})` : err.message || `The server answered ${response.status}.`);
    e.status = response.status;
    throw e;
  }
  return data;
}

const seg = (s) => encodeURIComponent(s);
const nsPath = () => `/v1/namespaces/${seg(state.namespace)}`;
const when = (t) => (t ? new Date(t).toLocaleString() : "—");

async function guard(fn) {
  try {
    showError("");
    await fn();
  } catch (e) {
    if (e instanceof Stale) return;
    showError(e.message);
    if (e.status === 401) signOut(false);
  }
}

// --- sign in ---------------------------------------------------------------

async function signIn(token) {
  view += 1;
  sessionStorage.setItem(TOKEN_KEY, token);
  let listed;
  try {
    listed = await api("GET", "/v1/namespaces");
    if (!listed.namespaces.length) throw new Error("This token may not act in any namespace.");
  } catch (e) {
    // A stale answer belongs to a sign-in overtaken by a later one (or a
    // sign-out), whose token this is not to remove.
    if (!(e instanceof Stale)) sessionStorage.removeItem(TOKEN_KEY);
    throw e;
  }
  $("token").value = "";
  const picker = $("namespace");
  picker.replaceChildren(...listed.namespaces.map((n) => el("option", { value: n.name, text: n.name })));
  state.namespace = listed.namespaces[0].name;
  $("signin").hidden = true;
  for (const id of ["tabs", "ns-picker", "sign-out"]) $(id).hidden = false;
  showTab("secrets");
}

// Forgets everything shown: rows, revealed values, open forms, the next
// page of the audit log; starts a new view.
function clearPage() {
  view += 1;
  const older = $("audit-older");
  older.hidden = true;
  older.onclick = null;
  $("audit-filters").reset();
  state.secrets = [];
  state.prefix = "";
  for (const id of ["secret-rows", "registry-rows", "audit-rows", "version-rows", "crumbs"]) $(id).replaceChildren();
  for (const id of ["secret-form", "registry-form"]) {
    $(id).reset();
    $(id).hidden = true;
  }
  $("versions").hidden = true;
}

function signOut(clearMessage = true) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearPage();
  $("namespace").replaceChildren();
  for (const id of ["tabs", "ns-picker", "sign-out", "secrets", "registries", "audit"]) $(id).hidden = true;
  $("signin").hidden = false;
  $("token").value = "";
  if (clearMessage) showError("");
}

function showTab(tab) {
  state.tab = tab;
  $("secret-form").hidden = true;
  $("registry-form").hidden = true;
  $("versions").hidden = true;
  for (const b of document.querySelectorAll(".tab")) b.setAttribute("aria-pressed", String(b.dataset.tab === tab));
  for (const id of ["secrets", "registries", "audit"]) $(id).hidden = id !== tab;
  guard(tab === "secrets" ? loadSecrets : tab === "registries" ? loadRegistries : loadAudit);
}

// --- secrets ---------------------------------------------------------------

async function loadSecrets() {
  const all = [];
  let after = "";
  for (;;) {
    const page = await api("GET", `${nsPath()}/secrets?limit=1000${after ? "&after=" + seg(after) : ""}`);
    all.push(...page.secrets);
    if (!page.next) break;
    after = page.next;
  }
  state.secrets = all;
  renderSecrets();
}

function renderSecrets() {
  const crumbs = $("crumbs");
  const parts = state.prefix ? state.prefix.replace(/\/$/, "").split("/") : [];
  const crumbButtons = [el("button", { type: "button", text: state.namespace, on: { click: () => goTo("") } })];
  parts.forEach((p, i) => {
    crumbButtons.push(document.createTextNode(" / "));
    crumbButtons.push(el("button", { type: "button", text: p, on: { click: () => goTo(parts.slice(0, i + 1).join("/") + "/") } }));
  });
  crumbs.replaceChildren(...crumbButtons);

  const filter = $("filter").value.trim().toLowerCase();
  const folders = new Set();
  const rows = [];
  for (const s of state.secrets) {
    if (!s.name.startsWith(state.prefix)) continue;
    const rest = s.name.slice(state.prefix.length);
    if (filter && !s.name.toLowerCase().includes(filter)) continue;
    const slash = rest.indexOf("/");
    if (slash >= 0 && !filter) {
      folders.add(rest.slice(0, slash));
      continue;
    }
    rows.push(secretRow(s, filter ? s.name : rest));
  }
  const folderRows = [...folders].sort().map((f) =>
    el("tr", {}, el("td", { colspan: "6" }, el("button", { type: "button", class: "folder", text: "▸ " + f + "/", on: { click: () => goTo(state.prefix + f + "/") } }))),
  );
  $("secret-rows").replaceChildren(...folderRows, ...rows);
  $("secrets-empty").hidden = folderRows.length + rows.length > 0;
}

function goTo(prefix) {
  state.prefix = prefix;
  renderSecrets();
}

function secretRow(s, shownName) {
  // The namespace this row belongs to, fixed when it is drawn.
  const base = nsPath();
  const valueCell = el("td", {}, el("span", { text: shownName }));
  const reveal = el("button", { type: "button", class: "small quiet", text: "Reveal", "aria-label": "Reveal " + s.name });
  reveal.addEventListener("click", () => guard(async () => {
    const shown = valueCell.querySelector("pre");
    if (shown) {
      shown.remove();
      reveal.textContent = "Reveal";
      return;
    }
    const got = await api("GET", `${base}/secrets/${seg(s.name)}`);
    const fields = ["value", "value_base64", "username", "token", "password", "server_address", "url"].filter((f) => got[f] !== undefined && got[f] !== "");
    const text = fields.length === 1 && fields[0] === "value" ? got.value : fields.map((f) => `${f}: ${got[f]}`).join("\n");
    valueCell.append(el("pre", { class: "revealed", "data-secret": s.name, text }));
    reveal.textContent = "Hide";
  }));
  const actions = el("td", { class: "actions" },
    reveal,
    el("button", { type: "button", class: "small quiet", text: "Rotate", "aria-label": "Rotate " + s.name, on: { click: () => openSecretForm(s) } }),
    el("button", { type: "button", class: "small quiet", text: "Versions", "aria-label": "Versions of " + s.name, on: { click: () => guard(() => showVersions(s, base)) } }),
    el("button", { type: "button", class: "small danger", text: "Delete", "aria-label": "Delete " + s.name, on: { click: () => confirmDelete(s, base) } }),
  );
  return el("tr", { "data-name": s.name },
    valueCell,
    el("td", {}, el("span", { class: "badge", text: s.type })),
    el("td", { text: String(s.version) }),
    el("td", { text: when(s.updated_at) }),
    el("td", { text: when(s.last_read_at) }),
    actions,
  );
}

function openSecretForm(existing) {
  const form = $("secret-form");
  form.reset();
  form.dataset.mode = existing ? "rotate" : "create";
  form.dataset.version = existing ? String(existing.version) : "0";
  form.dataset.base = nsPath();
  $("secret-form-title").textContent = existing ? `New version of ${existing.name}` : "New secret";
  $("s-name").value = existing ? existing.name : state.prefix;
  $("s-name").readOnly = !!existing;
  $("s-type").value = existing ? existing.type : "generic";
  $("s-type").disabled = !!existing;
  showTypeFields();
  form.hidden = false;
  (existing ? $("s-type") : $("s-name")).focus();
}

function showTypeFields() {
  const type = $("s-type").value;
  for (const div of document.querySelectorAll("#secret-form [data-for]")) div.hidden = div.dataset.for !== type;
}

function fileAsBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",")[1] || "");
    reader.onerror = () => reject(new Error("The file could not be read."));
    reader.readAsDataURL(file);
  });
}

async function saveSecret(event) {
  event.preventDefault();
  // The view the form was submitted in: reading a file takes a while, and
  // a value is not sent after signing out or to another namespace.
  const asked = view;
  const name = $("s-name").value.trim();
  const problem = nameProblem(name);
  if (problem) throw new Error(problem);
  const type = $("s-type").value;
  let body;
  if (type === "generic") {
    const file = $("s-file").files[0];
    body = file ? { type, value_base64: await fileAsBase64(file) } : { type, value: $("s-value").value };
  } else if (type === "git") {
    body = { type, username: $("s-git-user").value, token: $("s-git-token").value, url: $("s-git-url").value.trim() || undefined };
  } else {
    body = { type, username: $("s-reg-user").value, password: $("s-reg-password").value, server_address: $("s-reg-server").value.trim() };
  }
  // create: must not exist yet; rotate: must still be the version shown.
  body.cas = Number($("secret-form").dataset.version || "0");
  const saved = await api("PUT", `${$("secret-form").dataset.base}/secrets/${seg(name)}`, body, asked);
  $("secret-form").reset();
  $("secret-form").hidden = true;
  notice(`Saved ${saved.name} (version ${saved.version}).`);
  await loadSecrets();
}

async function showVersions(s, base) {
  const got = await api("GET", `${base}/secrets/${seg(s.name)}/versions`);
  $("versions-title").textContent = `Versions of ${s.name}`;
  $("version-rows").replaceChildren(...got.versions.map((v) =>
    el("tr", {}, el("td", { text: String(v.version) }), el("td", { text: when(v.created_at) }), el("td", { text: String(v.key_version) }))));
  $("versions").hidden = false;
  $("versions-title").focus();
}

function confirmDelete(s, base) {
  const dialog = $("confirm");
  $("confirm-text").textContent = `Delete ${s.name} and all its versions? This cannot be undone.`;
  dialog.onclose = () => {
    if (dialog.returnValue === "yes") guard(async () => {
      await api("DELETE", `${base}/secrets/${seg(s.name)}`);
      notice(`Deleted ${s.name}.`);
      await loadSecrets();
    });
  };
  dialog.returnValue = "";
  dialog.showModal();
}

// --- registries ------------------------------------------------------------

function registryPath() {
  const scope = $("reg-scope").value;
  return scope === "ns" ? `${nsPath()}/registries` : `/v1/registries/${scope}`;
}

async function loadRegistries() {
  $("registry-rows").replaceChildren();
  const base = registryPath();
  const got = await api("GET", base);
  $("registry-rows").replaceChildren(...got.registries.map((r) => {
    const result = el("span", { class: "muted", role: "status" });
    const test = el("button", { type: "button", class: "small quiet", text: "Test connection", "aria-label": "Test the connection to " + r.url });
    test.addEventListener("click", () => guard(async () => {
      result.textContent = " testing…";
      const report = await api("POST", `${base}/test`, { url: r.url });
      result.textContent = ` ${report.result}${report.message ? ": " + report.message : ""}`;
    }));
    const del = el("button", { type: "button", class: "small danger", text: "Delete", "aria-label": "Delete the registry entry for " + r.url });
    del.addEventListener("click", () => {
      const dialog = $("confirm");
      $("confirm-text").textContent = `Delete the registry entry for ${r.url}?`;
      dialog.onclose = () => {
        if (dialog.returnValue === "yes") guard(async () => {
          await api("DELETE", `${base}?id=${seg(r.id)}`);
          notice(`Deleted ${r.url}.`);
          await loadRegistries();
        });
      };
      dialog.returnValue = "";
      dialog.showModal();
    });
    return el("tr", { "data-url": r.url },
      el("td", { text: r.url }), el("td", { text: r.user }), el("td", { text: when(r.updated_at) }),
      el("td", { class: "actions" }, test, del, result));
  }));
  $("registries-empty").hidden = got.registries.length > 0;
}

async function saveRegistry(event) {
  event.preventDefault();
  await api("POST", registryPath(), { url: $("r-url").value.trim(), username: $("r-user").value, password: $("r-password").value });
  $("registry-form").reset();
  $("registry-form").hidden = true;
  notice("Saved the registry entry.");
  await loadRegistries();
}

// --- audit -----------------------------------------------------------------

// What the filters offer (the server refuses anything else by name).
const AUDIT_ACTIONS = ["secret.read", "secret.write", "secret.list", "secret.versions", "secret.delete",
  "namespace.create", "namespace.delete", "namespace.list", "namespace.rotate-key", "namespace.rewrap",
  "token.create", "token.revoke", "token.list", "audit.list", "audit.verify", "audit.prune", "registry.write", "registry.list",
  "registry.delete", "registry.resolve", "registry.read", "registry.export", "registry.test", "git.credential",
  "admin.backup", "admin.rotate-root", "auth.refused", "auth.login", "role.create", "role.read", "role.delete",
  "secret.metadata", "secret.version.delete", "secret.version.undelete", "secret.version.destroy",
  "namespace.kv-config", "init"];

/// Who a workload's token stands for (subject and recorded claims), or why its login failed.
function identityText(e) {
  const id = e.identity || {};
  const parts = e.reason ? [`refused: ${e.reason}`] : [];
  if (id.sub) parts.push(id.sub);
  for (const [k, v] of Object.entries(id.claims || {})) parts.push(`${k}=${v}`);
  return parts.join(" ");
}
const AUDIT_OUTCOMES = ["ok", "unauthenticated", "denied", "not_found", "conflict", "invalid", "error"];

/// The filters as query parameters (empty ones left out).
function auditFilters() {
  const pairs = [["action", $("af-action").value], ["outcome", $("af-outcome").value],
    ["name", $("af-name").value.trim()], ["token", $("af-token").value.trim()]];
  return pairs.filter(([, v]) => v).map(([k, v]) => `&${k}=${seg(v)}`).join("");
}

async function loadAudit(before) {
  const cursor = before ? `&before=${seg(String(before))}` : "";
  const got = await api("GET", `/v1/audit?namespace=${seg(state.namespace)}&limit=100${auditFilters()}${cursor}`);
  const rows = got.events.map((e) =>
    el("tr", {}, el("td", { text: when(e.at) }), el("td", { text: e.action }), el("td", { text: e.name || "" }),
      el("td", { text: e.outcome }), el("td", { text: e.token_id || "" }), el("td", { text: e.context || "" }),
      el("td", { text: e.client_cert || "" }), el("td", { text: e.client_addr || "" }),
      el("td", { text: identityText(e) })));
  if (before) $("audit-rows").append(...rows);
  else $("audit-rows").replaceChildren(...rows);
  const older = $("audit-older");
  older.hidden = !got.next;
  older.onclick = got.next ? () => guard(() => loadAudit(got.next)) : null;
}

// --- wiring ----------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    guard(() => signIn($("token").value.trim()));
  });
  $("sign-out").addEventListener("click", () => signOut());
  for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => showTab(b.dataset.tab));
  $("namespace").addEventListener("change", () => {
    clearPage();
    state.namespace = $("namespace").value;
    showTab(state.tab);
  });
  $("filter").addEventListener("input", renderSecrets);
  for (const [id, values] of [["af-action", AUDIT_ACTIONS], ["af-outcome", AUDIT_OUTCOMES]]) {
    $(id).append(...values.map((v) => el("option", { value: v, text: v })));
  }
  $("audit-filters").addEventListener("change", () => guard(() => loadAudit()));
  $("audit-filters").addEventListener("submit", (e) => {
    e.preventDefault();
    guard(() => loadAudit());
  });
  $("new-secret").addEventListener("click", () => openSecretForm(null));
  $("secret-cancel").addEventListener("click", () => { $("secret-form").reset(); $("secret-form").hidden = true; });
  $("s-type").addEventListener("change", showTypeFields);
  $("secret-form").addEventListener("submit", (e) => guard(() => saveSecret(e)));
  $("versions-close").addEventListener("click", () => { $("versions").hidden = true; });
  $("reg-scope").addEventListener("change", () => { $("registry-form").hidden = true; guard(loadRegistries); });
  $("new-registry").addEventListener("click", () => { $("registry-form").reset(); $("registry-form").hidden = false; $("r-url").focus(); });
  $("registry-cancel").addEventListener("click", () => { $("registry-form").reset(); $("registry-form").hidden = true; });
  $("registry-form").addEventListener("submit", (e) => guard(() => saveRegistry(e)));
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) guard(() => signIn(saved));
});
