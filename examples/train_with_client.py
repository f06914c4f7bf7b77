"""Train from Python through the running app's API (gradio_client).

    .venv/bin/python app.py &                       # the app, on http://127.0.0.1:7860
    .venv/bin/python examples/train_with_client.py  # [URL] [dataset file]

Every action of the Finetune tab is an endpoint (see "Use via API" at the foot of the page):
/train, /follow, /stop, /runs, /run, /validate_dataset, /upload_dataset.
"""

import sys

from gradio_client import Client, handle_file

url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7860/"
dataset_file = sys.argv[2] if len(sys.argv) > 2 else None
client = Client(url)  # with --auth: Client(url, auth=("user", "password"))

# 1. check the data first (a sample, or your own file): problems come back with line numbers
check = client.predict("sample:pirate_persona", "", handle_file(dataset_file) if dataset_file else None,
                       api_name="/validate_dataset")
if not check["ok"]:
    sys.exit(check["error"] + "\n" + "\n".join(f"line {p['line']}: {p['message']}" for p in check["problems"]))
print(f"{check['rows']} rows of {check['task']} data")

# 2. train: the config is a RunConfig (the keys of config.yaml); progress streams back
config = {"model_name": "HuggingFaceTB/SmolLM2-135M-Instruct", "dataset": "sample:pirate_persona",
          "max_steps": 30, "learning_rate": 2e-4, "lora_r": 16, "run_name": "from-python"}
job = client.submit(config, handle_file(dataset_file) if dataset_file else None, api_name="/train")
shown = None
for update in job:  # stop it from elsewhere with client.predict(run_id, api_name="/stop")
    line = (f"step {update['step']}/{update['max_steps']}  loss {update['loss']}  eval loss {update['eval_loss']}  "
            f"ETA {update['eta']} s" if update["step"] else update["message"])
    if line != shown:
        print(f"{update['status']:>9}  {line}")
        shown = line
final = job.outputs()[-1]
print("run", final["run_id"], final["status"], final["error"] or final["output_dir"])

# 3. the run's record, metrics history and config
run = client.predict(final["run_id"], api_name="/run")
print("final metrics:", {k: round(v, 4) for k, v in run["metrics"].items() if k in ("loss", "eval_loss")})
