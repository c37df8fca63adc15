"""The Gradio review app over a review store (``engage review``).

Private by default: it binds 127.0.0.1, never makes a share link, sends no analytics, keeps no
run history in the browser, serves no files, takes no uploads, and exposes no API page. Post text is only ever
put into text components, which render it as text.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing leaves the machine

import gradio as gr  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from engage.errors import UserError  # noqa: E402
from engage.review.store import DEFAULT_LABELS, ReviewStore  # noqa: E402
from review_app import handlers  # noqa: E402

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")

# a, r, s, u press the queue's buttons, unless the reviewer is typing in a text box or a modifier key is held.
SHORTCUTS = """
<script>
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  const t = event.target;
  // Only places that take text swallow the letters: a focused checkbox, radio or button does not.
  const typing = t && t.closest && (
    t.closest("textarea, select, [contenteditable=''], [contenteditable='true']") ||
    (t.tagName === "INPUT" && !["checkbox", "radio", "button", "submit", "reset", "range", "color"].includes(t.type))
  );
  if (typing) return;
  const ids = {a: "approve-btn", r: "reject-btn", s: "skip-btn", u: "undo-btn"};
  const id = ids[event.key];
  if (!id) return;
  const el = document.getElementById(id);
  const button = el && (el.tagName === "BUTTON" ? el : el.querySelector("button"));
  if (!button || button.disabled || button.offsetParent === null) return;  // queue tab not showing
  event.preventDefault();
  button.click();
});
</script>
"""

CSS = "#post-text textarea { font-size: 1.1em; }"
UPLOAD_PATHS = ("/gradio_api/upload", "/gradio_api/upload_progress")


class RefuseUploads:
    """ASGI middleware: the app has no file inputs, so Gradio's upload routes answer 404 to everyone.

    Gradio 6 has no switch for them, and ``POST /gradio_api/upload`` otherwise stores a file sent by
    anyone who can reach the port, without a session.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].rstrip("/") in UPLOAD_PATHS:
            await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"Not Found"})
            return
        await self.app(scope, receive, send)


class _Stores:
    """One connection per server thread (SQLite connections are not shared between threads)."""

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        ReviewStore(path).close()  # fail now, with one line, if it cannot be opened

    def get(self) -> ReviewStore:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = ReviewStore(self.path)
        return store


def _actor(request: gr.Request | None) -> str:
    return (getattr(request, "username", None) or "owner") if request is not None else "owner"


def build_app(store_path: str | Path, labels: tuple[str, ...] = DEFAULT_LABELS) -> gr.Blocks:
    stores = _Stores(Path(store_path))
    private = {"api_visibility": "private"}

    with gr.Blocks(title="engage review", analytics_enabled=False) as app:
        gr.Markdown("## engage review\nNothing is posted from here. Approve what you would post yourself.")
        with gr.Tab("Queue", id="queue") as queue_tab:
            current = gr.State({"id": None, "version": 0})
            progress = gr.Textbox(label="Queue", interactive=False, elem_id="progress")
            text = gr.Textbox(label="Post (edit before approving if you like)", lines=4, elem_id="post-text")
            flags = gr.Textbox(label="Flags", interactive=False, elem_id="flags")
            with gr.Row():
                nearest = gr.Textbox(label="Nearest of your posts", interactive=False, lines=3, elem_id="nearest")
                model = gr.Textbox(label="Model", interactive=False, elem_id="model")
            label_box = gr.CheckboxGroup(choices=list(labels), label="Labels", elem_id="labels")
            note = gr.Textbox(label="Note", lines=1, elem_id="note")
            with gr.Row():
                approve = gr.Button("Approve (a)", variant="primary", elem_id="approve-btn")
                reject = gr.Button("Reject (r)", variant="stop", elem_id="reject-btn")
                skip = gr.Button("Skip (s)", elem_id="skip-btn")
                undo = gr.Button("Undo (u)", elem_id="undo-btn")
            message = gr.Textbox(label="Last action", interactive=False, elem_id="message")

        queue_outputs = [current, progress, text, flags, nearest, model, label_box, note, message]

        def render(view: handlers.CandidateView):
            return (
                {"id": view.id, "version": view.version},
                view.progress,
                gr.update(value=view.text, interactive=view.id is not None),
                view.flags,
                gr.update(value=view.nearest, label=view.nearest_title),
                view.model,
                view.labels,
                view.note,
                view.message,
            )

        def warn(view):
            if view.warning:
                gr.Warning(view.message)  # a toast the reviewer cannot miss, besides the "Last action" box
            return view

        def load_queue():
            return render(handlers.show_next(stores.get()))

        def make_action(action: str):
            def run(state, post_text, chosen_labels, note_text, request: gr.Request):
                view = handlers.act(
                    stores.get(),
                    action,
                    state.get("id"),
                    state.get("version", 0),
                    post_text,
                    chosen_labels,
                    note_text,
                    _actor(request),
                )
                return render(warn(view))

            return run

        inputs = [current, text, label_box, note]
        for button, action in ((approve, "approve"), (reject, "reject"), (skip, "skip"), (undo, "undo")):
            button.click(make_action(action), inputs, queue_outputs, trigger_mode="once", **private)

        with gr.Tab("Compare", id="compare") as compare_tab:
            pair = gr.State({"left": None, "right": None})
            prompt = gr.Textbox(label="Prompt", interactive=False, elem_id="compare-prompt")
            with gr.Row():
                left = gr.Textbox(label="Left", interactive=False, lines=4, elem_id="compare-left")
                right = gr.Textbox(label="Right", interactive=False, lines=4, elem_id="compare-right")
            with gr.Row():
                left_better = gr.Button("Left is better", elem_id="left-btn")
                tie = gr.Button("Tie", elem_id="tie-btn")
                right_better = gr.Button("Right is better", elem_id="right-btn")
            compare_message = gr.Textbox(label="Last choice", interactive=False, elem_id="compare-message")

        compare_outputs = [pair, prompt, left, right, compare_message]

        def render_pair(view: handlers.PairView):
            # Blind: texts only. Which model wrote which side is said in the message after the choice.
            return {"left": view.left_id, "right": view.right_id}, view.prompt, view.left, view.right, view.message

        def make_choice(choice: str):
            def run(state, request: gr.Request):
                return render_pair(
                    warn(handlers.choose(stores.get(), state["left"], state["right"], choice, _actor(request)))
                )

            return run

        for button, choice in ((left_better, "left"), (tie, "tie"), (right_better, "right")):
            button.click(make_choice(choice), [pair], compare_outputs, trigger_mode="once", **private)

        with gr.Tab("Approved", id="approved") as approved_tab:
            gr.Markdown("Click a post's row to copy it or mark it published.")
            table = gr.Dataframe(headers=handlers.APPROVED_HEADERS, interactive=False, wrap=True, elem_id="approved")
            chosen = gr.State({"id": None, "version": 0})
            approved_text = gr.Textbox(
                label="Text to post", interactive=False, buttons=["copy"], elem_id="approved-text"
            )
            with gr.Row():
                ref = gr.Textbox(label="Published post id or URL", elem_id="published-ref")
                when = gr.Textbox(label="Published at (ISO 8601, empty for now)", elem_id="published-at")
                mark = gr.Button("Mark published", elem_id="publish-btn")
            approved_message = gr.Textbox(label="Last action", interactive=False, elem_id="approved-message")

        def load_approved():
            return handlers.approved_rows(stores.get())

        def show_one(event: gr.SelectData):
            candidate_id = event.row_value[0] if event.row_value else None
            value, version, msg = handlers.approved_one(stores.get(), candidate_id)
            return value, {"id": candidate_id if version else None, "version": version}, msg

        def mark_published(state, ref_text, when_text, request: gr.Request):
            store = stores.get()
            msg = handlers.publish(store, state["id"], state["version"], ref_text, when_text, _actor(request))
            value, version, _ = handlers.approved_one(store, state["id"])
            return handlers.approved_rows(store), {"id": state["id"], "version": version}, msg

        table.select(show_one, None, [approved_text, chosen, approved_message], **private)
        mark.click(
            mark_published, [chosen, ref, when], [table, chosen, approved_message], trigger_mode="once", **private
        )

        with gr.Tab("Stats", id="stats") as stats_tab:
            stats_table = gr.Dataframe(headers=handlers.STATS_HEADERS, interactive=False, elem_id="stats")
            label_table = gr.Dataframe(interactive=False, label="Labels per model", elem_id="label-stats")
            gr.Markdown(
                "Acceptance = approved / decided. The interval is a 95% Wilson score interval: with few "
                "decisions it is wide, and two models whose intervals overlap may not differ at all."
            )

        def load_stats():
            rows, label_headers, label_rows = handlers.stats_rows(stores.get())
            return rows, gr.update(value=label_rows, headers=label_headers)

        queue_tab.select(load_queue, None, queue_outputs, **private)
        compare_tab.select(lambda: render_pair(handlers.show_pair(stores.get())), None, compare_outputs, **private)
        approved_tab.select(load_approved, None, [table], **private)
        stats_tab.select(load_stats, None, [stats_table, label_table], **private)
        app.load(load_queue, None, queue_outputs, **private)
    return app


def check_host(host: str, auth: tuple[str, str] | None) -> None:
    if host not in LOCAL_HOSTS and auth is None:
        raise UserError(
            f"--host {host} lets other machines reach your unpublished posts; add --auth USER:PASSWORD "
            "(or set ENGAGE_REVIEW_AUTH), or keep the default 127.0.0.1"
        )


def serve(
    store_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: tuple[str, str] | None = None,
    labels: tuple[str, ...] = DEFAULT_LABELS,
    open_browser: bool = False,
) -> None:
    check_host(host, auth)
    app = build_app(store_path, labels)
    app.queue(default_concurrency_limit=4)
    where = "this machine only" if host in LOCAL_HOSTS else "other machines too, behind --auth"
    print(f"engage review: serving {store_path} at http://{host}:{port} ({where}); Ctrl-C to stop", file=sys.stderr)
    try:
        app.launch(
            server_name=host,
            server_port=port,
            auth=auth,
            share=False,
            inbrowser=open_browser,
            show_error=False,
            footer_links=[],  # no API page, no settings page, no run history link
            run_history=False,  # nothing the owner reviews is kept in the browser
            enable_monitoring=False,
            mcp_server=False,
            pwa=False,
            ssr_mode=False,
            allowed_paths=[],
            max_file_size="1kb",  # the app takes no uploads (and RefuseUploads closes the upload routes)
            app_kwargs={"middleware": [Middleware(RefuseUploads)]},
            strict_cors=True,
            head=SHORTCUTS,
            css=CSS,
            quiet=True,  # Gradio's own banner suggests share links; this app never makes one
        )
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port} ({exc}); pass another --port") from None
