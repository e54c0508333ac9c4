"""Render the dashboard's HTML page from its Jinja2 template, as JSON ``{"html": ...}``.

    render_dashboard.py [--version=0.1.0] [--page=dashboard|reports|strategy-audit|tuning]

A worker because Jinja2 loads ``hashlib`` (and so OpenSSL), which the supervisor never imports;
the supervisor runs this once, on the first request for ``/dashboard``, and keeps the page. The
page holds no data and no token: its script reads the API with the token the operator gives.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared_tools.worker import ContractParser, run_worker  # noqa: E402

TEMPLATES = Path(__file__).resolve().parent.parent / "supervisor" / "http" / "templates"
TEMPLATE = "dashboard.html.j2"
# page name -> template: the dashboard and the report pages (supervisor/http/routes.REPORT_PAGES)
PAGES = {
    "dashboard": TEMPLATE,
    "reports": "reports.html.j2",
    "strategy-audit": "strategy_audit.html.j2",
    "tuning": "tuning.html.j2",  # /tuning (supervisor/http/tuning.py)
}


def build_parser() -> ContractParser:
    p = ContractParser(prog="render_dashboard.py", description="The dashboard's HTML page")
    p.add_argument("--version", default="", help="shown in the page and used to bust caches")
    p.add_argument("--page", default="dashboard", choices=sorted(PAGES), help="which page")
    return p


def handle(ns, _stdin) -> dict:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    html = env.get_template(PAGES[ns.page]).render(
        version=ns.version, asset_tag=ns.version or "dev"
    )
    return {"html": html}


def prepare(_ns) -> None:
    """Load the templates so --probe-only proves this tree can render every page."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES))
    for template in PAGES.values():
        env.get_template(template)


if __name__ == "__main__":
    sys.exit(run_worker(build_parser(), handle, prepare=prepare))
