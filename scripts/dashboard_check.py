"""The operator's dashboard page in headless Chromium against `parkctl serve`.

Usage: dashboard_check.py PARKCTL OUT_DIR

Starts `parkctl serve` with two simulated demo lots, opens the page as an
operator of demo-1 (over Selenium and Debian's chromedriver) and checks:
every figure on the page equals the operator API's, the price suggestion
and each webhook subscription's health too (one is subscribed through the
API, and its secret never reaches the page; shown switched off, then with
missed events, its Switch on and Replay buttons post to their routes);
nothing of demo-2
reaches the page and the API refuses demo-2 to this operator; the page
speaks Japanese and English; resolving a review from the page goes
through the API; the browser logged no console error (the page runs under
its content security policy); the page is served with its security
headers, and a request naming another host is refused; and staff sign in
through an OAuth 2.0 service (authorization code with PKCE, as Cognito's
hosted UI), played here by a small server that checks what the page sends:
the S256 challenge against the verifier, the state, the redirect address,
one exchange per code; a returning address with a foreign state is
refused without an exchange; signing out goes through the service's
logout. Screenshots go to OUT_DIR. Exits non-zero with the first
difference.
"""

import base64
import hashlib
import http.server
import secrets
import threading

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

OPERATOR_A = {"sub": "op-a", "cognito:groups": "operator", "custom:scopes": "operator:demo-1"}
OPERATOR_B_LOT = "demo-2"


def fail(message):
    print(f"dashboard check: {message}", file=sys.stderr)
    sys.exit(1)


CLIENT_ID = "dashboard-check"


class SignInService(http.server.ThreadingHTTPServer):
    """The hosted sign-in's three endpoints, strict about what a public
    client must send; it signs in OPERATOR_A."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), SignInHandler)
        self.codes = {}  # code -> (challenge, redirect_uri)
        self.exchanged = 0
        self.problems = []
        self.logouts = 0

    @property
    def base(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class SignInHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def refuse(self, why):
        self.server.problems.append(why)
        self.send_response(400)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"error": "invalid_request", "why": why}).encode())

    def redirect(self, to):
        self.send_response(302)
        self.send_header("Location", to)
        self.end_headers()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/oauth2/authorize":
            want = {"response_type": "code", "client_id": CLIENT_ID, "code_challenge_method": "S256"}
            for k, v in want.items():
                if q.get(k) != v:
                    return self.refuse(f"authorize: {k} is {q.get(k)!r}")
            challenge = q.get("code_challenge", "")
            if len(challenge) != 43 or not q.get("state") or "openid" not in q.get("scope", ""):
                return self.refuse(f"authorize: challenge, state or scope missing: {sorted(q)}")
            code = secrets.token_urlsafe(16)
            self.server.codes[code] = (challenge, q.get("redirect_uri"))
            sep = "&" if "?" in q["redirect_uri"] else "?"
            state = urllib.parse.quote(q["state"])
            return self.redirect(f"{q['redirect_uri']}{sep}code={code}&state={state}")
        if url.path == "/logout":
            if q.get("client_id") != CLIENT_ID or not q.get("logout_uri"):
                return self.refuse(f"logout: {sorted(q)}")
            self.server.logouts += 1
            return self.redirect(q["logout_uri"])
        self.refuse(f"no such page {url.path}")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        if urllib.parse.urlsplit(self.path).path != "/oauth2/token":
            return self.refuse("no such endpoint")
        if form.get("grant_type") != "authorization_code" or form.get("client_id") != CLIENT_ID:
            return self.refuse(f"token: {form.get('grant_type')!r} for {form.get('client_id')!r}")
        found = self.server.codes.pop(form.get("code", ""), None)
        if found is None:
            return self.refuse("token: a code not issued, or used before")
        challenge, redirect_uri = found
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if digest != challenge:
            return self.refuse("token: the verifier does not match the challenge")
        if form.get("redirect_uri") != redirect_uri:
            return self.refuse("token: another redirect_uri than the authorization's")
        self.server.exchanged += 1
        body = json.dumps({
            "id_token": json.dumps(OPERATOR_A),
            "access_token": "unused",
            "token_type": "Bearer",
            "expires_in": 3600,
        }).encode()
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def start_serve(parkctl, log, sign_in):
    serve = subprocess.Popen(
        [parkctl, "serve", "--addr", "127.0.0.1:0", "--dev-claims", "--lots", "2", "--days", "3",
         "--sign-in", sign_in.base, "--sign-in-client", CLIENT_ID],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    line = serve.stdout.readline().strip()
    if not line.startswith("http://"):
        serve.kill()
        fail(f"parkctl serve did not start (said {line!r})")
    return serve, line


def api(url, path, claims, method="GET", body=None):
    headers = {"Authorization": "Bearer " + json.dumps(claims), "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None


def browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1400,1800",
    ]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def loaded_after(driver, since):
    def ready(d):
        value = d.find_element(By.ID, "lots").get_attribute("data-loaded")
        return value is not None and int(value) > since

    WebDriverWait(driver, 60).until(ready)


def figures(card):
    return {
        e.get_attribute("data-figure"): e.get_attribute("data-value")
        for e in card.find_elements(By.CSS_SELECTOR, "[data-figure]")
    }


def expected(d):
    a, r = d["availability"], d["today"]
    return {
        "occupied": str(a["occupied"]),
        "free": str(a["free"]),
        "unknown": str(a["unknown"]),
        "free_estimate": str(a["free_estimate"]),
        "degraded": "true" if a["degraded"] else "false",
        "offline": str(len(a["offline_devices"])),
        "entries": str(r["entries"]),
        "exits": str(r["exits"]),
        "revenue": str(r["revenue"]),
        "card_failed": str(r["card_failed"]),
        "reviews": str(d["reviews"]["count"]),
        "payment_failures": str(d["payment_failures"]["count"]),
    }


def compare(driver, url):
    """The page's figures against the API's, read right after it."""
    card = driver.find_element(By.CSS_SELECTOR, "[data-lot='demo-1']")
    shown = figures(card)
    status, d = api(url, "/v1/operator/lots/demo-1/dashboard", OPERATOR_A)
    if status != 200:
        fail(f"the dashboard API answered {status}")
    want = expected(d)
    bars = [
        (int(b.get_attribute("data-hour")), float(b.get_attribute("data-occupied")))
        for b in card.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar")
    ]
    want_bars = [(i, float(h["occupied"])) for i, h in enumerate(d["hours"]) if h["occupied"] is not None]
    lines = card.find_elements(By.CSS_SELECTOR, "svg.chart polyline.line")
    forecast_hours = int(lines[0].get_attribute("data-forecast-hours")) if lines else 0
    want_forecast = sum(1 for h in d["hours"] if h["forecast"] is not None)
    rows = len(card.find_elements(By.CSS_SELECTOR, "tr[data-session]"))
    want_rows = len(d["reviews"]["items"]) + len(d["payment_failures"]["items"])
    got = (shown, bars, forecast_hours, rows)
    return got == (want, want_bars, want_forecast, want_rows), got, (want, want_bars, want_forecast, want_rows), d


def main():
    if len(sys.argv) != 3:
        fail("usage: dashboard_check.py PARKCTL OUT_DIR")
    parkctl, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    log = open(os.path.join(out, "dashboard-serve.log"), "w")
    sign_in = SignInService()
    threading.Thread(target=sign_in.serve_forever, daemon=True).start()
    serve, url = start_serve(parkctl, log, sign_in)
    # The page comes with its security headers, and a request naming
    # another host (DNS rebinding) is refused.
    with urllib.request.urlopen(url + "/", timeout=30) as response:
        csp = response.headers.get("content-security-policy", "")
        if "frame-ancestors 'none'" not in csp or "script-src 'self'" not in csp:
            fail(f"the page's content security policy is {csp!r}")
        if not response.headers.get("strict-transport-security", "").startswith("max-age="):
            fail("the page is served without HSTS")
        if f"connect-src 'self' {sign_in.base};" not in csp:
            fail(f"the page may not reach its sign-in service: {csp!r}")
    port = urllib.parse.urlsplit(url).port
    rebound = urllib.request.Request(url + "/openapi.json", headers={"Host": f"attacker.example:{port}"})
    try:
        urllib.request.urlopen(rebound, timeout=30)
        fail("parkctl serve answered a request for another host")
    except urllib.error.HTTPError as e:
        if e.code != 421:
            fail(f"a request for another host got {e.code}, not 421")
    profile = tempfile.mkdtemp(prefix="dashboard-chromium-")
    driver = None
    try:
        driver = browser(profile)
        # A token in a link does not sign in where there is a sign-in
        # service (a link could sign staff in as someone else), and leaves
        # the address.
        token = json.dumps(OPERATOR_A)
        driver.get(f"{url}/#lang=en&token={urllib.parse.quote(token)}")
        WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "sign-in").is_displayed())
        if "token=" in driver.current_url or driver.find_elements(By.CSS_SELECTOR, "[data-lot]"):
            fail("a token in the address signed in despite the sign-in service")
        if driver.find_element(By.ID, "token").is_displayed():
            fail("with a sign-in service the page still asks for a token")

        # Signing in: to the service with an S256 challenge, back with a
        # code, exchanged with its verifier; the page then shows the lots.
        driver.find_element(By.CSS_SELECTOR, "#sign-in button[type=submit]").click()
        loaded_after(driver, 0)
        if sign_in.problems:
            fail(f"the sign-in service refused the page: {sign_in.problems}")
        if sign_in.exchanged != 1:
            fail(f"{sign_in.exchanged} code exchange(s) for one sign-in")
        if "code=" in driver.current_url:
            fail(f"the code stays in the address: {driver.current_url}")

        # The page's figures are the API's (read again if a minute turned
        # over between the two reads).
        for attempt in range(3):
            same, got, want, board = compare(driver, url)
            if same:
                break
            since = int(driver.find_element(By.ID, "lots").get_attribute("data-loaded"))
            driver.execute_script("refresh()")
            loaded_after(driver, since)
        else:
            fail(f"the page shows {got}, the API says {want}")
        if board["availability"]["occupied"] + board["availability"]["free"] == 0:
            fail("the seeded lot shows no bays at all")
        if not any(h["forecast"] is not None for h in board["hours"]):
            fail("the seeded lot has no forecast for today")
        if board["reviews"]["count"] == 0:
            fail("the seeded lot has nothing to review, so resolving is not shown")

        # The price suggestion is the API's, band by band, and says
        # nothing is applied until an operator schedules it.
        status, suggested = api(url, "/v1/operator/lots/demo-1/pricing/suggestion", OPERATOR_A)
        if status != 200:
            fail(f"the price suggestion answered {status}")
        card = driver.find_element(By.CSS_SELECTOR, "[data-lot='demo-1']")
        shown = [(r.get_attribute("data-band"), r.get_attribute("data-decision"))
                 for r in card.find_elements(By.CSS_SELECTOR, "tr[data-band]")]
        want = [(str(b["band"]), b["decision"]) for b in suggested["bands"]]
        if shown != want or not want:
            fail(f"the page shows the price suggestion {shown}, the API says {want}")
        state = card.find_element(By.CSS_SELECTOR, "[data-pricing]").get_attribute("data-pricing")
        if state != ("changes" if suggested["changes"] else "held"):
            fail(f"the price suggestion is shown as {state!r}")

        # The unpaid register is the API's first page: the same stays (of
        # the demo operator's lots in the operator's scope), or none.
        status, register = api(url, "/v1/operator/lots/demo-1/unpaid", OPERATOR_A)
        if status != 200:
            fail(f"the unpaid register answered {status}")
        card = driver.find_element(By.CSS_SELECTOR, "[data-lot='demo-1']")
        shown = sorted((r.get_attribute("data-debt"), r.get_attribute("data-amount"))
                       for r in card.find_elements(By.CSS_SELECTOR, "tr[data-debt]"))
        want = sorted((d["session_id"], str(d["amount"]["amount"])) for d in register["items"])
        if any(d["lot_id"] != "demo-1" for d in register["items"]):
            fail("the register shows stays of a lot outside the operator's scope")
        if not want and not card.find_elements(By.CSS_SELECTOR, "[data-unpaid='none']"):
            fail("the page does not say the register is empty")
        if shown != want:
            fail(f"the page shows the unpaid register {shown}, the API says {want}")
        print(f"unpaid register: {len(want)} stay(s) shown")

        # Webhook health is the API's: none, then the one subscribed.
        card = driver.find_element(By.CSS_SELECTOR, "[data-lot='demo-1']")
        if not card.find_elements(By.CSS_SELECTOR, "[data-webhooks='none']"):
            fail("the page does not say demo-1 has no webhooks")
        status, made = api(url, "/v1/operator/lots/demo-1/webhooks", OPERATOR_A, "POST",
                           {"url": "https://ops.example.com/hooks", "events": ["stay.closed", "lot.full"]})
        if status != 201 or not made["secret"].startswith("whsec_"):
            fail(f"subscribing a webhook answered {status}")
        since = int(driver.find_element(By.ID, "lots").get_attribute("data-loaded"))
        driver.execute_script("refresh()")
        loaded_after(driver, since)
        card = driver.find_element(By.CSS_SELECTOR, "[data-lot='demo-1']")
        shown = [(r.get_attribute("data-webhook"), r.get_attribute("data-enabled"),
                  r.get_attribute("data-failures"), r.get_attribute("data-missed"))
                 for r in card.find_elements(By.CSS_SELECTOR, "tr[data-webhook]")]
        status, listed = api(url, "/v1/operator/lots/demo-1/webhooks", OPERATOR_A)
        want = [(h["id"], str(h["enabled"]).lower(), str(h["failures"]), str(len(h["missed"])))
                for h in listed["items"]]
        if shown != want or [w[0] for w in want] != [made["id"]]:
            fail(f"the page shows the webhooks {shown}, the API says {want}")
        if made["secret"] in driver.page_source:
            fail("a webhook's secret reaches the page")
        if card.find_elements(By.CSS_SELECTOR, "[data-webhook-enable], [data-webhook-replay]"):
            fail("a healthy webhook with nothing missed offers an action")
        # Its buttons call the routes: the page is shown the subscription
        # switched off (its listing answered so in the page), then with
        # missed events; each button posts to its route and the page reads
        # the lot again.
        driver.execute_script("""
            const real = window.fetch;
            window.__posts = [];
            window.__shape = "off";
            window.fetch = async (path, options = {}) => {
              if ((options.method || "GET") === "POST") window.__posts.push(String(path));
              const response = await real(path, options);
              if (String(path).endsWith("/webhooks") && (options.method || "GET") === "GET") {
                const body = await response.json();
                for (const h of body.items) {
                  if (window.__shape === "off") { h.enabled = false; h.failures = 10; }
                  else { h.missed = ["stay.closed/s-demo"]; }
                }
                return new Response(JSON.stringify(body),
                  { status: 200, headers: { "content-type": "application/json" } });
              }
              return response;
            };
        """)
        for shape, action in [("off", "enable"), ("missed", "replay")]:
            driver.execute_script(f"window.__shape = {json.dumps(shape)};")
            since = int(driver.find_element(By.ID, "lots").get_attribute("data-loaded"))
            driver.execute_script("refresh()")
            loaded_after(driver, since)
            card = driver.find_element(By.CSS_SELECTOR, "[data-lot='demo-1']")
            buttons = card.find_elements(By.CSS_SELECTOR, f"[data-webhook-{action}='{made['id']}']")
            if len(buttons) != 1:
                fail(f"the page offers no {action} for a webhook that needs it")
            since = int(driver.find_element(By.ID, "lots").get_attribute("data-loaded"))
            buttons[0].click()
            loaded_after(driver, since)
            posts = driver.execute_script("return window.__posts;")
            want = f"/v1/operator/lots/demo-1/webhooks/{made['id']}/{action}"
            if not posts or posts[-1] != want:
                fail(f"the {action} button posted {posts}, not {want}")
        driver.execute_script("window.__shape = 'real';")

        # Lot isolation: one card, demo-1's, and nothing of demo-2.
        cards = [c.get_attribute("data-lot") for c in driver.find_elements(By.CSS_SELECTOR, "[data-lot]")]
        if cards != ["demo-1"]:
            fail(f"the operator of demo-1 sees the lots {cards}")
        if OPERATOR_B_LOT in driver.page_source:
            fail("demo-2 appears on demo-1's operator's page")
        status, _ = api(url, f"/v1/operator/lots/{OPERATOR_B_LOT}/dashboard", OPERATOR_A)
        if status != 403:
            fail(f"the API answered {status} to demo-1's operator asking for demo-2")
        status, other = api(url, f"/v1/operator/lots/{OPERATOR_B_LOT}/dashboard",
                            {**OPERATOR_A, "custom:scopes": f"operator:{OPERATOR_B_LOT}"})
        if status != 200 or other["lot"]["id"] != OPERATOR_B_LOT:
            fail("demo-2's own operator cannot read demo-2")
        driver.save_screenshot(os.path.join(out, "dashboard-en.png"))

        # Japanese.
        since = int(driver.find_element(By.ID, "lots").get_attribute("data-loaded"))
        driver.find_element(By.ID, "lang-ja").click()
        loaded_after(driver, since)
        if driver.find_element(By.TAG_NAME, "html").get_attribute("lang") != "ja":
            fail("the page did not switch to Japanese")
        heading = driver.find_element(By.TAG_NAME, "h1").text
        if "駐車場" not in heading:
            fail(f"the Japanese heading reads {heading!r}")
        labels = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "[data-lot='demo-1'] dt")]
        if "駐車中" not in labels or "売上" not in labels:
            fail(f"the Japanese labels read {labels}")
        same, got, want, _ = compare(driver, url)
        if not same:
            fail(f"in Japanese the page shows {got}, the API says {want}")
        driver.save_screenshot(os.path.join(out, "dashboard-ja.png"))

        # Resolve the first review from the page: the API records it.
        before = board["reviews"]["count"]
        button = driver.find_element(By.CSS_SELECTOR, "[data-lot='demo-1'] button[data-resolve]")
        session = button.get_attribute("data-resolve")
        button.click()
        Select(driver.find_element(By.ID, "resolve-action")).select_by_value("void")
        driver.find_element(By.ID, "resolve-note").send_keys("checked the camera footage")
        since = int(driver.find_element(By.ID, "lots").get_attribute("data-loaded"))
        driver.find_element(By.ID, "resolve-send").click()
        loaded_after(driver, since)
        status, s = api(url, f"/v1/operator/lots/demo-1/sessions/{session}", OPERATOR_A)
        if status != 200 or s["resolution"] != "voided":
            fail(f"the session resolved from the page reads {status} {s}")
        same, got, want, after = compare(driver, url)
        if not same or after["reviews"]["count"] != before - 1:
            fail(f"after resolving the page shows {got}, the API says {want}")

        # Signing out goes through the service's logout and back.
        driver.find_element(By.ID, "sign-out").click()
        WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "sign-in").is_displayed())
        if sign_in.logouts != 1:
            fail(f"signing out reached the service's logout {sign_in.logouts} time(s)")

        # A return with a state this page never sent is refused, and no
        # code is exchanged.
        driver.get(f"{url}/?code=forged&state=forged#lang=en")
        WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "problem").is_displayed())
        if "code=" in driver.current_url or sign_in.exchanged != 1:
            fail(f"a forged return was taken ({driver.current_url}, {sign_in.exchanged} exchange(s))")
        if driver.find_elements(By.CSS_SELECTOR, "[data-lot]"):
            fail("a forged return signed in")

        errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        if errors:
            fail(f"the browser logged errors: {errors}")
        print(f"dashboard check: ok ({url}; screenshots in {out})")
    finally:
        if driver is not None:
            driver.quit()
        serve.kill()
        serve.wait()
        sign_in.shutdown()
        log.close()


if __name__ == "__main__":
    main()
