"""Campaigns: legs (one killed with SIGKILL) end with the uninterrupted run's params; bad states are one error."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from flax import serialization

from conftest import REPO, make_tiny_folder, tiny_config
from jaxsr.research.campaign import runner
from jaxsr.research.campaign.state import read_meta
from jaxsr.base.errors import JaxsrError

ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_tiny_folder(tmp_path_factory.mktemp("data") / "Tiny")


def slow_config(folder, **overrides):
    """Steps slow enough (depth 6, batch 32) for a leg to be killed in the middle; 4 steps per epoch."""
    return tiny_config(folder, **{"model.kwargs.depth": 6, "batch_size": 32, "data.patch_size": 16,
                                  "total_steps": 24, "steps_per_epoch": 4, "log_every_steps": 2,
                                  "checkpoint_every_steps": 1000, "eval.every_steps": 0,
                                  "eval.epochs": (1, 3), **overrides})


def stored(folder):
    data = serialization.msgpack_restore((folder / "state.msgpack").read_bytes())
    return data["params"], json.loads(data["meta"])


def campaign_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "jaxsr.campaign", *map(str, args)], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def test_legs_with_a_kill9_end_with_the_uninterrupted_params(folder, tmp_path):
    straight, legs = tmp_path / "straight", tmp_path / "legs"
    runner.run_leg(straight, config=slow_config(folder))
    first = runner.run_leg(legs, config=slow_config(folder), max_steps=5)
    assert (first["from_step"], first["to_step"], first["stopped"]) == (0, 5, "budget")
    # leg 2 saves after every step and is killed (no cleanup) once its state is past step 8
    proc = subprocess.Popen([sys.executable, "-m", "jaxsr.campaign", "run", str(legs), "--save_every_seconds",
                             "0.001"], cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while (read_meta(legs / "state.msgpack") or {}).get("step", 0) < 9:
        assert proc.poll() is None, f"leg ended before it was killed: {proc.stderr.read()}"
        assert time.time() < deadline, "timed out waiting for the state of step 9"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    killed_at = read_meta(legs / "state.msgpack")["step"]
    assert 9 <= killed_at < 24
    r = campaign_cli("run", legs, "--max_steps", 3)
    assert r.returncode == 0 and f"steps {killed_at} → {killed_at + 3}" in r.stdout, r.stderr
    last = runner.run_leg(legs)
    assert last["to_step"] == 24 and last["stopped"] == "finished"

    (p_straight, m_straight), (p_legs, m_legs) = stored(straight), stored(legs)
    assert m_legs["digests"] == m_straight["digests"] and m_legs["step"] == 24
    assert p_legs.keys() == p_straight.keys()
    for key in p_legs:
        np.testing.assert_array_equal(p_legs[key], p_straight[key])
    assert m_legs["stream"] == {"next_element": 24 * 32, "batch_size": 32}
    # the log is the uninterrupted run's: each step once, the evaluations at epochs 1 and 3 and the end
    rows = [json.loads(l) for l in (legs / "metrics.jsonl").read_text().splitlines()]
    val = [r["step"] for r in rows if "val/Tiny/x2/psnr" in r]
    assert val == [4, 12, 24]
    train_steps = [r["step"] for r in rows if "train/loss" in r]
    assert train_steps == sorted(set(train_steps)) and set(range(2, 25, 2)) <= set(train_steps)
    straight_val = [r for r in map(json.loads, (straight / "metrics.jsonl").read_text().splitlines())
                    if "val/Tiny/x2/psnr" in r]
    assert [r["val/Tiny/x2/psnr"] for r in rows if "val/Tiny/x2/psnr" in r] == \
        [r["val/Tiny/x2/psnr"] for r in straight_val]
    recorded = [json.loads(l) for l in (legs / "legs.jsonl").read_text().splitlines()]
    assert [l["leg"] for l in recorded] == [1, 2, 3, 4] and "ended" not in recorded[1]  # the killed leg
    text = runner.status(legs)
    assert "step 24 of 24 (100.0%), epoch 6.00 of 6" in text and "legs: 4" in text
    assert "epoch 1: Tiny/x2 " in text and "ETA" in text
    # shipping it: the learning curve and the params as a weights file that jaxsr.load takes
    r = campaign_cli("curve", legs, "--out", tmp_path / "curve.png")
    assert r.returncode == 0 and (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG", r.stderr
    r = campaign_cli("export", legs, "--out", tmp_path / "w.msgpack")
    assert r.returncode == 0 and r.stdout.strip() == f"wrote {tmp_path / 'w.msgpack'}", r.stderr
    r = campaign_cli("export", legs, "--out", tmp_path / "w.msgpack")
    assert r.returncode == 1 and "exists (pass --overwrite" in r.stderr
    import jaxsr
    from flax.traverse_util import flatten_dict

    _, params = jaxsr.load("vdsr", weights=str(tmp_path / "w.msgpack"), scale=2)
    flat = {"".join(f"['{part}']" for part in k): v for k, v in flatten_dict(params).items()}
    assert flat.keys() == p_legs.keys()
    for key in flat:
        np.testing.assert_array_equal(np.asarray(flat[key]), p_legs[key])


@pytest.fixture(scope="module")
def started(folder, tmp_path_factory):
    """A campaign trained for 3 steps (state and log), copied fresh by ``campaign``."""
    base = tmp_path_factory.mktemp("camp") / "c"
    runner.run_leg(base, config=tiny_config(folder, total_steps=10, **{"eval.every_steps": 0}), max_steps=3)
    return base


@pytest.fixture
def campaign(started, tmp_path):
    import shutil

    shutil.copytree(started, tmp_path / "c", ignore=shutil.ignore_patterns("cache", "tensorboard"))
    return tmp_path / "c"


@pytest.mark.parametrize("damage,needle", [
    (lambda b: b[: len(b) // 2], "damaged campaign state (unreadable"),
    (lambda b: b[:-40] + bytes(x ^ 0xFF for x in b[-40:-30]) + b[-30:], "damaged campaign state"),
    (lambda b: b"", "damaged campaign state"),
])
def test_a_damaged_state_is_one_error_line_and_nothing_is_written(campaign, damage, needle):
    state = campaign / "state.msgpack"
    state.write_bytes(damage(state.read_bytes()))
    before = {p.name: p.read_bytes() for p in campaign.iterdir() if p.is_file()}
    r = campaign_cli("run", campaign, "--max_steps", 1)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(state) in lines[0], r.stderr
    assert needle in lines[0]
    assert {p.name: p.read_bytes() for p in campaign.iterdir() if p.is_file()} == before


def test_a_missing_state_with_a_trained_log_is_refused(campaign):
    (campaign / "state.msgpack").unlink()
    with pytest.raises(JaxsrError, match="missing, but the campaign's log has trained steps"):
        runner.run_leg(campaign, max_steps=1)


def test_another_environment_is_refused_unless_accepted(campaign):
    record = json.loads((campaign / "campaign.json").read_text())
    record["environment"]["jaxlib"] = "0.0.1"
    (campaign / "campaign.json").write_text(json.dumps(record))
    with pytest.raises(JaxsrError, match=r"environment differs from the campaign's \(jaxlib '0.0.1' → "):
        runner.run_leg(campaign, max_steps=1)
    leg = runner.run_leg(campaign, max_steps=1, accept_environment=True)
    assert leg["to_step"] == 4 and leg["environment_changes"][0].startswith("jaxlib '0.0.1'")


def test_a_changed_config_or_data_is_refused(campaign, folder, tmp_path):
    with pytest.raises(JaxsrError, match="--config differs from the campaign's stored config"):
        runner.run_leg(campaign, config=tiny_config(folder, total_steps=10, **{"optim.learning_rate": 0.01}))
    record = json.loads((campaign / "campaign.json").read_text())
    record["data_sha256"] = "0" * 64
    (campaign / "campaign.json").write_text(json.dumps(record))
    with pytest.raises(JaxsrError, match="images differ from the campaign's"):
        runner.run_leg(campaign, max_steps=1)


def test_a_state_of_another_config_is_refused(campaign):
    record = json.loads((campaign / "campaign.json").read_text())
    record["config"]["seed"] = 7  # the state's config digest no longer matches campaign.json
    (campaign / "campaign.json").write_text(json.dumps(record))
    with pytest.raises(JaxsrError, match="trained with another config than this campaign's"):
        runner.run_leg(campaign, max_steps=1)


def test_status_and_usage_errors(campaign, tmp_path):
    r = campaign_cli("status", campaign)
    assert r.returncode == 0 and "step 3 of 10 (30.0%)" in r.stdout and "legs: 1" in r.stdout, r.stderr
    r = campaign_cli("run", tmp_path / "none")
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "no campaign.json" in r.stderr
    r = campaign_cli("run", campaign, "--max_seconds", -1)
    assert r.returncode == 2 and r.stderr.strip().startswith("error: --max_seconds")


def test_a_campaign_outlives_fields_added_to_the_schema(campaign):
    """A campaign begun before a schema field existed continues, the field at its default."""
    record = json.loads((campaign / "campaign.json").read_text())
    del record["config"]["eval"]["final_datasets"], record["config"]["eval"]["epochs"]
    (campaign / "campaign.json").write_text(json.dumps(record))
    _, config = runner._open(campaign)
    assert config.eval.final_datasets == "" and tuple(config.eval.epochs) == ()


def test_a_campaign_begun_before_a_schema_field_existed_runs_its_legs(folder, tmp_path):
    """A campaign whose campaign.json predates schema fields (``imports``, ``eval.final_datasets``,
    ``eval.epochs``) trains its legs, with and without --config, to the params of one begun after them."""
    config = tiny_config(folder, total_steps=4, **{"eval.every_steps": 0})
    old, new = tmp_path / "old", tmp_path / "new"
    runner.create(old, config)
    record = json.loads((old / "campaign.json").read_text())
    del record["config"]["imports"], record["config"]["eval"]["final_datasets"], record["config"]["eval"]["epochs"]
    (old / "campaign.json").write_text(json.dumps(record))
    assert runner.run_leg(old, max_steps=2)["to_step"] == 2
    assert runner.run_leg(old, config=config)["to_step"] == 4  # the recipe's new fields at their defaults
    runner.run_leg(new, config=config)
    assert stored(old)[1]["digests"] == stored(new)[1]["digests"]
    assert json.loads((old / "campaign.json").read_text()) == record  # the record is never rewritten
