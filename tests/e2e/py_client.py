"""The official Python MCP SDK client (package `mcp`, see requirements.txt) against Gatehouse.

Runs the whole flow headlessly with the SDK's own OAuth support (`OAuthClientProvider` as the
httpx2 auth of the `streamable_http_client` transport): discovery, dynamic client registration,
authorization with PKCE (this script plays the owner in the browser: it fills the login and
consent forms), the token exchange, then MCP calls through the gateway. Prints one JSON object
on stdout for tests/e2e/python_client.test.mjs to check.

Usage: python py_client.py <MCP URL>   (owner password in $GATEHOUSE_OWNER_PASSWORD)
"""

import asyncio
import json
import os
import sys
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

REDIRECT_URI = "http://127.0.0.1:47654/oauth/callback"
CLIENT_COOKIE = "client_session=sent-by-the-python-client"
TIMEOUT = httpx2.Timeout(30.0, read=60.0)


class MemoryStorage:
    """In-memory TokenStorage."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class FormParser(HTMLParser):
    """Collects the POST forms of a page: action, hidden fields, input names, buttons."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "form":
            self._in_form = a.get("method", "get").lower() == "post"
            if self._in_form:
                self.forms.append({"action": a.get("action", ""), "hidden": {}, "inputs": [], "buttons": []})
        elif self._in_form and tag == "input":
            form = self.forms[-1]
            form["inputs"].append(a.get("name", ""))
            if a.get("type", "").lower() == "hidden" and a.get("name"):
                form["hidden"][a["name"]] = a.get("value", "")
        elif self._in_form and tag == "button":
            self.forms[-1]["buttons"].append((a.get("name", ""), a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


class Owner:
    """The owner in a browser: cookies for Gatehouse's origin, forms, same-origin redirects."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.cookies: dict[str, str] = {}
        self.steps: list[str] = []

    async def _request(self, http: httpx2.AsyncClient, method: str, url: str, form: dict | None = None):
        headers = {"Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = await http.request(method, url, headers=headers, data=form)
        http.cookies.clear()  # the jar above is the only one
        for line in response.headers.get_list("set-cookie"):
            name, _, rest = line.partition("=")
            value = rest.split(";", 1)[0].strip()
            attrs = rest.lower()
            if "max-age=0" in attrs.replace(" ", "") or not value:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        self.steps.append(f"{method} {url} -> {response.status_code}")
        return response

    async def approve(self, authorization_url: str) -> str:
        """Walks login and consent; returns the first redirect off Gatehouse's origin."""
        origin = "{0.scheme}://{0.netloc}".format(urlparse(authorization_url))
        async with httpx2.AsyncClient(follow_redirects=False, timeout=TIMEOUT) as http:
            response = await self._request(http, "GET", authorization_url)
            for _ in range(10):
                url = str(response.request.url)
                if 300 <= response.status_code < 400:
                    location = urljoin(url, response.headers["location"])
                    if "{0.scheme}://{0.netloc}".format(urlparse(location)) != origin:
                        return location
                    response = await self._request(http, "GET", location)
                    continue
                parser = FormParser()
                parser.feed(response.text)
                if response.status_code != 200 or not parser.forms:
                    raise RuntimeError(f"owner flow stuck at {url}: HTTP {response.status_code}: {response.text[:300]}")
                form = next((f for f in parser.forms if ("decision", "approve") in f["buttons"]), parser.forms[0])
                data = dict(form["hidden"])
                if "password" in form["inputs"]:
                    data["password"] = self.password
                if any(name == "decision" for name, _ in form["buttons"]):
                    data["decision"] = "approve"
                response = await self._request(http, "POST", urljoin(url, form["action"]), data)
        raise RuntimeError(f"owner flow did not finish: {self.steps}")


def text_of(result) -> str:
    return next(c.text for c in result.content if getattr(c, "type", None) == "text")


async def main() -> None:
    url = sys.argv[1]
    owner = Owner(os.environ["GATEHOUSE_OWNER_PASSWORD"])
    storage = MemoryStorage()
    out: dict = {"authorizations": 0, "callbacks": []}

    async def redirect_handler(authorization_url: str) -> None:
        out["authorizations"] += 1
        out["authorization_url"] = authorization_url
        out["callbacks"].append(await owner.approve(authorization_url))

    async def callback_handler() -> AuthorizationCodeResult:
        q = parse_qs(urlparse(out["callbacks"][-1]).query)
        first = lambda k: q.get(k, [None])[0]  # noqa: E731
        if first("error"):
            raise RuntimeError(f"authorization failed: {out['callbacks'][-1]}")
        return AuthorizationCodeResult(code=first("code"), state=first("state"), iss=first("iss"))

    def provider() -> OAuthClientProvider:
        return OAuthClientProvider(
            server_url=url,
            client_metadata=OAuthClientMetadata(
                client_name="gatehouse e2e (Python SDK)",
                redirect_uris=[REDIRECT_URI],
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                token_endpoint_auth_method="none",
            ),
            storage=storage,
            redirect_handler=redirect_handler,
            callback_handler=callback_handler,
        )

    # 1. Fresh client: 401 -> discovery -> DCR -> owner approves -> token -> MCP calls.
    async with httpx2.AsyncClient(auth=provider(), timeout=TIMEOUT, headers={"Cookie": CLIENT_COOKIE}) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            out["protocol_version"] = client.protocol_version
            out["tools"] = sorted(t.name for t in (await client.list_tools()).tools)
            out["echo"] = text_of(await client.call_tool("echo", {"text": "hello from python ✓"}))
            out["add"] = text_of(await client.call_tool("add", {"a": 20, "b": 22}))
            out["whoami"] = json.loads(text_of(await client.call_tool("whoami", {})))
    out["client_id"] = storage.client_info.client_id if storage.client_info else None
    out["access_token"] = storage.tokens.access_token if storage.tokens else None
    out["has_refresh_token"] = bool(storage.tokens and storage.tokens.refresh_token)

    # 2. A new provider over the same storage (a restarted client): no new authorization.
    async with httpx2.AsyncClient(auth=provider(), timeout=TIMEOUT) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            out["echo_again"] = text_of(await client.call_tool("echo", {"text": "again"}))
    out["owner_steps"] = owner.steps
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
