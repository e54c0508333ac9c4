"""``/report-an-issue title body [label]``: a GitHub issue through the REST API (upstream's
``discord_report``: ``POST /repos/{owner}/{repo}/issues``, 20 s).

The token: ``GO_TRADER_GITHUB_TOKEN``, else ``GITHUB_TOKEN``, else the config's
``discord.report_github_token``. The repository: ``discord.report_repo`` (``owner/name``).
Where we differ from upstream: there is no default repository (upstream files into its author's
repository; an operator of this port chooses where reports go), so an unset key is answered
with the key to set. ``GO_TRADER_GITHUB_API_URL`` points the calls at another API base (a
GitHub Enterprise host, or the tests' fake on 127.0.0.1). Errors are one line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import requests

from shared_tools.urls import insecure_base

API_ENV = "GO_TRADER_GITHUB_API_URL"
DEFAULT_API = "https://api.github.com"
TOKEN_ENVS = ("GO_TRADER_GITHUB_TOKEN", "GITHUB_TOKEN")
TIMEOUT_S = 20.0
WHY = {
    401: "GitHub refused the token (401): check GO_TRADER_GITHUB_TOKEN / GITHUB_TOKEN / "
    "discord.report_github_token",
    403: "GitHub refused the token (403): it needs the Issues write permission on {repo}",
    404: "GitHub does not know the repository {repo} (404), or the token cannot see it: "
    "check discord.report_repo",
    410: "Issues are turned off on {repo} (410)",
    422: "GitHub refused the issue (422): {detail}",
}


@dataclass(frozen=True)
class ReportSettings:
    """The config's side (``discord.report_repo``, ``discord.report_github_token``)."""

    repo: str = ""
    token: str = ""


def token(settings: ReportSettings, env: Mapping[str, str]) -> str:
    for name in TOKEN_ENVS:
        if env.get(name):
            return env[name]
    return settings.token


def report(
    settings: ReportSettings,
    title: str,
    body: str,
    label: str = "",
    env: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
) -> str:
    """File the issue; the issue's URL, or one line saying what to fix."""
    env = os.environ if env is None else env
    repo = settings.repo.strip()
    if not repo:
        return "discord.report_repo is not set: set it to owner/name (the repository for reports)."
    tok = token(settings, env)
    if not tok:
        return (
            "No GitHub token: set GO_TRADER_GITHUB_TOKEN (or GITHUB_TOKEN) in the bridge's "
            "environment, or discord.report_github_token."
        )
    if not title.strip() or not body.strip():
        return "report-an-issue needs a title and a body."
    doc: dict[str, object] = {"title": title.strip(), "body": body}
    if label.strip():
        doc["labels"] = [label.strip()]
    base = (env.get(API_ENV) or DEFAULT_API).rstrip("/")
    why = insecure_base(API_ENV, base, "the GitHub API base")
    if why:
        return why
    http = session or requests.Session()
    try:
        r = http.post(
            f"{base}/repos/{repo}/issues",
            json=doc,
            headers={
                "Authorization": f"Bearer {tok}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            timeout=TIMEOUT_S,
        )
    except requests.RequestException as exc:
        return f"GitHub did not answer ({type(exc).__name__}); nothing was filed."
    if r.status_code == 201:
        try:
            return f"✅ Issue filed: {r.json()['html_url']}"
        except (ValueError, KeyError, TypeError):
            return f"✅ Issue filed on {repo}."
    return WHY.get(r.status_code, "GitHub answered {code}: {detail}").format(
        repo=repo, code=r.status_code, detail=_detail(r)
    )


def _detail(r: requests.Response) -> str:
    """GitHub's own message, one line (a 422 names the bad field, e.g. an unknown label)."""
    try:
        doc = r.json()
    except ValueError:
        return r.text[:200].replace("\n", " ") or "no detail"
    parts = [str(doc.get("message") or "")]
    for err in doc.get("errors") or []:
        if isinstance(err, dict):
            parts.append(
                " ".join(str(err.get(k)) for k in ("field", "code", "value") if err.get(k))
            )
        else:
            parts.append(str(err))
    return "; ".join(p for p in parts if p)[:300] or "no detail"
