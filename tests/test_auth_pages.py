"""Access control in headless Chromium: first start with the setup code, sign in, a
feature page, sign out; a listener kept out of Settings; a token used from a script."""
import re

import pytest
import requests

from auth import setup
from tests.support import PASSWORDS, account, sign_in, token_for

pytestmark = pytest.mark.browser


def test_first_start_sign_in_feature_page_and_sign_out(live_server, browser_page):
    from playwright.sync_api import expect
    page = browser_page
    code = setup.new_code()                     # what the start command prints on the console
    page.goto(live_server + "/similarity")
    expect(page).to_have_url(live_server + "/setup")
    page.fill("input[name=code]", "WRNG-CODE-2345-6789")
    page.fill("input[name=username]", "Alice")
    page.fill("input[name=password]", "correct horse")
    page.fill("input[name=confirm]", "correct horse")
    page.click("#create-admin")
    expect(page.locator(".notice.error")).to_contain_text("not the code printed")
    page.fill("input[name=code]", code)
    page.fill("input[name=password]", "correct horse")
    page.fill("input[name=confirm]", "correct horse")
    page.click("#create-admin")
    expect(page).to_have_url(live_server + "/")
    expect(page.locator("#me")).to_have_text("alice")
    expect(page.locator("#health")).not_to_have_text("checking…")   # the API answers the signed-in page

    page.click("#logout")
    expect(page).to_have_url(live_server + "/login")
    page.goto(live_server + "/similarity")
    expect(page).to_have_url(re.compile(r"/login\?next=/similarity$"))
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "wrong password")
    page.click("#sign-in")
    expect(page.locator(".notice.error")).to_have_text("wrong name or password")
    page.fill("input[name=password]", "correct horse")
    page.click("#sign-in")
    expect(page).to_have_url(live_server + "/similarity")
    expect(page.locator("nav a[aria-current]")).to_have_text("Similar")


def test_a_listener_cannot_open_settings(live_server, browser_page):
    from playwright.sync_api import expect
    page = browser_page
    account("admin")
    sign_in(page, live_server, "listener")
    expect(page.locator("nav")).not_to_contain_text("Settings")
    expect(page.locator("button.start")).to_have_count(0)
    answer = page.goto(live_server + "/settings")
    assert answer.status == 403
    expect(page.locator("body")).to_contain_text("this needs an admin account")


def test_admin_makes_a_token_that_works_from_a_script(live_server, page):
    from playwright.sync_api import expect
    account("listener")
    page.goto(live_server + "/accounts")
    expect(page.locator("#accounts tbody tr")).to_have_count(2)
    page.fill("#token-form input[name=name]", "kitchen player")
    page.select_option("#token-account", label="listener")
    page.click("#add-token")
    expect(page.locator("#new-token-value")).to_have_text(re.compile(r"^son_"))
    token = page.locator("#new-token-value").inner_text()
    expect(page.locator("#tokens tbody tr")).to_have_count(1)

    me = requests.get(live_server + "/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.status_code == 200 and me.json()["username"] == "listener"
    refused = requests.post(live_server + "/api/tasks", json={"type": "library_scan"},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert refused.status_code == 403   # a listener's token cannot start tasks

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#tokens tbody tr button", has_text="Revoke").click()
    expect(page.locator("#tokens tbody tr")).to_have_count(0)
    assert requests.get(live_server + "/api/me", headers={"Authorization": f"Bearer {token}"},
                        timeout=10).status_code == 401


def test_changing_the_password_in_the_page_signs_out_other_browsers(live_server, page):
    from playwright.sync_api import expect
    other = page.context.browser.new_page()
    sign_in(other, live_server)
    page.goto(live_server + "/account")
    page.fill("input[name=current_password]", PASSWORDS["admin"])
    page.fill("input[name=new_password]", "a brand new password")
    page.click("#change-password")
    expect(page.locator("#result")).to_contain_text("Password changed")
    # The other browser's home page polls the API: its next call is refused and it goes to sign-in.
    expect(other).to_have_url(re.compile(r"/login\?next="), timeout=20_000)
    other.goto(live_server + "/accounts")
    expect(other).to_have_url(re.compile(r"/login\?next=/accounts$"))
    page.goto(live_server + "/accounts")
    expect(page).to_have_url(live_server + "/accounts")
