"""The settings page in a real browser (Debian's Chromium, driven by
Playwright): sign in, each secret type, list, folders, filter, reveal and
hide, rotate, versions, delete, registries create/test/delete, the audit
tab, and the XSS case. Screenshots of each page go to SHOTS.

    ui_browser.py BASE_URL TOKEN SHOTS_DIR REGISTRY_HOST [SPKI_SHA256]

With an https:// BASE_URL, Chromium trusts exactly the server certificate
whose public key hash is SPKI_SHA256 (--ignore-certificate-errors-spki-list),
never every certificate; a second browser without that flag must fail to
load the page.

Exits non-zero with a message on the first failed expectation.
"""
import sys

from playwright.sync_api import expect, sync_playwright

base, token, shots, registry = sys.argv[1:5]
spki = sys.argv[5] if len(sys.argv) > 5 else None
XSS = "<script>window.__pwned = 1</script><img src=x onerror=window.__pwned=2>"
errors = []

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def goto(page, url):
    """page.goto, tried again when Chromium reports ERR_NETWORK_CHANGED: other
    tests running beside this one (podman's networks) change the machine's
    interfaces, and Chromium then aborts navigations in flight. Any other
    error is raised at once."""
    for attempt in range(5):
        try:
            return page.goto(url)
        except Exception as e:  # noqa: BLE001 (Playwright raises its own Error)
            if "ERR_NETWORK_CHANGED" not in str(e) or attempt == 4:
                raise
            print(f"navigation interrupted by a network change; trying again: {e}", file=sys.stderr)
            page.wait_for_timeout(500)


with sync_playwright() as p:
    if spki:
        # Without trusting the certificate, the browser does not load the page.
        untrusting = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        try:
            goto(untrusting.new_page(), f"{base}/ui/")
            sys.exit("the page loaded over TLS without trusting the test certificate")
        except Exception as e:  # noqa: BLE001 (Playwright raises its own Error)
            if "ERR_CERT" not in str(e):
                sys.exit(f"expected a certificate error, got: {e}")
        untrusting.close()
        FLAGS.append(f"--ignore-certificate-errors-spki-list={spki}")
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def shot(name):
        page.screenshot(path=f"{shots}/{name}.png", full_page=True)

    response = goto(page, f"{base}/ui/")
    if spki:
        assert page.evaluate("location.protocol") == "https:", page.url
        hsts = response.headers.get("strict-transport-security", "")
        assert hsts.startswith("max-age="), f"no Strict-Transport-Security: {response.headers}"
    expect(page.locator("#ns-picker")).to_be_hidden()
    shot("01-sign-in")
    # A wrong token is refused in plain words.
    page.fill("#token", "hush_0000000000000000_wrong")
    page.click("#signin-form button")
    expect(page.locator("#error")).to_contain_text("not valid")
    page.fill("#token", token)
    page.click("#signin-form button")
    expect(page.locator("#tabs")).to_be_visible()
    assert "hush_" not in page.url, "the token is in the URL"
    assert page.evaluate("sessionStorage.getItem('hush-token')") == token
    expect(page.locator("#namespace option")).to_have_count(2)
    assert page.input_value("#token") == "", "the token stays in the sign-in field"

    def new_secret(name, kind, fill):
        page.click("#new-secret")
        page.fill("#s-name", name)
        page.select_option("#s-type", kind)
        fill()
        page.click("#secret-form button[type=submit]")
        expect(page.locator("#notice")).to_contain_text(f"Saved {name}")

    new_secret("app/db/password", "generic", lambda: page.fill("#s-value", "UI-line-one\nUI-line-two"))
    new_secret("forge", "git", lambda: (page.fill("#s-git-user", "bot"), page.fill("#s-git-token", "UI-git-token")))
    new_secret("pull", "registry", lambda: (page.fill("#s-reg-user", "puller"), page.fill("#s-reg-password", "UI-reg-pw"),
                                           page.fill("#s-reg-server", "ghcr.io")))
    # A file upload keeps its bytes.
    page.click("#new-secret")
    page.fill("#s-name", "cert")
    page.set_input_files("#s-file", files=[{"name": "cert.bin", "mimeType": "application/octet-stream", "buffer": b"\x00\x01UI-file\xff"}])
    page.click("#secret-form button[type=submit]")
    expect(page.locator("#notice")).to_contain_text("Saved cert")
    # The form checks names as the server does.
    page.click("#new-secret")
    page.fill("#s-name", "bad name")
    page.click("#secret-form button[type=submit]")
    expect(page.locator("#error")).to_contain_text("Use letters, digits")
    page.click("#secret-cancel")
    # Creating over an existing secret is refused; rotating is the way.
    page.click("#new-secret")
    page.fill("#s-name", "forge")
    page.select_option("#s-type", "git")
    page.fill("#s-git-user", "x")
    page.fill("#s-git-token", "UI-overwrite")
    page.click("#secret-form button[type=submit]")
    expect(page.locator("#error")).to_contain_text("exists already")
    page.click("#secret-cancel")
    # XSS: as a name is impossible (the name rules), so as a value and in a folder-less name.
    new_secret("xss", "generic", lambda: page.fill("#s-value", XSS))

    # The list: sorted, with a folder; values are not in it.
    rows = page.locator("#secret-rows tr")
    expect(rows.first).to_contain_text("app/")
    listed = page.locator("#secret-rows").inner_text()
    assert "UI-" not in listed and "<script>" not in listed, listed
    shot("02-secrets")
    page.click(".folder:has-text('app/')")
    page.click(".folder:has-text('db/')")
    expect(page.locator("#crumbs")).to_contain_text("app")
    row = page.locator("tr[data-name='app/db/password']")
    row.locator("text=Reveal").click()
    expect(row.locator("pre.revealed")).to_have_text("UI-line-one\nUI-line-two")
    shot("03-revealed")
    row.locator("text=Hide").click()
    expect(row.locator("pre.revealed")).to_have_count(0)
    # Rotate, then versions.
    row.locator("text=Rotate").click()
    page.fill("#s-value", "UI-rotated")
    page.click("#secret-form button[type=submit]")
    expect(page.locator("#notice")).to_contain_text("version 2")
    page.locator("tr[data-name='app/db/password']").locator("text=Versions").click()
    expect(page.locator("#version-rows tr")).to_have_count(2)
    shot("04-versions")
    page.click("#versions-close")
    page.locator("#crumbs button").first.click()

    # Filter.
    page.fill("#filter", "pul")
    expect(page.locator("#secret-rows tr")).to_have_count(1)
    page.fill("#filter", "")

    # The XSS value revealed is text; nothing ran.
    xss_row = page.locator("tr[data-name='xss']")
    xss_row.locator("text=Reveal").click()
    expect(xss_row.locator("pre.revealed")).to_have_text(XSS)
    assert page.evaluate("window.__pwned") is None, "a value ran as script"
    assert page.locator("#secret-rows img").count() == 0
    shot("05-xss-is-text")

    # Typed values reveal as fields.
    forge = page.locator("tr[data-name='forge']")
    forge.locator("text=Reveal").click()
    expect(forge.locator("pre.revealed")).to_contain_text("token: UI-git-token")

    # The confirmation's focus is on Cancel: Enter keeps the secret.
    page.locator("tr[data-name='cert']").locator("text=Delete").click()
    expect(page.locator("#confirm")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#confirm")).to_be_hidden()
    expect(page.locator("tr[data-name='cert']")).to_have_count(1)
    # Another namespace shows only its own secrets; nothing revealed stays.
    page.select_option("#namespace", "team")
    expect(page.locator("#secrets-empty")).to_be_visible()
    assert page.locator("pre.revealed").count() == 0
    page.select_option("#namespace", "default")
    expect(page.locator("tr[data-name='forge']")).to_have_count(1)
    # Delete with a confirmation.
    page.locator("tr[data-name='pull']").locator("text=Delete").click()
    expect(page.locator("#confirm")).to_be_visible()
    page.click("#confirm-yes")
    expect(page.locator("#notice")).to_contain_text("Deleted pull")
    expect(page.locator("tr[data-name='pull']")).to_have_count(0)

    # Registries.
    page.click(".tab[data-tab=registries]")
    page.click("#new-registry")
    page.fill("#r-url", f"http://{registry}")
    page.fill("#r-user", "alice")
    page.fill("#r-password", "UI-registry-pw")
    page.click("#registry-form button[type=submit]")
    entry = page.locator(f"tr[data-url='http://{registry}']")
    expect(entry).to_contain_text("al***ce")
    assert "UI-registry-pw" not in page.locator("#registry-rows").inner_text()
    entry.locator("text=Test connection").click()
    expect(entry).to_contain_text("ok")
    shot("06-registries")
    page.select_option("#reg-scope", "global")
    expect(page.locator("#registries-empty")).to_be_visible()
    page.select_option("#reg-scope", "ns")
    page.locator(f"tr[data-url='http://{registry}']").locator("text=Delete").click()
    page.click("#confirm-yes")
    expect(page.locator("#registries-empty")).to_be_visible()

    # Audit.
    page.click(".tab[data-tab=audit]")
    expect(page.locator("#audit-rows")).to_contain_text("secret.read")
    audit_text = page.locator("#audit-rows").inner_text()
    assert "UI-" not in audit_text, audit_text
    # More than a page of events: older ones load on request.
    expect(page.locator("#audit-older")).to_be_visible()
    first_page = page.locator("#audit-rows tr").count()
    page.click("#audit-older")
    expect(page.locator("#audit-rows tr")).not_to_have_count(first_page)
    assert page.locator("#audit-rows tr").count() > first_page
    shot("07-audit")
    # The filters narrow the log: only reads, then only a name's events.
    page.select_option("#af-action", "secret.read")
    expect(page.locator("#audit-rows tr").first).to_contain_text("secret.read")
    actions = page.locator("#audit-rows tr td:nth-child(2)").all_inner_texts()
    assert actions and set(actions) == {"secret.read"}, actions
    page.fill("#af-name", "no-such-secret")
    page.press("#af-name", "Enter")
    expect(page.locator("#audit-rows tr")).to_have_count(0)
    page.fill("#af-name", "")
    page.select_option("#af-action", "")
    page.press("#af-name", "Enter")
    expect(page.locator("#audit-rows tr").first).to_be_visible()

    # Signing out clears the page, and an answer that arrives after it is
    # dropped: the list asked for just before signing out (held back here
    # until then) does not come back.
    held = []

    def audit_list(url):
        return "/v1/audit?" in url

    page.route(audit_list, lambda route: held.append(route))
    page.select_option("#af-action", "secret.read")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the page asked for the audit list again"
    page.click("#sign-out")
    expect(page.locator("#audit-rows tr")).to_have_count(0)
    with page.expect_response(lambda response: audit_list(response.url)) as answered:
        held[0].continue_()
    assert answered.value.ok
    page.wait_for_timeout(300)
    page.unroute(audit_list)
    assert page.locator("#audit-rows tr").count() == 0 and page.locator("#secret-rows tr").count() == 0
    expect(page.locator("#signin")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('hush-token')") is None
    page.focus("#token")
    page.keyboard.type(token)
    page.keyboard.press("Enter")
    expect(page.locator("#tabs")).to_be_visible()

    browser.close()

csp_errors = [e for e in errors if "Content Security Policy" in e]
if csp_errors:
    sys.exit(f"the page broke its own policy: {csp_errors}")
print("ui ok")
