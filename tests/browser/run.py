"""The browser suite of issue 18: headless Chromium (Debian's chromium and
chromium-driver, through Selenium) drives the pages of a running prickle.

Started by scripts/browser_check.sh, which starts the server (scripts/ci_server.sh)
with SITE_URL, EMAIL_HOST and EMAIL_PORT set; this script starts the SMTP sink on
EMAIL_PORT that catches the invite email.

The scenario: a wrong password shows the error; an owner (made with
`prickle admin create-user --password`) logs in, creates a project, changes its
timezone, invites a person; the browser follows the emailed link, sets a
password; the new member logs in and sees the project; the owner makes a member
an admin and removes another, creates a personal API key in the page and the key
works with urllib; a member does not see the controls an admin has. Then every
page: axe-core (vendored) with no serious or critical violation, a screenshot at
1280 px and at 360 px under --screenshots, no sideways scrolling at 360 px, and
the bytes a first load (empty cache) transfers at most 100 KB.

Each check prints `ok` or `FAIL`; the last line is `N passed, N failed`; the exit
code is 1 when any failed.
"""

import argparse
import base64
import email
import email.policy
import json
import os
import re
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from aiosmtpd.controller import Controller
from selenium import webdriver
from selenium.common.exceptions import (
    NoAlertPresentException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

HERE = Path(__file__).resolve().parent
AXE_SOURCE = (HERE / "vendor" / "axe.min.js").read_text(encoding="utf-8")

DESKTOP = (1280, 900)
NARROW = (360, 760)
FIRST_LOAD_LIMIT = 100_000  # bytes transferred by a first load ("100 KB")
WAIT = 10  # seconds for anything the page does

NAV_LINKS = [
    "Projects",
    "Members",
    "Invites",
    "API keys",
    "Organization",
    "Legal documents",
    "OAuth applications",
]

PASSWORD = "correct-horse-battery-7"


class CheckFailed(Exception):
    pass


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def ok(self, name, detail=""):
        self.passed += 1
        print(f"ok    {name}{'  ' + detail if detail else ''}", flush=True)

    def fail(self, name, detail):
        self.failed.append(name)
        print(f"FAIL  {name}: {detail}", flush=True)

    def check(self, name, condition, detail=""):
        if condition:
            self.ok(name)
        else:
            self.fail(name, detail or "condition false")
        return condition


# --- the SMTP sink ---------------------------------------------------------


class Sink:
    """Keeps every message the server sends."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def wait_for(self, recipient, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for rcpts, message in self.messages:
                    if recipient in [r.lower() for r in rcpts]:
                        return message
            time.sleep(0.1)
        return None


def body_text(message):
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""


# --- the server, through the admin CLI and plain HTTP -------------------------


class Server:
    def __init__(self, url, binary, database_url):
        self.url = url.rstrip("/")
        self.binary = binary
        self.database_url = database_url

    def admin(self, *args):
        out = subprocess.run(
            [self.binary, "admin", "--database-url", self.database_url, *args],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return json.loads(out) if out.strip().startswith(("{", "[")) else out

    def http(self, method, path, key=None, body=None):
        """(status, parsed body) with a plain HTTP client."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=WAIT) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            raw = error.read()
            status = error.code
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")


# --- the browser -------------------------------------------------------------


def start_browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    driver.execute_cdp_cmd("Network.enable", {})
    return driver


class Browser:
    def __init__(self, driver, server, results, screenshots):
        self.d = driver
        self.server = server
        self.results = results
        self.screenshots = screenshots
        self.viewport(*DESKTOP)

    # navigation and waiting

    def go(self, path):
        self.d.get(self.server.url + path)
        self.settle()
        status = self.d.execute_script(
            "const n = performance.getEntriesByType('navigation')[0]; return n ? n.responseStatus || 0 : 0"
        )
        if status >= 400:
            raise CheckFailed(f"GET {path} answered {status}")

    def path(self):
        parsed = urllib.parse.urlparse(self.d.current_url)
        return parsed.path + (f"?{parsed.query}" if parsed.query else "")

    def settle(self, quiet=0.3, timeout=WAIT):
        """Until the document has loaded and no new resource (fetch included)
        has finished for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        last = -1
        stable_since = time.monotonic()
        while time.monotonic() < deadline:
            try:
                state, count = self.d.execute_script(
                    "return [document.readyState, performance.getEntriesByType('resource').length]"
                )
            except WebDriverException:
                state, count = "loading", -1
            now = time.monotonic()
            if state != "complete" or count != last:
                last = count
                stable_since = now
            elif now - stable_since >= quiet:
                return
            time.sleep(0.05)

    def wait(self, what, condition, timeout=WAIT):
        try:
            return WebDriverWait(
                self.d, timeout, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
            ).until(lambda _d: condition())
        except TimeoutException:
            raise CheckFailed(f"timed out waiting for {what} (at {self.path()})") from None

    def wait_path(self, predicate, what):
        self.wait(what, lambda: predicate(urllib.parse.urlparse(self.d.current_url).path))
        self.settle()

    # finding things as a person does: by label and by visible text

    def field(self, label, scope=None):
        scope = scope or self.d
        for el in scope.find_elements(By.TAG_NAME, "label"):
            # textContent: a visually hidden label (sr-only) has no rendered text
            text = " ".join((el.get_attribute("textContent") or "").split()).rstrip(" *:")
            if text.lower() != label.lower():
                continue
            target = el.get_attribute("for")
            if target:
                found = self.d.find_elements(By.ID, target)
                if found:
                    return found[0]
            inner = el.find_elements(By.CSS_SELECTOR, "input, select, textarea")
            if inner:
                return inner[0]
        for el in scope.find_elements(By.CSS_SELECTOR, "input, select, textarea"):
            if (el.get_attribute("aria-label") or "").strip().lower() == label.lower():
                return el
        raise NoSuchElementException(f'no control labelled "{label}"')

    def has_field(self, label, scope=None):
        try:
            self.field(label, scope)
            return True
        except NoSuchElementException:
            return False

    def buttons(self, text, scope=None):
        scope = scope or self.d
        found = []
        for el in scope.find_elements(By.CSS_SELECTOR, "button, input[type=submit], input[type=button], [role=button]"):
            label = el.text if el.tag_name == "button" or el.get_attribute("role") == "button" else el.get_attribute("value")
            label = " ".join((label or "").split())
            if label.lower() == text.lower() or (el.get_attribute("aria-label") or "").lower() == text.lower():
                found.append(el)
        return found

    def button(self, text, scope=None):
        found = [b for b in self.buttons(text, scope) if b.is_displayed()] or self.buttons(text, scope)
        if not found:
            raise NoSuchElementException(f'no button "{text}"')
        return found[0]

    def fill(self, label, value, scope=None):
        el = self.field(label, scope)
        if el.tag_name == "select":
            choose(el, value)
        else:
            el.clear()
            el.send_keys(value)
        return el

    def click(self, text, scope=None):
        el = self.button(text, scope)
        self.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
        el.click()

    def links(self, text, scope=None):
        scope = scope or self.d
        want = " ".join(text.split())
        return [
            a
            for a in scope.find_elements(By.TAG_NAME, "a")
            if " ".join((a.get_attribute("textContent") or "").split()).startswith(want)
        ]

    def alerts(self):
        return [
            el
            for el in self.d.find_elements(By.CSS_SELECTOR, "[role=alert]")
            if el.is_displayed() and el.text.strip()
        ]

    def accept_confirmation(self, words=("Delete", "Remove", "Revoke", "Confirm", "Yes", "OK")):
        """A window.confirm or an open <dialog> with a confirming button."""
        try:
            WebDriverWait(self.d, 1).until(lambda d: d.switch_to.alert)
            self.d.switch_to.alert.accept()
            return True
        except (TimeoutException, NoAlertPresentException):
            pass
        for dialog in self.d.find_elements(By.CSS_SELECTOR, "dialog[open], [role=dialog], [role=alertdialog]"):
            if not dialog.is_displayed():
                continue
            for word in words:
                found = self.buttons(word, dialog)
                if found:
                    found[0].click()
                    return True
        return False

    # logging in and out

    def login(self, email_address, password, keyboard=False, navigate=True):
        if navigate:
            self.go("/login")
        if keyboard:
            self.login_by_keyboard(email_address, password)
        else:
            self.fill("Email", email_address)
            self.fill("Password", password)
            self.click("Log in")
        self.wait_path(lambda p: p != "/login", "the page after logging in")

    def login_by_keyboard(self, email_address, password):
        body = self.d.find_element(By.TAG_NAME, "body")
        body.click()
        email_input = self.field("Email")
        for _ in range(15):
            if self.d.switch_to.active_element == email_input:
                break
            self.d.switch_to.active_element.send_keys(Keys.TAB)
        else:
            raise CheckFailed("Tab never reaches the Email input")
        self.d.switch_to.active_element.send_keys(email_address, Keys.TAB)
        if self.d.switch_to.active_element != self.field("Password"):
            raise CheckFailed("Tab from Email does not go to Password")
        self.d.switch_to.active_element.send_keys(password, Keys.ENTER)

    def logout(self):
        nav = self.d.find_element(By.TAG_NAME, "nav")
        self.click("Log out", nav)
        self.wait_path(lambda p: p == "/login", "the login page after logging out")

    def forget_session(self):
        self.d.delete_all_cookies()

    # viewports, screenshots, axe, bytes

    def viewport(self, width, height):
        self.d.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
        )

    def screenshot(self, name):
        height = self.d.execute_script(
            "return Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)"
        )
        width = self.d.execute_script("return window.innerWidth")
        shot = self.d.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": min(max(height, 1), 6000), "scale": 1},
            },
        )
        path = self.screenshots / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def axe(self):
        self.d.execute_script(AXE_SOURCE)
        result = self.d.execute_async_script(
            """
            const done = arguments[arguments.length - 1];
            axe.run(document, {resultTypes: ['violations']})
              .then(r => done(r.violations.map(v => ({
                  id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))))
              .catch(e => done({error: String(e)}));
            """
        )
        if isinstance(result, dict) and "error" in result:
            raise CheckFailed(f"axe failed: {result['error']}")
        return result

    def check_page(self, name):
        """axe at both widths, screenshots at both, no sideways scroll at 360 px."""
        r = self.results
        self.settle()
        for label, (width, height) in (("desktop", DESKTOP), ("360", NARROW)):
            self.viewport(width, height)
            self.settle(quiet=0.15)
            try:
                self.screenshot(f"{name}-{label}")
                violations = self.axe()
                serious = [v for v in violations if v["impact"] in ("serious", "critical")]
                r.check(
                    f"axe {name} ({label}): no serious or critical violation",
                    not serious,
                    "; ".join(f"{v['impact']} {v['id']} ({v['help']}) at {v['nodes']}" for v in serious),
                )
                if label == "360":
                    overflow = self.d.execute_script(
                        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
                    )
                    r.check(
                        f"360 px {name}: no sideways scrolling",
                        overflow <= 0,
                        f"the page is {overflow} px wider than the screen",
                    )
            except (WebDriverException, CheckFailed) as error:
                r.fail(f"page checks {name} ({label})", str(error).splitlines()[0])
        self.viewport(*DESKTOP)

    def first_load(self, name, path):
        """Empty the cache, load `path`, add up what crossed the network
        (the document, its resources and the page's own API calls; fonts excluded)."""
        self.d.execute_cdp_cmd("Network.clearBrowserCache", {})
        self.go(path)
        entries = self.d.execute_script(
            """
            const all = performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'));
            return all.map(e => ({name: e.name, type: e.initiatorType || 'navigation',
                                  transfer: e.transferSize || 0, encoded: e.encodedBodySize || 0,
                                  ttfb: e.responseStart - e.requestStart}));
            """
        )
        total = 0
        for e in entries:
            if e["type"] == "css" and re.search(r"\.(woff2?|ttf|otf)(\?|$)", e["name"]):
                continue
            total += max(e["transfer"], e["encoded"])
        server_ms = entries[0]["ttfb"] if entries else -1
        self.results.check(
            f"first load {name}: {total} bytes transferred (limit {FIRST_LOAD_LIMIT})",
            total <= FIRST_LOAD_LIMIT and total > 0,
            f"{total} bytes over {len(entries)} requests: "
            + ", ".join(f"{e['name'].replace(self.server.url, '')} {max(e['transfer'], e['encoded'])}" for e in entries),
        )
        print(f"      {name}: document answered in {server_ms:.1f} ms, {len(entries)} requests", flush=True)
        return total


def choose(select_el, wanted):
    """Pick an option of a <select> by its value or its visible text."""
    select = Select(select_el)
    for index, option in enumerate(select.options):
        if option.get_attribute("value") == str(wanted) or " ".join(option.text.split()).lower() == str(wanted).lower():
            # by index: an option without a value attribute takes its text as value
            select.select_by_index(index)
            return
    raise NoSuchElementException(
        f"no option {wanted!r} in {[o.text for o in select.options]}"
    )


# --- the scenario ------------------------------------------------------------


class Scenario:
    def __init__(self, browser, server, sink, results):
        self.b = browser
        self.server = server
        self.sink = sink
        self.r = results
        suffix = os.urandom(3).hex()
        self.domain = f"browser-{suffix}.example.com"
        self.owner = f"owner@{self.domain}"
        self.org_name = f"Browser Org {suffix}"
        self.project_name = f"Browser project {suffix}"
        self.invitee = f"alice@{self.domain}"
        self.promoted = f"bob@{self.domain}"
        self.removed = f"carol@{self.domain}"
        self.member = f"dave@{self.domain}"
        self.project_id = None
        self.signup_path = None

    def setup(self):
        s = self.server
        s.admin("create-user", "--email", self.owner, "--first-name", "Olivia", "--password", PASSWORD)
        self.org = s.admin("create-organization", "--name", self.org_name, "--owner-email", self.owner)["id"]
        self.admin_key = s.admin(
            "create-personal-api-key", "--email", self.owner, "--label", "browser-suite", "--scopes", "*"
        )["value"]
        for who, first in ((self.promoted, "Bob"), (self.removed, "Carol"), (self.member, "Dave")):
            s.admin("create-user", "--email", who, "--first-name", first, "--password", PASSWORD)
            s.admin("add-member", "--organization", self.org, "--email", who, "--level", "1")

    def api(self, method, path, body=None):
        return self.server.http(method, path, key=self.admin_key, body=body)

    def member_level(self, who):
        status, body = self.api("GET", f"/api/organizations/{self.org}/members/?limit=100")
        if status != 200:
            raise CheckFailed(f"members list answered {status}: {body}")
        for m in body["results"]:
            if m["user"]["email"] == who:
                return m["level"]
        return None

    def step(self, name, fn):
        try:
            fn()
            return True
        except Exception as error:  # one step's failure is reported; the rest go on
            detail = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
            self.r.fail(name, f"{detail} (at {self.b.path()})")
            try:
                self.b.screenshot(f"failed-{re.sub(r'[^a-z0-9]+', '-', name.lower())}")
            except WebDriverException:
                pass
            if os.environ.get("BROWSER_DEBUG"):
                traceback.print_exc()
            return False

    # the steps

    def wrong_password(self):
        b = self.b
        b.forget_session()
        b.go("/login")
        b.fill("Email", self.owner)
        b.fill("Password", "not-the-password")
        b.click("Log in")
        b.wait("the error", lambda: b.alerts())
        self.r.check("a wrong password shows the error in role=alert", bool(b.alerts()))
        self.r.check("a wrong password stays on /login", b.path().startswith("/login"), b.path())
        self.r.check("a wrong password sets no session", b.d.get_cookie("sessionid") is None)
        b.screenshot("login-wrong-password-desktop")

    def owner_logs_in(self):
        b = self.b
        b.forget_session()
        b.go("/projects")
        self.r.check(
            "a page needing a login sends to /login?next=",
            b.path().startswith("/login") and "next=" in b.path(),
            b.path(),
        )
        b.login(self.owner, PASSWORD, navigate=False)
        self.r.check("the owner's login lands on the next page", b.path().startswith("/projects"), b.path())
        nav = b.d.find_element(By.TAG_NAME, "nav")
        missing = [t for t in NAV_LINKS if not nav.find_elements(By.LINK_TEXT, t)]
        self.r.check("the nav has every link", not missing, f"missing {missing}")
        self.r.check("the nav has the organization switcher", b.field("Organization", nav).tag_name == "select")
        self.r.check("the nav has Log out", bool(b.buttons("Log out", nav)))

    def create_project(self):
        b = self.b
        b.go("/projects")
        b.fill("Name", self.project_name)
        b.click("Create project")
        b.wait(
            "the new project",
            lambda: re.match(r"^/projects/\d+", b.path()) or b.links(self.project_name),
        )
        b.settle()
        if not re.match(r"^/projects/\d+", b.path()):
            b.links(self.project_name)[0].click()
            b.wait_path(lambda p: re.match(r"^/projects/\d+", p), "the project page")
        self.project_id = int(re.match(r"^/projects/(\d+)", b.path()).group(1))
        status, body = self.api("GET", f"/api/projects/{self.project_id}/")
        self.r.check(
            "the project made in the page exists in the API",
            status == 200 and body.get("name") == self.project_name,
            f"{status} {body}",
        )

    def change_timezone(self):
        b = self.b
        b.go(f"/projects/{self.project_id}")
        b.wait("the project's name in its form", lambda: b.field("Name").get_attribute("value") == self.project_name)
        self.r.ok("the project page shows its name")
        b.fill("Timezone", "Europe/Berlin")
        b.click("Save")
        b.wait("the saved timezone", lambda: self.api("GET", f"/api/projects/{self.project_id}/")[1].get("timezone") == "Europe/Berlin")
        self.r.check("saving the project shows no error", not b.alerts(), "; ".join(a.text for a in b.alerts()))
        b.go(f"/projects/{self.project_id}")
        b.wait("the saved timezone in the form", lambda: b.field("Timezone").get_attribute("value") == "Europe/Berlin")
        self.r.ok("the timezone is saved (API and page after reload)")

    def field_error(self):
        """An API error that names a field is shown next to that field."""
        b = self.b
        b.go("/invites")
        b.fill("Email", "not-an-email")
        b.click("Send invite")
        slot = lambda: [  # noqa: E731
            e
            for e in b.d.find_elements(By.CSS_SELECTOR, '#invite-form [data-error-for="target_email"], [data-error-for="target_email"]')
            if e.is_displayed() and e.text.strip()
        ]
        b.wait('the error in [data-error-for="target_email"]', slot)
        el = slot()[0]
        self.r.check('an API error shows in [data-error-for=attr] with role=alert', el.get_attribute("role") == "alert", el.get_attribute("outerHTML")[:200])
        b.screenshot("invites-field-error-desktop")

    def delete_project(self):
        """Delete project asks in a dialog; Delete there deletes it."""
        b = self.b
        status, made = self.api("POST", f"/api/organizations/{self.org}/projects/", {"name": "To delete"})
        if status != 201:
            raise CheckFailed(f"project through the API answered {status}: {made}")
        b.go(f"/projects/{made['id']}")
        b.click("Delete project")
        dialog = b.wait(
            "the confirmation dialog",
            lambda: [d for d in b.d.find_elements(By.CSS_SELECTOR, "dialog[open], [role=dialog], [role=alertdialog]") if d.is_displayed()],
        )[0]
        self.r.check("Delete project asks first (the project is still there)", self.api("GET", f"/api/projects/{made['id']}/")[0] == 200)
        b.screenshot("project-delete-dialog-desktop")
        b.click("Delete", dialog)
        b.wait_path(lambda p: p in ("/projects", "/"), "the projects page after deleting")
        self.r.check("the dialog's Delete deletes the project", self.api("GET", f"/api/projects/{made['id']}/")[0] == 404)

    def invite(self):
        b = self.b
        b.go("/invites")
        b.fill("Email", self.invitee)
        level = b.field("Level")
        if level.tag_name == "select":
            choose(level, "Member")
        b.fill("Message", "Welcome aboard")
        b.click("Send invite")
        link = b.wait("#signup-link", lambda: [e for e in b.d.find_elements(By.ID, "signup-link") if e.is_displayed()])[0]
        shown = link.text or link.get_attribute("value") or link.get_attribute("href") or ""
        self.r.check("the sign-up link is shown once, with Copy link", "/signup/" in shown and bool(b.buttons("Copy link")), shown)
        b.wait(
            "the pending invite row",
            lambda: b.d.find_elements(By.CSS_SELECTOR, f'tr[data-email="{self.invitee}"]'),
        )
        self.r.ok("the pending invite is listed")
        b.screenshot("invites-after-create-desktop")
        message = self.sink.wait_for(self.invitee)
        if message is None:
            raise CheckFailed(f"no email reached the SMTP sink for {self.invitee}")
        text = body_text(message)
        match = re.search(r"(https?://\S+/signup/[^\s]+)", text)
        if not match:
            raise CheckFailed(f"the email has no sign-up link: {text!r}")
        url = match.group(1)
        self.r.check(
            "the emailed link points at SITE_URL",
            url.startswith(self.server.url + "/signup/"),
            url,
        )
        self.signup_path = url[len(self.server.url):] if url.startswith(self.server.url) else urllib.parse.urlparse(url).path + "?" + urllib.parse.urlparse(url).query
        self.r.ok("the invite email was caught by the SMTP sink")
        b.go("/invites")
        self.r.check(
            "the sign-up link is not shown again after reload",
            not [e for e in b.d.find_elements(By.ID, "signup-link") if e.is_displayed() and "/signup/" in (e.text or e.get_attribute("value") or "")],
        )

    def sign_up(self):
        b = self.b
        b.logout()
        b.go(self.signup_path)
        b.screenshot("signup-from-email-desktop")
        page = b.d.find_element(By.TAG_NAME, "body").text
        self.r.check("the sign-up page names the organization", self.org_name in page)
        self.r.check("the sign-up page names the inviter", "Olivia" in page or self.owner in page)
        b.fill("First name", "Alice")
        b.fill("Password", PASSWORD)
        b.click("Join")
        b.wait_path(lambda p: not p.startswith("/signup"), "the page after joining")
        self.r.check("joining signs in", b.d.get_cookie("sessionid") is not None)
        level = self.member_level(self.invitee)
        self.r.check("the invitee is a member", level == 1, f"level {level}")

    def new_member_sees_project(self):
        b = self.b
        b.logout()
        b.login(self.invitee, PASSWORD)
        b.go("/projects")
        b.wait("the project in the list", lambda: b.links(self.project_name))
        self.r.ok("the new member sees the project")
        b.screenshot("projects-as-new-member-desktop")

    def members_admin_and_remove(self):
        b = self.b
        b.forget_session()
        b.login(self.owner, PASSWORD)
        b.go("/members")
        row = lambda who: b.d.find_element(By.CSS_SELECTOR, f'tr[data-email="{who}"]')  # noqa: E731
        b.wait("the members table", lambda: row(self.promoted))
        choose(b.field("Level", row(self.promoted)), "Admin")
        b.click("Save", row(self.promoted))
        b.wait(f"{self.promoted} an admin", lambda: self.member_level(self.promoted) == 8)
        self.r.check("saving a level shows no error", not b.alerts(), "; ".join(a.text for a in b.alerts()))
        b.go("/members")
        b.wait("the members table", lambda: row(self.removed))
        self.r.check(
            "the page shows the new admin after reload",
            b.field("Level", row(self.promoted)).get_attribute("value") == "8"
            if b.has_field("Level", row(self.promoted))
            else "Admin" in row(self.promoted).text,
        )
        self.r.ok("the owner makes a member an admin")
        b.click("Remove", row(self.removed))
        b.accept_confirmation()
        b.wait(f"{self.removed} removed", lambda: self.member_level(self.removed) is None)
        b.wait(
            "the removed row to go",
            lambda: not b.d.find_elements(By.CSS_SELECTOR, f'tr[data-email="{self.removed}"]'),
        )
        self.r.ok("the owner removes a member")
        b.fill("Search", "dave")

        def shown():
            return [
                r.get_attribute("data-email")
                for r in b.d.find_elements(By.CSS_SELECTOR, "tr[data-email]")
                if r.is_displayed()
            ]

        try:
            b.wait("the search to narrow the list", lambda: shown() == [self.member], timeout=5)
        except CheckFailed:
            pass
        self.r.check("the member search finds by name or email", shown() == [self.member], f"shown {shown()}")

    def api_key(self):
        b = self.b
        b.go("/keys")
        b.fill("Label", "browser key")
        box = None
        for scope in ("organization:read", "Organization read"):
            try:
                box = b.field(scope)
                break
            except NoSuchElementException:
                pass
        if box is None:
            found = b.d.find_elements(By.CSS_SELECTOR, 'input[type=checkbox][value="organization:read"]')
            if not found:
                raise CheckFailed("no scope checkbox for organization:read")
            box = found[0]
        if not box.is_selected():
            b.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
            box.click()
        b.click("Create key")
        value_el = b.wait(
            "#new-key-value",
            lambda: [e for e in b.d.find_elements(By.ID, "new-key-value") if e.is_displayed() and (e.text or e.get_attribute("value"))],
        )[0]
        value = (value_el.text or value_el.get_attribute("value")).strip()
        self.r.check("the key value is shown with Copy", value.startswith("phx_") and bool(b.buttons("Copy")), value[:4])
        b.screenshot("keys-after-create-desktop")
        status, body = self.server.http("GET", "/api/organizations/", key=value)
        ids = [o["id"] for o in body.get("results", [])] if isinstance(body, dict) else []
        self.r.check("the key made in the page works with urllib", status == 200 and self.org in ids, f"{status} {body}")
        status, _ = self.server.http("GET", f"/api/projects/{self.project_id}/", key=value)
        self.r.check("the key's scopes are the picked ones (project read refused)", status == 403, f"{status}")
        b.go("/keys")
        rows = b.wait("the key's row", lambda: b.d.find_elements(By.CSS_SELECTOR, 'tr[data-label="browser key"]'))
        self.r.check("the key row is listed with Roll and Delete", bool(rows) and bool(b.buttons("Roll", rows[0])) and bool(b.buttons("Delete", rows[0])))
        self.r.check("the key value is not shown again", value not in b.d.page_source)

    def member_view(self):
        b = self.b
        b.forget_session()
        b.login(self.member, PASSWORD, keyboard=True)
        self.r.ok("a member logs in with the keyboard only")
        b.go("/members")
        b.wait("the members table", lambda: len(b.d.find_elements(By.CSS_SELECTOR, "tr[data-email]")) >= 3)
        others = [
            r
            for r in b.d.find_elements(By.CSS_SELECTOR, "tr[data-email]")
            if r.get_attribute("data-email") != self.member
        ]
        self.r.check("the member sees the other members", len(others) >= 2, f"{len(others)} rows")
        with_controls = [
            r.get_attribute("data-email")
            for r in others
            if b.has_field("Level", r) or b.buttons("Remove", r)
        ]
        self.r.check("a member sees no Level or Remove on others", not with_controls, f"offered on {with_controls}")
        b.check_page("members-as-member")

    def switch_organization(self):
        """The nav's Organization select switches the organization the pages show."""
        b = self.b
        second = f"Second {self.org_name}"
        self.server.admin("create-organization", "--name", second, "--owner-email", self.owner)
        b.forget_session()
        b.login(self.owner, PASSWORD)

        def switcher():
            return b.field("Organization", b.d.find_element(By.TAG_NAME, "nav"))

        def names():
            return [" ".join(o.text.split()) for o in Select(switcher()).options]

        b.wait("both organizations in the switcher", lambda: {self.org_name, second} <= set(names()))
        self.r.ok("the switcher lists the user's organizations")
        for target, project_shown in ((second, False), (self.org_name, True)):
            b.go("/projects")
            b.wait("the switcher filled", lambda: {self.org_name, second} <= set(names()))
            if Select(switcher()).first_selected_option.text.strip() != target:
                choose(switcher(), target)
                b.wait(
                    f"the user's current organization to become {target}",
                    lambda: (self.api("GET", "/api/users/@me/")[1].get("organization") or {}).get("name") == target,
                )
                b.settle()
            b.go("/projects")
            b.wait("the selected organization", lambda: Select(switcher()).first_selected_option.text.strip() == target)
            b.settle()
            self.r.check(
                "switched back: the project is listed again"
                if project_shown
                else "switched to a second organization: the first one's project is not listed",
                bool(b.links(self.project_name)) == project_shown,
            )

    def tour(self):
        """Every page as the owner: first-load bytes, then axe and screenshots."""
        b = self.b
        b.forget_session()
        try:
            b.login(self.owner, PASSWORD)
        except (WebDriverException, CheckFailed) as error:
            self.r.fail("the tour's owner logs in", str(error).splitlines()[0])
        pages = [
            ("projects-home", "/"),
            ("projects", "/projects"),
            ("project", f"/projects/{self.project_id}" if self.project_id else None),
            ("members", "/members"),
            ("invites", "/invites"),
            ("keys", "/keys"),
            ("organization", "/organization"),
            ("legal-documents", "/legal-documents"),
            ("oauth-applications", "/oauth-applications"),
        ]
        for name, path in pages:
            if path is None:
                self.r.fail(f"page {name}", "no project was made")
                continue
            try:
                b.first_load(name, path)
                self.r.check(f"page {name} ({path}) is served", not b.path().startswith("/login"), b.path())
                b.check_page(name)
            except (WebDriverException, CheckFailed) as error:
                self.r.fail(f"page {name}", str(error).splitlines()[0])
        b.forget_session()
        try:
            b.first_load("login", "/login")
            b.check_page("login")
            status, invite = self.api(
                "POST", f"/api/organizations/{self.org}/invites/", {"target_email": f"erin@{self.domain}", "level": 1}
            )
            if status != 201:
                raise CheckFailed(f"invite through the API answered {status}: {invite}")
            path = invite["signup_url"][len(self.server.url):] if invite["signup_url"].startswith(self.server.url) else None
            if path:
                b.first_load("signup", path)
                b.check_page("signup")
        except (WebDriverException, CheckFailed) as error:
            self.r.fail("logged-out pages", str(error).splitlines()[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="sqlite")
    parser.add_argument("--screenshots", default="target/screenshots")
    args = parser.parse_args()

    url = os.environ["PRICKLE_URL"]
    binary = os.environ["PRICKLE_BIN"]
    database = os.environ["PRICKLE_DB"]
    smtp_port = int(os.environ["EMAIL_PORT"])
    screenshots = Path(args.screenshots) / args.label
    screenshots.mkdir(parents=True, exist_ok=True)
    for old in screenshots.glob("*.png"):
        old.unlink()

    results = Results()
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    driver = None
    try:
        server = Server(url, binary, database)
        started = time.monotonic()
        driver = start_browser()
        browser = Browser(driver, server, results, screenshots)
        scenario = Scenario(browser, server, sink, results)
        scenario.setup()
        print(f"== browser suite ({args.label}) against {url}, screenshots in {screenshots}", flush=True)
        steps = [
            ("a wrong password shows the error", scenario.wrong_password, []),
            ("the owner logs in", scenario.owner_logs_in, []),
            ("the owner creates a project", scenario.create_project, ["the owner logs in"]),
            ("the owner changes its timezone", scenario.change_timezone, ["the owner creates a project"]),
            ("an API error shows next to its field", scenario.field_error, ["the owner logs in"]),
            ("the owner deletes a project after confirming", scenario.delete_project, ["the owner logs in"]),
            ("the owner invites a person, the email arrives", scenario.invite, ["the owner logs in"]),
            ("the emailed link signs the person up", scenario.sign_up, ["the owner invites a person, the email arrives"]),
            ("the new member logs in and sees the project", scenario.new_member_sees_project,
             ["the emailed link signs the person up", "the owner creates a project"]),
            ("the owner makes a member an admin and removes another", scenario.members_admin_and_remove, []),
            ("the owner creates a personal API key in the page", scenario.api_key, ["the owner creates a project"]),
            ("a member does not see an admin's controls", scenario.member_view, []),
            ("the organization switcher", scenario.switch_organization, ["the owner creates a project"]),
            ("every page", scenario.tour, []),
        ]
        done = set()
        for name, fn, needs in steps:
            missing = [n for n in needs if n not in done]
            if missing:
                results.fail(name, f"not run: needs {missing}")
                continue
            print(f"-- {name}", flush=True)
            if scenario.step(name, fn):
                done.add(name)
        print(f"      ({time.monotonic() - started:.1f} s, {len(list(screenshots.glob('*.png')))} screenshots)")
    finally:
        if driver is not None:
            driver.quit()
        controller.stop()
    print(f"== browser suite ({args.label}): {', '.join(results.failed) or 'all passed'}")
    print(f"{results.passed} passed, {len(results.failed)} failed")
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
