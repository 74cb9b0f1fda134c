#!/usr/bin/env python3
"""The dashboard tested as a person would use it, in a real headless Chromium (Debian's `chromium`,
driven by Playwright for Python over the Chrome DevTools protocol).

    python3 browser_test.py BASE_URL SEED_JSON [--screenshots DIR]

SEED_JSON is what seed.py printed. Every page is loaded signed in and checked for console errors,
failed requests (a network failure or an answer of 400 or more, unless the step expects one) and
JavaScript dialogs (an alert would mean a hostile string ran). Then, step by step:
  - without a session a page redirects to sign-in; a wrong token is refused; a read token signs in;
  - the adapters table lists the seeded adapters; the hostile base model shows as text;
  - the adapter page's plot has one curve per module; the rank picker changes the rank by itself
    (script) and the figures follow; keyboard: Tab reaches the skip link first, every control has a label;
  - a read session sees no Normalize link and gets 403 from the form's URL;
  - a form whose CSRF token was altered is refused (403), and nothing changes;
  - sign-out ends the session;
  - a write session previews a normalize of team-a/, starts it, and the job page (refreshed by its
    own script, no reload) reaches "succeeded";
  - at 360 px and 1920 px nothing but a table scrolls sideways.
With --screenshots, every page is also saved at 1280×800 and 390×844 into DIR.
Exit status 0 when every check passed; each failure is printed.
"""
import json
import os
import sys
import time

from playwright.sync_api import sync_playwright

BASE = sys.argv[1]
SEED = json.loads(open(sys.argv[2]).read())
SHOTS = sys.argv[sys.argv.index("--screenshots") + 1] if "--screenshots" in sys.argv else None
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
failures = []
passed = 0


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failures.append(name)
        print(f"FAIL {name}: {detail}")


class Watch:
    """Console errors, failed requests and dialogs of one page, with the statuses a step expects."""

    def __init__(self, page):
        self.problems = []
        self.expected = set()
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"script error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and r.status not in self.expected
                and self.problems.append(f"{r.status} {r.url}"))
        page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))

    def take(self):
        problems, self.problems = self.problems, []
        return problems


# WCAG 2.1 contrast (1.4.3): for every element with its own text, the ratio of its colour to the first
# opaque background behind it, against 4.5:1 (3:1 for large text: 24 px, or 18.66 px bold).
CONTRAST = """() => {
  const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = e => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3); } return [255, 255, 255]; };
  const bad = []; let checked = 0;
  for (const e of document.querySelectorAll('body *')) {
    if (![...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const style = getComputedStyle(e);
    if (style.visibility === 'hidden' || style.display === 'none' || e.closest('svg')) continue;
    const a = lum(rgb(style.color).slice(0, 3)), b = lum(background(e));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    checked += 1;
    if (ratio < need) bad.push(`${e.tagName.toLowerCase()}.${e.className}: ${ratio.toFixed(2)} < ${need} (${e.textContent.trim().slice(0, 30)})`);
  }
  return {bad, checked};
}"""


def sign_in(page, token):
    page.goto(BASE + "/ui/sign-in")
    page.fill("#token", token)
    page.click("form.sign-in button[type=submit]")
    page.wait_for_load_state()


def screenshot(browser, name, path, cookies):
    if not SHOTS:
        return
    for width, height, suffix in ((1280, 800, "desktop"), (390, 844, "phone")):
        context = browser.new_context(viewport={"width": width, "height": height})
        context.add_cookies(cookies)
        page = context.new_page()
        page.goto(BASE + path)
        page.wait_for_load_state("networkidle")
        # The desktop shot is the whole page (the adapter page's plot is below the fold), the phone
        # shot one screen.
        page.screenshot(path=os.path.join(SHOTS, f"{name}-{suffix}.png"), full_page=suffix == "desktop")
        context.close()


def main():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        watch = Watch(page)

        # Not signed in: the page asks for a token first.
        page.goto(BASE + "/ui/adapters")
        check("without a session a page redirects to sign-in", page.url.startswith(BASE + "/ui/sign-in?next="), page.url)
        watch.expected = {401}
        page.fill("#token", "lsq_" + "x" * 43)
        page.click("form.sign-in button[type=submit]")
        page.wait_for_load_state()
        check("a wrong token is refused with a message", page.locator("#sign-in-error").count() == 1, page.content()[:300])
        watch.expected = set()
        watch.take()

        page.fill("#token", SEED["tokens"]["read"])
        page.click("form.sign-in button[type=submit]")
        page.wait_for_load_state()
        check("a read token signs in and returns to the page asked for", page.url == BASE + "/ui/adapters", page.url)
        names = page.locator("table.adapters tbody th a").all_inner_texts()
        check("the adapters table lists every seeded adapter", sorted(names) == sorted(SEED["digests"]), names)
        hostile_cells = page.locator("table.adapters td", has_text="<script>").all_inner_texts()
        check("the hostile base model shows as text", any(SEED["hostile"] in c for c in hostile_cells), hostile_cells)
        check("only the page's own script is in the document", page.locator("script").count() == 1,
              page.locator("script").count())
        check("a read session sees no Normalize link and no selection",
              page.locator("nav a[href='/ui/normalize']").count() == 0 and page.locator("input[name=adapter]").count() == 0)
        check("the adapters page loads without console errors or failed requests", not watch.take())

        # Keyboard and labels.
        page.keyboard.press("Tab")
        check("Tab reaches the skip link first", page.evaluate("document.activeElement.className") == "skip",
              page.evaluate("document.activeElement.outerHTML"))
        unlabelled = page.evaluate("""[...document.querySelectorAll('input:not([type=hidden]), select')]
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.outerHTML)""")
        check("every control of the adapters page has a label", not unlabelled, unlabelled)

        # One adapter: the plot, the rank picker.
        page.click("table.adapters a:text('team-a/chat-v2')")
        page.wait_for_load_state()
        curves = page.locator("svg.energy-plot polyline.module").count()
        check("the spectrum plot has a curve per module", curves == SEED["modules"]["team-a/chat-v2"], curves)
        check("the plot has the mean and minimum curves and vLLM's ranks",
              page.locator("svg.energy-plot polyline.mean").count() == 1
              and page.locator("svg.energy-plot polyline.minimum").count() == 1
              and page.locator("svg.energy-plot line.vllm-rank").count() >= 4)
        before = page.inner_text("#mean-energy")
        page.select_option("#rank", "4")
        page.wait_for_url("**rank=4")
        page.wait_for_load_state()
        after = page.inner_text("#mean-energy")
        check("choosing a rank reloads the figures for it (script submits the picker)",
              page.inner_text("#h-rank") == "At rank 4" and after != before, f"{before} → {after}")
        check("the commands name the chosen rank", "--max-lora-rank 8" in page.inner_text("#cmd-vllm")
              and "/hub/r4" in page.inner_text("#cmd-hub"), page.inner_text("#cmd-vllm"))
        check("the adapter page loads without console errors or failed requests", not watch.take())

        for path in ("/ui/cache", "/ui/jobs"):
            page.goto(BASE + path)
            check(f"{path} loads without console errors or failed requests", not watch.take())
        check("the cache page shows the squeezed entry", "team-a/chat-v2" in page.goto(BASE + "/ui/cache").text()
              and page.inner_text("#cache-entries") == "1", page.inner_text("#cache-entries"))

        watch.expected = {403}
        response = page.goto(BASE + "/ui/normalize")
        check("a read session gets 403 from the normalize form", response.status == 403, response.status)
        watch.expected = set()
        watch.take()

        # CSRF: alter the sign-out form's token and submit it.
        page.goto(BASE + "/ui/adapters")
        page.evaluate("document.querySelector('form.who input[name=csrf]').value = '0'.repeat(64)")
        watch.expected = {403}
        with page.expect_navigation():
            page.click("form.who button[type=submit]")
        check("a form with an altered CSRF token is refused", "CSRF" in page.content(), page.content()[:300])
        watch.expected = set()
        watch.take()
        page.goto(BASE + "/ui/adapters")
        check("the refused sign-out left the session as it was", page.url == BASE + "/ui/adapters", page.url)
        cookies = context.cookies()

        # Contrast of every text on every page a reader sees.
        for path in ("/ui/adapters", "/ui/adapters/team-a/chat-v2", "/ui/cache", "/ui/jobs"):
            page.goto(BASE + path)
            result = page.evaluate(CONTRAST)
            check(f"{path}: every text meets WCAG AA contrast ({result['checked']} elements)",
                  not result["bad"] and result["checked"] > 10, result["bad"][:5])

        # Layout at 360 and 1920 px: only tables scroll sideways.
        for width in (360, 1920):
            page.set_viewport_size({"width": width, "height": 900})
            for path in ("/ui/adapters", "/ui/adapters/team-a/chat-v2", "/ui/cache", "/ui/jobs"):
                page.goto(BASE + path)
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                check(f"{path} at {width} px does not scroll sideways", overflow <= 0, f"{overflow} px too wide")
        page.set_viewport_size({"width": 1280, "height": 800})

        # Screenshots of the read pages, signed in as reader.
        screenshot(browser, "adapters", "/ui/adapters", cookies)
        screenshot(browser, "adapter", "/ui/adapters/team-a/chat-v2", cookies)
        screenshot(browser, "cache", "/ui/cache", cookies)

        page.click("form.who button[type=submit]")
        page.wait_for_load_state()
        check("sign-out returns to the sign-in page", page.url.startswith(BASE + "/ui/sign-in"), page.url)
        page.goto(BASE + "/ui/adapters")
        check("after sign-out pages ask for a token again", page.url.startswith(BASE + "/ui/sign-in"), page.url)
        screenshot(browser, "sign-in", "/ui/sign-in", [])
        watch.take()

        # A write session normalizes team-a/ from the form and watches the job finish.
        sign_in(page, SEED["tokens"]["write"])
        page.goto(BASE + "/ui/normalize?prefix=team-a%2F")
        rows = page.locator("table.candidates tbody tr").count()
        check("the normalize preview shows the energy at each candidate rank", rows >= 3, rows)
        check("the preview counts the three team-a adapters", "What 3 adapters would keep" in page.inner_text("main"))
        screenshot(browser, "normalize", "/ui/normalize?prefix=team-a%2F", context.cookies())
        page.select_option("#n-rank", "8")
        with page.expect_navigation():
            page.click("form.start button[type=submit]")
        check("starting the job leads to its page", "/ui/jobs/" in page.url, page.url)
        page.wait_for_selector("main[data-state=succeeded]", timeout=60_000)
        check("the job page reaches succeeded by itself", page.locator("#job-state").inner_text().strip() == "succeeded")
        check("every adapter of the job is done", page.locator("tr[data-status=done]").count() == 3,
              page.locator("tr[data-status]").all_inner_texts())
        job_path = page.url[len(BASE):]
        check("the job pages load without console errors or failed requests", not watch.take())

        # The page of a running job refreshes itself. A job this small has finished by the time its
        # page is read, so the page's first answer is rewritten back to "running" on its way to the
        # browser; its script must then fetch the real page and swap in <main>, with no reload.
        served = {"documents": 0}

        def as_running(route):
            if route.request.resource_type == "document" and served["documents"] == 0:
                served["documents"] += 1
                response = route.fetch()
                body = response.text().replace(' data-state="succeeded"', ' data-poll="1" data-state="running"', 1)
                route.fulfill(response=response, body=body)
            else:
                route.continue_()
        page.route(BASE + job_path, as_running)
        page.goto(BASE + job_path)
        check("the rewritten page starts as running", page.get_attribute("main", "data-state") == "running")
        page.evaluate("window.__notReloaded = true")
        page.wait_for_selector("main[data-state=succeeded]", timeout=10_000)
        check("a running job's page swaps in the finished state by itself, without reloading",
              page.evaluate("window.__notReloaded === true") and page.get_attribute("main", "data-poll") is None
              and page.locator("#job-state").inner_text().strip() == "succeeded")
        page.unroute(BASE + job_path)
        screenshot(browser, "job", job_path, context.cookies())
        screenshot(browser, "jobs", "/ui/jobs", context.cookies())
        browser.close()
    print(f"dashboard browser test: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
