#!/usr/bin/env python3
"""Real-browser test of a sales manager's pages (run by Tests/Browser/run.sh; docs/CRM.md).

A manager of territory north signs in with their own token and lands on the reports; the value-at-risk
list holds the north's customers and never the south's; the admin's pages are refused; the manager
confirms the programme proposed for one customer; the territory's salesperson's laptop receives it at
its next `relais sync`. Takes a screenshot of the reports page into docs/screenshots/manager-reports.png
unless --no-screenshot.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from admin_review import browser, check, eventually, full_page_screenshot, replica_value  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hub", required=True)
    parser.add_argument("--token", required=True, help="the manager's token")
    parser.add_argument("--record", required=True, help="a customer of the manager's territory")
    parser.add_argument("--name", required=True, help="its name")
    parser.add_argument("--hidden", required=True, help="the name of a customer of another territory")
    parser.add_argument("--relais", required=True)
    parser.add_argument("--replica", required=True, help="a salesperson's replica file of the territory")
    parser.add_argument("--screenshots", required=True)
    args = parser.parse_args()

    driver = browser(javascript=True)
    try:
        driver.get(args.hub + "/admin")
        check("Sign in" in driver.title, "an anonymous visit lands on the sign-in page")
        driver.find_element(By.ID, "token").send_keys(args.token)
        driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
        eventually(lambda: driver.current_url.endswith("/admin/reports"), "a manager lands on the reports", driver)
        table = driver.find_element(By.ID, "value-at-risk").text
        check(args.name in table, "the value-at-risk list holds the north's customer")
        check(args.hidden not in driver.page_source, "no customer of another territory is shown")
        check(not driver.find_elements(By.LINK_TEXT, "Conflicts"), "the menu has no admin entries")
        full_page_screenshot(driver, os.path.join(args.screenshots, "manager-reports.png"))

        # The admin's pages are not a manager's.
        driver.get(args.hub + "/admin/conflicts")
        check("This page is for admins" in driver.page_source, "the conflict list is refused to a manager")
        driver.get(args.hub + "/admin/reports")

        # Confirm the programme proposed for the customer.
        row = driver.find_element(By.CSS_SELECTOR, "tr[data-customer='%s']" % args.record)
        button = row.find_element(By.CSS_SELECTOR, "form button[type=submit]")
        label = button.text
        check(label.startswith("Confirm programme "), "a programme is proposed: " + label)
        programme = label.split(" ")[2]
        button.click()
        eventually(lambda: "confirmed" in driver.find_element(By.ID, "message").text,
                   "the page says the proposal is confirmed", driver)
        check(replica_value(args.relais, args.replica, args.record, "programme") == programme,
              "the salesperson's laptop receives the programme at its next sync (%s)" % programme)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
