"""Issue 22, item 7: a bar per benchmark with its total and an ETA line; plots that leave the notebook's matplotlib
backend alone; ``train_limit`` as a seeded sample over each file, said in the data report; the held-out check's
sample (``holdout_check_limit``); and the heartbeat lines of long subprocesses."""
import json
import subprocess
import sys
import textwrap

import pytest

from gr_colab.config import SAMPLE_TRAIN, GRConfig
from gr_colab.data import load_train_files, read_records
from gr_colab.generate import GenerationSettings, read_jsonl, run_predictions
from gr_colab.progress import Eta, clock, heartbeat, run_with_progress
from gr_colab.runtime import REPO_ROOT


def test_one_bar_per_file_with_its_total_and_an_eta_line(twin, tmp_path, capsys):
    items = [{"id": i, "input": f"Human user:\nq{i}\n\nAI assistant:\nNone\n\n", "label": "harmful"} for i in range(5)]
    path = tmp_path / "ToxicChat-request" / "generated_predictions.jsonl"
    settings = GenerationSettings(max_new_tokens=3, batch_size=2)
    run_predictions(twin, items[:2], path, settings, chunk=2)
    run_predictions(twin, items, path, settings, chunk=2)  # a restart: the bar starts at 2 of 5
    captured = capsys.readouterr()
    bars = captured.err.replace("\r", "\n")
    assert "ToxicChat-request:" in bars and "5/5" in bars and "2/5" in bars  # named, whole total, from the restart
    assert "0/5" not in bars  # one bar for the file, not one per chunk starting at 0
    assert "ToxicChat-request: 2/3 in" in captured.out and "to go" in captured.out  # the ETA after the first chunk


def test_the_eta_line_comes_after_the_first_measured_items():
    lines = []

    class Out:
        def write(self, text):
            lines.append(text)

        def flush(self):
            pass

    eta = Eta("eval", total=10, after=2, every=1e9, out=Out())
    assert eta.update(1) is None  # not measured enough yet
    line = eta.update(1)
    assert line and "eval: 2/10 in" in line and "to go" in line and "s an item" in line
    assert eta.update(3) is None  # once, then at most every `every` seconds
    assert clock(95) == "1m35s" and clock(3700) == "1h01m" and clock(7) == "7s"


def test_heartbeat_and_a_silent_subprocess_still_print_progress(tmp_path, capsys):
    with heartbeat("waiting", every=0.05):
        import time

        time.sleep(0.2)
    out = capsys.readouterr().out
    assert "waiting: 0s elapsed" in out and "waiting: done after" in out
    code, text = run_with_progress([sys.executable, "-c", "import time\nfor i in range(1, 5):\n"
                                    "    print(f'[{i}/4] step', flush=True); time.sleep(0.1)"],
                                   "building", every=0.05, log=tmp_path / "log")
    out = capsys.readouterr().out
    assert code == 0 and "[4/4] step" in text and (tmp_path / "log").read_text().count("step") == 4
    assert "building:" in out and "step " in out and "to go" in out
    with pytest.raises(TimeoutError, match="did not finish"):
        run_with_progress([sys.executable, "-c", "import time; time.sleep(30)"], "stuck", every=5, timeout=0.5)


def test_plots_leave_the_notebooks_backend_alone(tmp_path):
    """A notebook's own backend (here 'pdf', in a fresh interpreter) and pyplot state survive every kit plot."""
    code = textwrap.dedent(f"""
        import sys, matplotlib
        matplotlib.use("pdf")
        from pathlib import Path
        from gr_colab.evaluate import Report, plot_compare, plot_report
        from gr_colab.metrics import Score
        from gr_colab.training import save_curves
        from gr_colab.redteam.report import plot_metrics
        out = Path({str(tmp_path)!r})
        score = Score(task="request", mode="corrected", f1=50.0, rows=4, scored=4, parsed=4, parse_failures=0,
                      dropped=0, tp=1, fp=1, fn=1, tn=1, name="B")
        made = plot_report(Report([score]), out)
        made.append(plot_compare([{{"task": "request", "benchmark": "weighted average", "before": 1, "after": 2}}],
                                 out / "c.png"))
        made.append(save_curves([{{"step": 1, "loss": 2.0}}, {{"step": 2, "loss": 1.0}}], out / "t", "t")[1])
        made.append(plot_metrics([{{"iteration": 1, "failure_rate": 0.5}}], {{}}, out / "r.png"))
        assert all(p.read_bytes()[:4] == b"\\x89PNG" for p in made), made
        print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["pdf", "False"]  # the backend kept, pyplot never imported


def test_train_limit_is_a_seeded_sample_of_each_file_said_in_the_report():
    first = load_train_files(SAMPLE_TRAIN, limit=5, seed=0, root=REPO_ROOT)
    again = load_train_files(SAMPLE_TRAIN, limit=5, seed=0, root=REPO_ROOT)
    other = load_train_files(SAMPLE_TRAIN, limit=5, seed=1, root=REPO_ROOT)
    head = load_train_files(SAMPLE_TRAIN, limit=5, root=REPO_ROOT)  # no seed: the first rows, as before
    assert len(first.rows) == 20 and [r["input"] for r in first.rows] == [r["input"] for r in again.rows]
    assert [r["input"] for r in first.rows] != [r["input"] for r in other.rows]
    assert [r["input"] for r in first.rows] != [r["input"] for r in head.rows]
    wild = read_records(REPO_ROOT / SAMPLE_TRAIN[0])
    positions = [next(i for i, rec in enumerate(wild) if rec["input"] == r["input"]) for r in first.rows[:5]]
    assert positions == sorted(positions) and positions[-1] > 5  # spread over the file, kept in file order
    assert f"a seeded sample of 5 of {len(wild)} rows, seed 0" in first.report()


def test_a_seeded_sample_still_takes_limit_good_rows_and_counts_the_bad(tmp_path):
    good = read_records(REPO_ROOT / SAMPLE_TRAIN[1])[:12]
    rows = good[:6] + [{"instruction": "x", "input": "Human user:\nq\n\nAI assistant:\nNone\n\n"}] * 6 + good[6:]
    path = tmp_path / "AegisTrainR.json"
    path.write_text(json.dumps(rows))
    loaded = load_train_files([str(path)], limit=10, seed=3, skip_bad=True)
    assert len(loaded.rows) == 10 and loaded.skipped and all(f == "output" for _, f, _ in loaded.skipped)
    assert "skipped" in loaded.report()


def test_the_data_summary_says_the_training_rows_were_sampled(tmp_path):
    from gr_colab.rsft import training_rows

    config = GRConfig.load("cpu-tiny", run_dir=str(tmp_path), train_limit=7)
    train, held, report = training_rows(config, root=REPO_ROOT)
    assert len(train) + len(held) == 28
    assert report.count("a seeded sample of 7 of") == 4 and "seed 0" in report


def test_the_held_out_check_generates_for_a_seeded_sample(twin, twin_config, tmp_path):
    from gr_colab.evaluate import holdout_check

    rows = [{"input": f"Human user:\nq{i}\n\nAI assistant:\nNone\n\n",
             "output": "# Answers\nRequest: harmful\nCompletion: None\nResponse: None"} for i in range(9)]
    cfg = twin_config.replace(run_dir=str(tmp_path), holdout_check_limit=4, max_new_tokens=3)
    base = holdout_check(cfg, twin, rows, "base", progress=False)
    other = holdout_check(cfg, twin, rows, "other", progress=False)
    assert base["items"] == other["items"] == 4
    ids = lambda name: [r["id"] for r in read_jsonl(tmp_path / "eval" / name / "holdout" /  # noqa: E731
                                                    "generated_predictions.jsonl")]
    assert ids("base") == ids("other") and ids("base") != [0, 1, 2, 3]  # the same seeded rows for each variant
    everything = holdout_check(cfg.replace(holdout_check_limit=None), twin, rows, "all", progress=False)
    assert everything["items"] == 9
