"""The dependency tree of a job: what it waits for, its parent, what runs after it and what
it started; enter opens the job under the cursor."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from jobs_core import JobSummary
from jobs_tui.job_graph import JobGraph, fetch_graph
from jobs_tui.messages import GraphLoaded
from jobs_tui.screens.base import DataScreen
from jobs_tui.themes import Palette
from jobs_tui.widgets.job_rows import STATE_ROLES

JobTree = Tree[int]


def label(job: JobSummary, relation: str, palette: Palette) -> Text:
    """`waits for #7 import_csv  completed`."""
    role = STATE_ROLES.get(job.state, "accent")
    text = Text()
    if relation:
        text.append(f"{relation} ", style=palette["muted"])
    text.append(f"#{job.id} ", style="bold")
    text.append(job.command)
    text.append(f"  {job.state}", style=palette[role])
    if job.error_message:
        text.append(f"  {job.error_message.splitlines()[0][:80]}", style=palette["muted"])
    return text


def fill(tree: JobTree, graph: JobGraph, palette: Palette) -> None:
    """Draw `graph` into `tree` (cleared first), every branch open."""
    tree.clear()
    tree.root.set_label(label(graph.root, "", palette))
    tree.root.data = graph.root.id
    node = tree.root
    for ancestor in graph.ancestors:
        text = label(ancestor, "waits for", palette)
        if ancestor.depends_on is None:
            node.add_leaf(text, data=ancestor.id)
        else:
            node = node.add(text, data=ancestor.id, expand=True)
    if graph.parent is not None:
        tree.root.add_leaf(label(graph.parent, "started by", palette), data=graph.parent.id)
    _branch(tree.root, graph.root.id, graph.dependents, "runs after it", palette)
    _branch(tree.root, graph.root.id, graph.children, "started", palette)
    if graph.cut:
        tree.root.add_leaf(Text("… more relations not shown", style=palette["muted"]))
    tree.root.expand_all()


def _branch(
    node: TreeNode[int], job_id: int, related: dict[int, list[JobSummary]], relation: str,
    palette: Palette,
) -> None:  # fmt: skip
    for job in related.get(job_id, []):
        text = label(job, relation, palette)
        if related.get(job.id):
            child = node.add(text, data=job.id, expand=True)
            _branch(child, job.id, related, relation, palette)
        else:
            node.add_leaf(text, data=job.id)


class TreeScreen(DataScreen):
    """Relations of one job, refreshed when the store changes."""

    TICK_SECONDS = None

    def __init__(self, job_id: int) -> None:
        super().__init__()
        self.job_id = job_id

    def screen_title(self) -> str:
        return f"#{self.job_id} relations"

    def compose_body(self) -> ComposeResult:
        tree: JobTree = Tree("", id="graph")
        tree.auto_expand = False
        tree.show_root = True
        yield tree
        yield Static("enter opens the job under the cursor; escape goes back",
                     classes="list-footer")  # fmt: skip

    def on_mount(self) -> None:
        self.query_one(Tree).focus()
        super().on_mount()

    async def fetch(self) -> GraphLoaded:
        return GraphLoaded(await fetch_graph(self.jobs, self.job_id))

    def on_graph_loaded(self, message: GraphLoaded) -> None:
        tree = self.query_one(JobTree)
        cursor = tree.cursor_line
        fill(tree, message.graph, self.palette())
        tree.cursor_line = cursor
        self.loaded = True

    def on_tree_node_selected(self, event: Tree.NodeSelected[int]) -> None:
        event.stop()
        if event.node.data is not None:
            self.jobs_app.open_job(event.node.data)
