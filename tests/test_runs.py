import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

from forge.runs import RunStore


def test_create_update_list_get(tmp_path):
    s = RunStore(tmp_path / "db.json")
    a = s.create_run({"name": "a", "config": {"x": 1}})
    b = s.create_run({"name": "b"})
    assert a["status"] == "queued" and a["id"] != b["id"]
    s.update_run(a["id"], status="completed", metrics={"loss": 1.5})
    assert s.get_run(a["id"])["metrics"] == {"loss": 1.5}
    assert {r["name"] for r in s.list_runs()} == {"a", "b"}
    assert [r["name"] for r in s.list_runs("completed")] == ["a"]
    s.delete_run(b["id"])
    assert s.get_run(b["id"]) is None


def test_models_table(tmp_path):
    s = RunStore(tmp_path / "db.json")
    m = s.add_model({"name": "m", "path": "/x", "kind": "adapter"})
    s.update_model(m["id"], name="renamed")
    assert s.get_model(m["id"])["name"] == "renamed"
    assert len(s.list_models()) == 1
    s.delete_model(m["id"])
    assert s.list_models() == []


def test_db_path_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELFORGE_DB_PATH", str(tmp_path / "elsewhere.json"))
    from forge.runs import get_store

    get_store().create_run({"name": "env"})
    assert json.loads((tmp_path / "elsewhere.json").read_text())["runs"]


def test_concurrent_writers_lose_nothing(tmp_path):
    s = RunStore(tmp_path / "db.json")

    def write(n):
        for i in range(15):
            s.create_run({"name": f"{n}-{i}"})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(s.list_runs()) == 60


WRITER = textwrap.dedent("""
    import sys
    from forge.runs import RunStore
    s = RunStore(sys.argv[1])
    big = "x" * 20000
    print("ready", flush=True)
    i = 0
    while True:
        r = s.create_run({"name": f"r{i}", "blob": big})
        s.update_run(r["id"], status="running")
        i += 1
""")


def test_killed_writer_leaves_readable_db(tmp_path):
    """Kill a process at random moments while it writes: the database always reads back."""
    db = tmp_path / "db.json"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    for delay in (0.3, 0.45, 0.6, 0.75):
        p = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, env=env)
        assert p.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        data = json.loads(db.read_text())  # never half-written
        assert data["runs"]
        n = len(RunStore(db).list_runs())
        assert n >= 1
    leftovers = [f for f in tmp_path.iterdir() if f.name.endswith(".tmp")]
    # a killed writer may leave its temporary file, never a broken database
    assert all(f.name.startswith(".db.json") for f in leftovers)
