"""The operator's dashboard page in headless Chromium against `parkctl serve`.

Usage: dashboard_check.py PARKCTL OUT_DIR

Starts `parkctl serve` with two simulated demo lots, opens the page as an
operator of demo-1 (over Selenium and Debian's chromedriver) and checks:
every figure on the page equals the operator API's; nothing of demo-2
reaches the page and the API refuses demo-2 to this operator; the page
speaks Japanese and English; resolving a review from the page goes
through the API; the browser logged no console error (the page runs under
its content security policy); the page is served with its security
headers, and a request naming another host is refused. Screenshots go to
OUT_DIR. Exits non-zero with the first difference.
"""

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


def start_serve(parkctl, log):
    serve = subprocess.Popen(
        [parkctl, "serve", "--addr", "127.0.0.1:0", "--dev-claims", "--lots", "2", "--days", "3"],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    line = serve.stdout.readline().strip()
    if not line.startswith("http://"):
        serve.kill()
        fail(f"parkctl serve did not start (said {line!r})")
    return serve, line


def api(url, path, claims, method="GET"):
    request = urllib.request.Request(
        url + path,
        method=method,
        headers={"Authorization": "Bearer " + json.dumps(claims), "Accept": "application/json"},
    )
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
    serve, url = start_serve(parkctl, log)
    # The page comes with its security headers, and a request naming
    # another host (DNS rebinding) is refused.
    with urllib.request.urlopen(url + "/", timeout=30) as response:
        csp = response.headers.get("content-security-policy", "")
        if "frame-ancestors 'none'" not in csp or "script-src 'self'" not in csp:
            fail(f"the page's content security policy is {csp!r}")
        if not response.headers.get("strict-transport-security", "").startswith("max-age="):
            fail("the page is served without HSTS")
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
        token = json.dumps(OPERATOR_A)
        driver.get(f"{url}/#lang=en&token={urllib.parse.quote(token)}")
        loaded_after(driver, 0)

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

        errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        if errors:
            fail(f"the browser logged errors: {errors}")
        print(f"dashboard check: ok ({url}; screenshots in {out})")
    finally:
        if driver is not None:
            driver.quit()
        serve.kill()
        serve.wait()
        log.close()


if __name__ == "__main__":
    main()
