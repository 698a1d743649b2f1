"""`gr-colab leaderboard` on model cards written by the kit's own card builder (hub.model_card): offline on a folder
of cards, and on the Hub path through a fake HfApi (named as such: the Hub's servers are out of reach here) whose
every call is checked against huggingface_hub's real signatures."""
from __future__ import annotations

import csv
import inspect
import json
from types import SimpleNamespace

import pytest

from gr_colab.cli import main
from gr_colab.config import GRConfig
from gr_colab.hub import model_card
from gr_colab.leaderboard import PUBLISHED, board_figure, build

# (benchmark, task) -> F1 (official) of three students; corrected figures differ so the mode matters
STUDENTS = {
    "alice": {("SimpleSafetyTests", "request"): 88.0, ("AegisSafetyTest", "request"): 72.0,
              ("HarmBenchResponse", "response"): 61.5, ("XSTestResponseRefusal", "completion"): 80.0},
    "bob": {("SimpleSafetyTests", "request"): 95.0, ("AegisSafetyTest", "request"): 81.0,
            ("HarmBenchResponse", "response"): 70.25, ("XSTestResponseRefusal", "completion"): 90.0},
    "carol": {("SimpleSafetyTests", "request"): 40.0, ("AegisSafetyTest", "request"): 30.0},
}


def card_text(name: str) -> str:
    scores = [{"name": b, "task": t, "mode": mode, "f1": f1 - (5 if mode == "corrected" else 0)}
              for (b, t), f1 in STUDENTS[name].items() for mode in ("official", "corrected")]
    return model_card(GRConfig.load("cpu-tiny"), "(report)", scores=scores)


@pytest.fixture
def cards(tmp_path):
    """A folder as an instructor collects it: one sub-folder per student with the README.md the export wrote, a
    card that was never evaluated, and a file that is not a card."""
    root = tmp_path / "cards"
    for name in STUDENTS:
        (root / name).mkdir(parents=True)
        (root / name / "README.md").write_text(card_text(name))
    (root / "dave").mkdir()
    (root / "dave" / "README.md").write_text(model_card(GRConfig.load("cpu-tiny")))  # no evaluation
    (root / "eve").mkdir()
    (root / "eve" / "README.md").write_text("---\nbase_model: [unclosed\n---\nnot yaml")
    return root


def test_the_offline_board_ranks_students_by_their_cards_and_sets_the_published_guards_beside(cards, tmp_path,
                                                                                           capsys):
    out = tmp_path / "board"
    assert main(["leaderboard", str(cards), "--out", str(out), "--offline"]) == 0
    printed, err = capsys.readouterr()
    assert "skipped dave" in err and "no F1 (official)" in err
    assert "skipped" in err and "eve" in err and "not a model card" in err
    rows = list(csv.DictReader((out / "leaderboard.csv").open()))
    students = [r for r in rows if r["kind"] == "student"]
    assert [r["model"] for r in students] == ["bob", "alice", "carol"]  # by the mean of their task F1
    bob = students[0]
    assert float(bob["request"]) == pytest.approx((95.0 + 81.0) / 2) and float(bob["response"]) == 70.25
    assert float(bob["completion"]) == 90.0 and students[2]["response"] == "" and students[2]["completion"] == ""
    assert bob["benchmarks"] == "SimpleSafetyTests, AegisSafetyTest, HarmBenchResponse, XSTestResponseRefusal"
    published = json.loads(PUBLISHED.read_text())["guards"]
    pub = [r for r in rows if r["kind"] == "published"]
    assert [r["model"] for r in pub] == [g["model"] for g in published]
    assert float(pub[0]["request"]) == published[0]["request"] == 77.68  # GuardReasoner 1B, docs/guards.md
    md = (out / "leaderboard.md").read_text()
    assert md.startswith("# Class leaderboard\n") and md.split("\n\n", 1)[1].strip() in printed
    assert "| 1 | bob | student | 88.00 | 70.25 | 90.00 |" in md and "|  | GuardReasoner 8B | published |" in md
    assert (out / "leaderboard.png").stat().st_size > 10_000
    corrected = build([str(cards)], mode="corrected", with_published=False)
    assert corrected.rows[0]["model"] == "bob" and corrected.rows[0]["completion"] == 85.0


def test_the_plot_writes_every_models_f1_per_task(cards):
    board = build([str(cards)])
    fig = board_figure(board, "Workshop 1")
    fig.draw_without_rendering()
    assert "Workshop 1" in fig._suptitle.get_text()
    for ax, task in zip(fig.axes, ("request", "response", "completion")):
        expected = ["n/a" if r[task] is None else f"{r[task]:.1f}" for r in board.rows][::-1]
        assert [t.get_text() for t in ax.texts] == expected
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [r["model"] for r in board.rows][::-1]


def test_nothing_to_rank_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["leaderboard", str(tmp_path / "empty"), "--offline"]) == 2
    err = capsys.readouterr().err
    assert "no README.md or *.md card" in err and "gr-colab: error: no model card with F1 scores" in err


class FakeHfApi:
    """A fake for the Hub (unreachable here): an organisation with the three students' repos tagged gr-colab and
    one repo whose card is gone. Every call is recorded to be checked against HfApi's real signature."""

    def __init__(self, folder):
        self.folder = folder
        self.calls = []

    def list_models(self, **kwargs):
        self.calls.append(("list_models", kwargs))
        return iter([SimpleNamespace(id=f"class-org/{n}") for n in [*STUDENTS, "gone"]])

    def hf_hub_download(self, **kwargs):
        self.calls.append(("hf_hub_download", kwargs))
        name = kwargs["repo_id"].split("/")[1].split("-")[0]  # someone/bob-guard: bob's card
        if name == "gone":
            from huggingface_hub.errors import EntryNotFoundError

            raise EntryNotFoundError("404: README.md")
        path = self.folder / kwargs["repo_id"].replace("/", "--") / "README.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(card_text(name))
        return str(path)


def test_the_hub_path_lists_an_organisations_models_and_reads_each_card(tmp_path):
    from huggingface_hub import HfApi

    api = FakeHfApi(tmp_path)
    board = build(["class-org", "someone/bob-guard"], api=api, token="hf_fake", with_published=False)
    for name, kwargs in api.calls:  # the kit calls HfApi as its real signature allows
        inspect.signature(getattr(HfApi, name)).bind(HfApi, **kwargs)
    assert api.calls[0] == ("list_models", {"author": "class-org", "filter": "gr-colab", "token": "hf_fake"})
    downloads = [kw["repo_id"] for name, kw in api.calls if name == "hf_hub_download"]
    assert downloads == ["class-org/alice", "class-org/bob", "class-org/carol", "class-org/gone",
                         "someone/bob-guard"]
    assert all(kw["filename"] == "README.md" and kw["token"] == "hf_fake" for n, kw in api.calls
               if n == "hf_hub_download")
    # the repo whose card is gone is skipped and named; the others are read and ranked (ties keep their order)
    assert [r["model"] for r in board.rows] == ["class-org/bob", "someone/bob-guard", "class-org/alice",
                                                 "class-org/carol"]
    assert [s for s, _ in board.skipped] == ["class-org/gone"] and "EntryNotFoundError" in board.skipped[0][1]


@pytest.mark.slow
def test_the_board_reads_the_card_of_the_twins_own_run(trained_run, tmp_path):
    """The twin's R-SFT run (conftest), evaluated by the pipeline; its card written as the export writes it (the
    evaluation report's scores as model-index); the board's F1 per task is the mean of the card's official F1."""
    from gr_colab.pipeline import run_stage

    run_stage(trained_run, "eval")  # in this module's copy of the trained run
    report = json.loads((trained_run.path / "eval" / "rsft" / "report.json").read_text())
    (tmp_path / "twin").mkdir()
    (tmp_path / "twin" / "README.md").write_text(model_card(trained_run, scores=report["scores"]))
    board = build([str(tmp_path)], with_published=False)
    assert not board.skipped and [r["model"] for r in board.rows] == ["twin"]
    for task in ("request", "response", "completion"):
        f1 = [round(s["f1"], 2) for s in report["scores"] if s["task"] == task and s["mode"] == "official"]
        expected = round(sum(f1) / len(f1), 2) if f1 else None
        assert board.rows[0][task] == pytest.approx(expected) if f1 else board.rows[0][task] is None, task
