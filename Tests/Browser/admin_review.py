#!/usr/bin/env python3
"""Real-browser test of the Relais admin pages (run by Tests/Browser/run.sh).

Signs in with the admin token, filters the conflict list, opens the conflict on the record, reinstates
the value the rule did not keep, then checks through the admin API and a replica's next
`relais sync` + `relais get` that the value is back. Takes screenshots of the dashboard, the list and
the detail page into docs/screenshots/.
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hub", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--relais", required=True)
    parser.add_argument("--replica", required=True)
    parser.add_argument("--screenshots", required=True)
    args = parser.parse_args()
    os.makedirs(args.screenshots, exist_ok=True)

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    driver.implicitly_wait(5)
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
        eventually(lambda: args.record in driver.page_source, "the detail page is the conflict on the record", driver)
        conflict_id = driver.current_url.rsplit("/", 1)[-1]
        report = api(args.hub, args.token, "/v1/admin/conflicts/" + conflict_id)
        values = [value["value"] for value in report["values"]]
        losing = next(index for index, value in enumerate(values) if value != report["chosen"])
        losing_value = values[losing]
        print("values %s, chosen %s: reinstating value %d (%s)" % (values, report["chosen"], losing, losing_value))
        check(driver.find_element(By.ID, "value-%d" % losing).text == losing_value, "the losing value is shown")
        driver.save_screenshot(os.path.join(args.screenshots, "conflict.png"))

        # A resolve without a reason is refused by the browser (required) and by the hub; give one.
        driver.find_element(By.ID, "choice-%d" % losing).click()
        driver.find_element(By.ID, "reason").send_keys("Claire visited on Monday: the customer is at risk.")
        driver.find_element(By.ID, "resolve-button").click()
        eventually(lambda: driver.find_elements(By.ID, "resolved-notice"), "the page confirms the resolution", driver)
        check(driver.find_element(By.ID, "status").text == "resolved", "the conflict shows as resolved")
        driver.save_screenshot(os.path.join(args.screenshots, "conflict-resolved.png"))

        driver.get(args.hub + "/admin/audit")
        check("conflict resolved" in driver.page_source and "admin signed in" in driver.page_source,
              "the audit log shows the sign-in and the resolution")
    finally:
        driver.quit()

    # Through the API.
    after = api(args.hub, args.token, "/v1/admin/conflicts/" + conflict_id)
    check(after["status"] == "resolved" and after["resolution"]["value"] == losing_value,
          "the API shows the resolution with the reinstated value")
    # Through a replica's next sync.
    subprocess.run([args.relais, "sync", "--db", args.replica], check=True, stdout=subprocess.DEVNULL)
    record = json.loads(subprocess.run([args.relais, "get", "customers", args.record, "--db", args.replica, "--json"],
                                       check=True, capture_output=True, text=True).stdout)
    check(record.get("status") == losing_value, "bob's replica holds the reinstated value after its next sync")
    print("admin review browser test passed")


if __name__ == "__main__":
    main()
