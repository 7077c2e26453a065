#!/usr/bin/env python3
"""Real-browser test of the Relais admin pages (run by Tests/Browser/run.sh), in two parts.

`single` (JavaScript on): signs in with the admin token, filters the conflict list, opens the conflict
on the record, checks the field's history, reinstates the value the rule did not keep, then checks
through the admin API and a replica's next `relais sync` + `relais get` that the value is back.

`bulk` (JavaScript disabled in Chrome): signs in, filters the open `manual` conflicts on `status` in
territory north, bulk-resolves them keeping the newest value through the plain HTML form, then checks
through the API that exactly those were resolved (another field and another territory stay open) and
that a replica's next sync shows the kept values.

Takes screenshots of the dashboard, the list, the detail page and the bulk form into docs/screenshots/.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def api(hub, token, path):
    request = urllib.request.Request(hub + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def eventually(condition, message, driver=None, timeout=20):
    """Checks `condition()` until it holds: a form post's answer may land after the click returns."""
    deadline = time.time() + timeout
    while True:
        try:
            if condition():
                print("ok: " + message)
                return
        except Exception:
            pass
        if time.time() > deadline:
            print("FAIL: " + message, file=sys.stderr)
            if driver is not None:
                print("at %s:\n%s" % (driver.current_url, driver.page_source[:3000]), file=sys.stderr)
            sys.exit(1)
        time.sleep(0.2)


def check(condition, message):
    if not condition:
        print("FAIL: " + message, file=sys.stderr)
        sys.exit(1)
    print("ok: " + message)


def browser(javascript):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000"):
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    driver.implicitly_wait(5)
    return driver


def full_page_screenshot(driver, path):
    """The whole page (the detail's history is below the fold); needs JavaScript for the height."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(int(height) + 40, 5000))
    driver.save_screenshot(path)
    driver.set_window_size(1280, 1000)


def sign_in(driver, hub, token):
    driver.get(hub + "/admin")
    check("Sign in" in driver.title, "an anonymous visit lands on the sign-in page")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    eventually(lambda: driver.current_url.endswith("/admin/dashboard"), "signing in opens the dashboard", driver)


def replica_value(relais, replica, record, field):
    subprocess.run([relais, "sync", "--db", replica], check=True, stdout=subprocess.DEVNULL)
    return replica_local(relais, replica, record, field)


def replica_local(relais, replica, record, field):
    out = subprocess.run([relais, "get", "customers", record, "--db", replica, "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out).get(field)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("part", choices=["single", "bulk"])
    parser.add_argument("--hub", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--record", required=True, action="append")
    parser.add_argument("--other", action="append", default=[])
    parser.add_argument("--relais", required=True)
    parser.add_argument("--replica", required=True)
    parser.add_argument("--screenshots", required=True)
    args = parser.parse_args()
    os.makedirs(args.screenshots, exist_ok=True)
    if args.part == "single":
        single(args, args.record[0])
    else:
        bulk(args)


def single(args, record_id):
    driver = browser(javascript=True)
    try:
        # Sign in.
        driver.get(args.hub + "/admin")
        check("Sign in" in driver.title, "an anonymous visit lands on the sign-in page")
        driver.find_element(By.ID, "token").send_keys("wrong-token")
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        eventually(lambda: "not valid" in driver.page_source, "a wrong token is refused with a message", driver)
        driver.find_element(By.ID, "token").send_keys(args.token)
        driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
        eventually(lambda: driver.current_url.endswith("/admin/dashboard"), "signing in opens the dashboard", driver)
        session = driver.get_cookie("relais_admin")
        check(session is not None and session.get("httpOnly") and session.get("sameSite") == "Strict",
              "the session cookie is HttpOnly and SameSite=Strict")
        check(driver.find_element(By.ID, "open-count").text == "1", "the dashboard counts one open conflict")
        driver.save_screenshot(os.path.join(args.screenshots, "dashboard.png"))

        # Filter the list: open conflicts of the manual rule in territory north.
        driver.find_element(By.LINK_TEXT, "Conflicts").click()
        driver.find_element(By.CSS_SELECTOR, "#f-rule option[value='manual']").click()
        territory = driver.find_element(By.ID, "f-territory")
        territory.clear()
        territory.send_keys("north")
        driver.find_element(By.ID, "apply-filters").click()
        eventually(lambda: "territory=north" in driver.current_url and "rule=manual" in driver.current_url,
                   "the filters are in the URL", driver)
        check(driver.find_element(By.ID, "total").text == "1", "the filtered list holds the conflict")
        driver.save_screenshot(os.path.join(args.screenshots, "conflicts.png"))

        # Open it.
        driver.find_element(By.CSS_SELECTOR, "a.conflict-link").click()
        eventually(lambda: record_id in driver.page_source, "the detail page is the conflict on the record", driver)
        conflict_id = driver.current_url.rsplit("/", 1)[-1]
        report = api(args.hub, args.token, "/v1/admin/conflicts/" + conflict_id)
        values = [value["value"] for value in report["values"]]
        losing = next(index for index, value in enumerate(values) if value != report["chosen"])
        losing_value = values[losing]
        print("values %s, chosen %s: reinstating value %d (%s)" % (values, report["chosen"], losing, losing_value))
        check(driver.find_element(By.ID, "value-%d" % losing).text == losing_value, "the losing value is shown")
        # The field's history: the two competing writes, newest first, each from its own laptop.
        rows = driver.find_elements(By.CSS_SELECTOR, "#history tbody tr")
        versions = len(rows)
        check(versions >= 2, "the field's history shows the competing writes")
        check(all(value in driver.find_element(By.ID, "history").text for value in values),
              "the history holds both values")
        full_page_screenshot(driver, os.path.join(args.screenshots, "conflict.png"))

        # A resolve without a reason is refused by the browser (required) and by the hub; give one.
        driver.find_element(By.ID, "choice-%d" % losing).click()
        driver.find_element(By.ID, "reason").send_keys("Claire visited on Monday: the customer is at risk.")
        driver.find_element(By.ID, "resolve-button").click()
        eventually(lambda: driver.find_elements(By.ID, "resolved-notice"), "the page confirms the resolution", driver)
        check(driver.find_element(By.ID, "status").text == "resolved", "the conflict shows as resolved")
        rows = driver.find_elements(By.CSS_SELECTOR, "#history tbody tr")
        check(len(rows) == versions + 1 and "hub" in rows[0].text and "current" in rows[0].text,
              "the resolution is the newest version in the history, from the hub, and current")
        full_page_screenshot(driver, os.path.join(args.screenshots, "conflict-resolved.png"))

        driver.get(args.hub + "/admin/audit")
        check("conflict resolved" in driver.page_source and "admin signed in" in driver.page_source,
              "the audit log shows the sign-in and the resolution")
    finally:
        driver.quit()

    # Through the API.
    after = api(args.hub, args.token, "/v1/admin/conflicts/" + conflict_id)
    check(after["status"] == "resolved" and after["resolution"]["value"] == losing_value,
          "the API shows the resolution with the reinstated value")
    check(after["history"][0]["user"] == "admin" and after["history"][0]["value"] == losing_value,
          "the API's history starts with the resolution")
    # Through a replica's next sync.
    check(replica_value(args.relais, args.replica, record_id, "status") == losing_value,
          "the replica holds the reinstated value after its next sync")
    print("admin review browser test (single resolve) passed")


def bulk(args):
    records = set(args.record)
    others = set(args.other)
    # The API's view before: the open manual status conflicts in north on the given records.
    before = api(args.hub, args.token, "/v1/admin/conflicts?status=open&limit=1000")
    targets = {c["id"]: c for c in before
               if c["record_id"] in records and c["field"] == "status" and c["rule"] == "manual"}
    untouched = [c["id"] for c in before if c["id"] not in targets]
    check(len(targets) == len(records), "each bulk record has an open manual conflict on status")
    check(any(c["record_id"] in others for c in before) and any(c["field"] == "programme" for c in before),
          "a conflict in another territory and one on another field are open too")
    newest = {}
    for conflict in targets.values():
        value = max(conflict["values"], key=lambda v: int(v["hlc"]))["value"]
        newest[conflict["record_id"]] = value
        check(replica_local(args.relais, args.replica, conflict["record_id"], "status") != value,
              "before the bulk resolve, the replica holds its own older value on %s" % conflict["record_id"][:8])

    driver = browser(javascript=False)
    try:
        # JavaScript really is off: a script that would retitle the page does not run.
        driver.get("data:text/html,<title>no script</title><script>document.title='script ran'</script>")
        check(driver.title == "no script", "JavaScript is disabled in this browser")
        sign_in(driver, args.hub, args.token)
        driver.find_element(By.LINK_TEXT, "Conflicts").click()
        driver.find_element(By.CSS_SELECTOR, "#f-status option[value='open']").click()
        driver.find_element(By.CSS_SELECTOR, "#f-rule option[value='manual']").click()
        for name, value in (("f-field", "status"), ("f-territory", "north")):
            box = driver.find_element(By.ID, name)
            box.clear()
            box.send_keys(value)
        driver.find_element(By.ID, "apply-filters").click()
        eventually(lambda: "field=status" in driver.current_url and "territory=north" in driver.current_url,
                   "the filters are in the URL", driver)
        check(driver.find_element(By.ID, "total").text == str(len(targets)), "the list holds exactly the targets")
        check(driver.find_element(By.ID, "bulk-count").text == str(len(targets)), "the bulk form names how many it takes")
        driver.find_element(By.CSS_SELECTOR, "#bulk summary").click()
        driver.find_element(By.CSS_SELECTOR, "#b-strategy option[value='newest']").click()
        driver.find_element(By.ID, "b-reason").send_keys("North status sweep: the latest visit is right.")
        driver.save_screenshot(os.path.join(args.screenshots, "bulk-resolve.png"))
        driver.find_element(By.ID, "bulk-button").click()
        eventually(lambda: "Resolved %d conflict(s); skipped 0." % len(targets) in driver.find_element(By.ID, "message").text,
                   "the hub confirms the bulk resolve", driver)
    finally:
        driver.quit()

    # Through the API: exactly the targets are resolved, with the newest value.
    for conflict_id, conflict in targets.items():
        after = api(args.hub, args.token, "/v1/admin/conflicts/" + conflict_id)
        check(after["status"] == "resolved" and after["resolution"]["value"] == newest[conflict["record_id"]],
              "conflict %s is resolved keeping the newest value (%s)" % (conflict_id[:8], newest[conflict["record_id"]]))
    for conflict_id in untouched:
        check(api(args.hub, args.token, "/v1/admin/conflicts/" + conflict_id)["status"] == "open",
              "conflict %s outside the filter stays open" % conflict_id[:8])
    audit = api(args.hub, args.token, "/v1/admin/audit?limit=5")
    check(any(event["kind"] == "conflicts_bulk_resolved" for event in audit), "the audit log records the bulk resolve")
    # Through a replica's next sync.
    for record_id, value in newest.items():
        check(replica_value(args.relais, args.replica, record_id, "status") == value,
              "the replica shows %s on %s after its next sync" % (value, record_id[:8]))
    print("admin review browser test (bulk resolve without JavaScript) passed")


if __name__ == "__main__":
    main()
