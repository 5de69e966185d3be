import requests

BASE_URL = "http://localhost:8000"
TOKEN = "your_token_here"
headers = {"Authorization": f"Token {TOKEN}"}

# Train model
response = requests.post(
    f"{BASE_URL}/api/training/train/",
    headers=headers,
    json={"hyperparameters": {"n_estimators": 100}, "model_version": "v1.0", "notes": "First production model"},
)
data = response.json()
run_id = data["training_run_id"]
print(f"Training Run ID: {run_id}")
print(f"Accuracy: {data['metrics']['accuracy']:.2%}")

# List all runs
response = requests.get(
    f"{BASE_URL}/api/training/runs/", headers=headers, params={"status": "COMPLETED", "page_size": 10}
)
runs = response.json()["results"]
for run in runs:
    print(f"{run['model_version']}: {run['accuracy']:.2%}")

# Get run details
response = requests.get(f"{BASE_URL}/api/training/runs/{run_id}/", headers=headers)
details = response.json()
print(f"Hyperparameters: {details['hyperparameters']}")
