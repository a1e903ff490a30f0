"""RPC from a real HTML form, submitted by headless Chromium (no JavaScript on the page)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

import hub
from tests.examples.conftest import browser, needs_chromium  # noqa: F401 - a fixture

if TYPE_CHECKING:
    from playwright.async_api import Browser

    from tests.hub.net.conftest import Serve

PAGE = """<!doctype html>
<form method="post" action="/objects/signup/s/rpc/join" %s>
  <input name="name"> <input name="age" type="number">
  <input name="news" type="checkbox">
  <select name="topics" multiple><option>math</option><option>code</option>
  <option>art</option></select>
  <button type="submit">Join</button>
</form>"""


class Signup(hub.DurableObject):
    async def fetch(self, request: hub.Request) -> hub.Response:
        enctype = 'enctype="multipart/form-data"' if "multipart" in request.query else ""
        return hub.Response(PAGE % enctype, headers={"content-type": "text/html"})

    def join(
        self, name: str, age: int, news: bool = False, topics: list[str] | None = None
    ) -> dict[str, Any]:
        return {"name": name, "age": age, "news": news, "topics": topics}


async def _submit(chromium: Browser, url: str, age: str) -> tuple[int, Any]:
    page = await chromium.new_page()
    await page.goto(url)
    await page.fill("input[name=name]", "Ada L")
    await page.fill("input[name=age]", age)
    await page.check("input[name=news]")
    await page.select_option("select[name=topics]", ["math", "art"])
    async with page.expect_navigation() as navigation:
        await page.click("button")
    response = await navigation.value
    assert response is not None
    body = await response.body()
    await page.close()
    return response.status, orjson.loads(body)


@needs_chromium
async def test_a_form_submitted_by_chromium_calls_the_method(
    serve: Serve,
    browser: Browser,  # noqa: F811
) -> None:
    served = await serve({"SIGNUP": Signup})
    status, body = await _submit(browser, served.url("/objects/signup/s/page"), "36")
    assert status == 200
    assert body == {"result": {"name": "Ada L", "age": 36, "news": True, "topics": ["math", "art"]}}
    status, body = await _submit(browser, served.url("/objects/signup/s/page"), "")
    assert status == 400 and body["error"]["code"] == "invalid_arguments"


@needs_chromium
async def test_a_multipart_form_from_chromium_is_415(
    serve: Serve,
    browser: Browser,  # noqa: F811
) -> None:
    served = await serve({"SIGNUP": Signup})
    status, body = await _submit(browser, served.url("/objects/signup/s/page?multipart"), "36")
    assert status == 415 and body["error"]["code"] == "unsupported_media_type"
