#!/usr/bin/env bash
# Runs the whole service locally: Redis, the local model endpoint, the RQ worker and the API.
# Started by `make run`; Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
export IMAGEGEN_DATA_DIR="${IMAGEGEN_DATA_DIR:-$PWD/var}"
export IMAGEGEN_REDIS_URL="${IMAGEGEN_REDIS_URL:-redis://127.0.0.1:6379/0}"
# Webhooks to a receiver on this machine's port 9000 (one you run while developing) are
# allowed here only: every other loopback port, Redis's and the model endpoint's included,
# and every loopback address elsewhere is refused.
export IMAGEGEN_WEBHOOK_ALLOWED_HOSTS="${IMAGEGEN_WEBHOOK_ALLOWED_HOSTS-127.0.0.1:9000,localhost:9000}"
mkdir -p "$IMAGEGEN_DATA_DIR"

# The API and the worker stop first and are waited for, while Redis and the model endpoint
# still answer them; only then do those two stop. Both are started in sessions of their own
# (setsid), so a Ctrl-C from the terminal reaches the API and the worker but not them.
app_pids=()
infra_pids=()
stop() {
  for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}
cleanup() {
  trap - EXIT INT TERM
  echo "stopping"
  stop "${app_pids[@]}"
  stop "${infra_pids[@]}"
}
trap cleanup EXIT INT TERM

redis_port=$($PY -c "from urllib.parse import urlsplit; import os; print(urlsplit(os.environ['IMAGEGEN_REDIS_URL']).port or 6379)")
if ! redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
  echo "starting redis-server on port $redis_port"
  setsid redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$IMAGEGEN_DATA_DIR" \
    --save "" --appendonly yes --maxmemory-policy noeviction >"$IMAGEGEN_DATA_DIR/redis.log" 2>&1 &
  infra_pids+=($!)
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

if [ -z "${AWS_ENDPOINT_URL_BEDROCK_RUNTIME:-}" ]; then
  port="${LOCALBEDROCK_PORT:-8010}"
  echo "starting the local model endpoint on port $port (set AWS_ENDPOINT_URL_BEDROCK_RUNTIME to use Bedrock)"
  export LOCALBEDROCK_LATENCY_MS="${LOCALBEDROCK_LATENCY_MS:-300}"
  setsid $PY -m localbedrock --host 127.0.0.1 --port "$port" &
  infra_pids+=($!)
  export AWS_ENDPOINT_URL_BEDROCK_RUNTIME="http://127.0.0.1:$port"
  # It is the control plane too: the models' lifecycles are asked of it (README, "Model lifecycle").
  export AWS_ENDPOINT_URL_BEDROCK="${AWS_ENDPOINT_URL_BEDROCK:-http://127.0.0.1:$port}"
  # The local endpoint ignores credentials, but boto3 refuses to sign without some.
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
  # The local endpoint serves every model, retired ones too, as an account that kept access
  # to them would: declare that, so every model (and the README's examples) can be tried.
  IMAGEGEN_MODEL_LIFECYCLE="${IMAGEGEN_MODEL_LIFECYCLE-$($PY -c 'from localrun import EVERY_MODEL_ACTIVE; print(EVERY_MODEL_ACTIVE)')}"
  export IMAGEGEN_MODEL_LIFECYCLE
fi

$PY -m imagegen.cli bootstrap-key
$PY -m worker &
app_pids+=($!)
echo "serving the API at http://${IMAGEGEN_BIND:-127.0.0.1:8000} (docs at /docs)"
.venv/bin/gunicorn -c gunicorn.conf.py app.wsgi:app &
app_pids+=($!)
wait -n
