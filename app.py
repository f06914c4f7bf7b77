"""ModelForge: serve the studio.

    python app.py                        http://127.0.0.1:7860
    python app.py --host 0.0.0.0 --port 8080
    python app.py --auth user:password   (or MODELFORGE_AUTH=user:password)
    python app.py --share                a public link, when this machine can reach the share server
    python app.py --root-path /forge     behind a reverse proxy serving the app under /forge
    python app.py --mcp                  also serve the studio's actions as MCP tools for AI clients
                                         (or MODELFORGE_MCP=1), at http://127.0.0.1:7860/gradio_api/mcp/

Heavy ML libraries load on first use, so the page is up in seconds.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="app.py", description="Serve the ModelForge studio.")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
                   help="port (default 7860, or GRADIO_SERVER_PORT)")
    p.add_argument("--share", action="store_true", help="also serve through a temporary public share link")
    p.add_argument("--auth", default=os.environ.get("MODELFORGE_AUTH"),
                   help="require a login: user:password (or MODELFORGE_AUTH)")
    p.add_argument("--root-path", default=os.environ.get("GRADIO_ROOT_PATH"),
                   help="the URL path the app is served under behind a proxy, e.g. /forge")
    p.add_argument("--mcp", action="store_true",
                   default=os.environ.get("MODELFORGE_MCP", "").strip().lower() in ("1", "true", "yes"),
                   help="also serve the studio's actions as MCP tools for AI clients, at /gradio_api/mcp/ "
                        "(or MODELFORGE_MCP=1)")
    return p.parse_args(argv)


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise SystemExit("--auth (or MODELFORGE_AUTH) must be user:password, for example --auth admin:s3cret")
    return user, password


def share_server_reachable(timeout: float = 3.0) -> tuple[bool, str]:
    """Whether the Gradio share server answers; and why not."""
    if os.environ.get("GRADIO_SHARE_SERVER_ADDRESS"):
        host, _, port = os.environ["GRADIO_SHARE_SERVER_ADDRESS"].rpartition(":")
        target = (host, int(port or 443))
    else:
        target = ("api.gradio.app", 443)
    try:
        with socket.create_connection(target, timeout=timeout):
            return True, ""
    except OSError as e:
        return False, f"this machine cannot reach the share server {target[0]}:{target[1]} ({e.strerror or e})"


def report_runs() -> None:
    """Reconcile the run store with the workers and folders at start (not on the first submit), and
    say what was found: runs still training in their own processes, runs cut off, space freed."""
    from forge.housekeeping import clean_temp
    from forge.models import human_size
    from forge.training import get_queue

    clean_temp()
    queue = get_queue()
    found = queue.reconciled
    live = queue.active_ids()
    if live:
        print(f"* {len(live)} run(s) active or queued from before: {', '.join(live)} (shown on the page)", flush=True)
    if found["interrupted"]:
        print(f"* {len(found['interrupted'])} run(s) were cut off while no server watched them and are marked "
              f"interrupted (resume them from the page): {', '.join(found['interrupted'])}", flush=True)
    if found["removed"]:
        print(f"* Removed {len(found['removed'])} half-written model or checkpoint folder(s) and temporary "
              f"file(s), freeing {human_size(found['freed_bytes'])}.", flush=True)


def mcp_wanted(requested: bool, auth: tuple[str, str] | None) -> bool:
    """Whether to serve the MCP tools. Not behind a login: MCP clients cannot log in, so the tools would
    be listed to anyone and fail when called."""
    if requested and auth:
        print("* --mcp is ignored with --auth: MCP clients cannot log in, so its tools could not act. Serve "
              "them from an app without a login that only this machine reaches (the default --host 127.0.0.1).",
              flush=True)
        return False
    return requested


def report_mcp(demo) -> None:
    """Say where an AI client connects to the studio's MCP tools, or why they are not served."""
    from forge.ui.mcp_tools import mcp_url

    if not demo.mcp_server:
        print(f"* The MCP server could not start: {demo.mcp_error}", flush=True)
        return
    print(f"* MCP server for AI clients (streamable HTTP): {mcp_url(demo.share_url or demo.local_url)} "
          "(stdio-only clients: npx mcp-remote <that URL>)", flush=True)


def share_wanted(requested: bool) -> tuple[bool, str]:
    """Whether to ask for a public share link, and why not when it was asked for: a Space is public
    already, and the share server may be out of reach."""
    if not requested:
        return False, ""
    if os.environ.get("SPACE_ID"):
        print("* --share is ignored on a Hugging Face Space: the Space's own address is already public.")
        return False, ""
    return share_server_reachable()


def check_home() -> None:
    """Stop at once, with the reason, when the studio's home folder cannot be written."""
    from forge.errors import ForgeError
    from forge.settings import check_writable, get_settings

    try:
        check_writable(get_settings().home)
    except ForgeError as e:
        raise SystemExit(f"Error: {e}") from None


def app_options(args: argparse.Namespace, auth: tuple[str, str] | None, share: bool):
    """How the app is served (public? a login? an API key?): what the page and the /v1 routes read."""
    from forge.serving.auth import KEY_ENV, AppOptions, is_loopback

    space = bool(os.environ.get("SPACE_ID"))
    return AppOptions(public=share or space or not is_loopback(args.host), share_link=args.share and not space,
                      auth=auth, api_key=os.environ.get(KEY_ENV) or None)


def report_share(demo, why_not: str, unprotected: bool) -> None:
    """Say where the public link is, or why there is none; warn when anyone with it can use the studio."""
    from forge.ui.hub import SHARE_WARNING

    if demo.share_url:
        print(f"* Public link: {demo.share_url}", flush=True)
    else:
        reason = why_not or "the share server did not answer (see the message above)"
        print(f"* No public share link could be made: {reason}. The app is served locally only, "
              f"at {demo.local_url}", flush=True)
    if unprotected:
        print(f"* WARNING: {SHARE_WARNING}", flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    auth = parse_auth(args.auth)
    share, why_not = share_wanted(args.share)
    check_home()
    from forge.serving.auth import describe
    from forge.ui import build_app, launch_kwargs

    options = app_options(args, auth, share)
    demo = build_app(options)
    mcp = mcp_wanted(args.mcp, auth)
    report_runs()
    demo.launch(server_name=args.host, server_port=args.port, share=share, auth=auth, root_path=args.root_path,
                prevent_thread_lock=True, quiet=True, **launch_kwargs(mcp=mcp))
    print(f"* ModelForge is running on {demo.local_url}", flush=True)
    print(f"* OpenAI-compatible API: {demo.local_url.rstrip('/')}/v1 ({describe(options)})", flush=True)
    if mcp:
        report_mcp(demo)
    if args.share:
        report_share(demo, why_not, options.shared_without_login)  # the page shows the same warning
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
